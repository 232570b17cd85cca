/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The maps, by the names the loader finds them by (xdpfw.h); their
 * max_entries are defaults, the loader sizes them per policy.
 */
#ifndef XDPFW_LIB_MAPS_H
#define XDPFW_LIB_MAPS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../xdpfw.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_vector);
} xdpfw_vectors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPFW_PROTO_CLS_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} xdpfw_proto_cls SEC(".maps");

#define XDPFW_LPM_TRIE(name, key_type)                  \
	struct {                                        \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);    \
		__uint(max_entries, 1);                 \
		__uint(map_flags, BPF_F_NO_PREALLOC);   \
		__type(key, key_type);                  \
		__type(value, __u32);                   \
	} name SEC(".maps")

XDPFW_LPM_TRIE(xdpfw_src4, struct xdpfw_lpm4_key);
XDPFW_LPM_TRIE(xdpfw_src6, struct xdpfw_lpm6_key);
XDPFW_LPM_TRIE(xdpfw_dst4, struct xdpfw_lpm4_key);
XDPFW_LPM_TRIE(xdpfw_dst6, struct xdpfw_lpm6_key);

/* Address tables (xdpfw.h); a slot in trie mode leaves them at one entry. */
#define XDPFW_ROWS(name, value_type, entries)            \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_ARRAY);        \
		__uint(max_entries, entries);            \
		__type(key, __u32);                      \
		__type(value, value_type);               \
	} name SEC(".maps")
#define XDPFW_PREFIX_HASH(name, key_type)                \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_HASH);         \
		__uint(max_entries, 1);                  \
		__type(key, key_type);                   \
		__type(value, __u32);                    \
	} name SEC(".maps")
#define XDPFW_BUCKET_ROWS ((1 << XDPFW_BUCKET_BITS) / (64 * XDPFW_BUCKET_ROW_WORDS))
#define XDPFW_ADDR_TABLE_MAPS(slot, family)                                                    \
	XDPFW_ROWS(xdpfw_##slot##_l16, struct xdpfw_class_row, XDPFW_L16_ENTRIES / XDPFW_CLASS_ROW); \
	XDPFW_ROWS(xdpfw_##slot##_bkt, struct xdpfw_bucket_row, XDPFW_BUCKET_ROWS);          \
	XDPFW_ROWS(xdpfw_##slot##_rank, struct xdpfw_class_row, XDPFW_RANK_ROWS);           \
	XDPFW_ROWS(xdpfw_##slot##_rec, struct xdpfw_bucket##family##_row, 1);               \
	XDPFW_ROWS(xdpfw_##slot##_quick, struct xdpfw_quick_row, 1);                        \
	XDPFW_PREFIX_HASH(xdpfw_##slot##_hash, struct xdpfw_lpm##family##_key)

XDPFW_ADDR_TABLE_MAPS(src4, 4);
XDPFW_ADDR_TABLE_MAPS(src6, 6);
XDPFW_ADDR_TABLE_MAPS(dst4, 4);
XDPFW_ADDR_TABLE_MAPS(dst6, 6);

#define XDPFW_CLASS_TABLE(name, entries)                \
	struct {                                        \
		__uint(type, BPF_MAP_TYPE_ARRAY);       \
		__uint(max_entries, entries);           \
		__type(key, __u32);                     \
		__type(value, __u32);                   \
	} name SEC(".maps")

XDPFW_CLASS_TABLE(xdpfw_sport_cls, XDPFW_PORT_CLS_ENTRIES);
XDPFW_CLASS_TABLE(xdpfw_dport_cls, XDPFW_PORT_CLS_ENTRIES);
XDPFW_CLASS_TABLE(xdpfw_tcpflags_cls, XDPFW_TCPFLAGS_CLS_ENTRIES);
XDPFW_CLASS_TABLE(xdpfw_icmptype_cls, XDPFW_ICMPTYPE_CLS_ENTRIES);
XDPFW_CLASS_TABLE(xdpfw_ctstate_cls, XDPFW_CTSTATE_CLS_ENTRIES);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xdpfw_actions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_counter);
} xdpfw_rule_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPFW_NCOUNTERS);
	__type(key, __u32);
	__type(value, struct xdpfw_counter);
} xdpfw_counters SEC(".maps");

#include "ct_maps.h"
#include "limit_maps.h"
#include "trace_maps.h"

/* Counts one packet of `bytes` in counter `index` of a struct xdpfw_counter map. */
static __always_inline void count(void *map, __u32 index, __u64 bytes)
{
	struct xdpfw_counter *c = bpf_map_lookup_elem(map, &index);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

#endif /* XDPFW_LIB_MAPS_H */
