/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The maps of rules' stateful tails (xdpfw.h), apart from the others so
 * that the loader's test stand-in declares the very same.
 */
#ifndef XDPFW_LIB_LIMIT_MAPS_H
#define XDPFW_LIB_LIMIT_MAPS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../xdpfw.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_tail);
} xdpfw_tails SEC(".maps");

/*
 * The host's token buckets: the loader reuses the pinned table
 * (limits/<netns-id>/buckets) when a rule has a limit, and leaves this
 * one-entry stand-in otherwise, which cfg_tails keeps unread.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, struct xdpfw_meter_key);
	__type(value, struct xdpfw_meter);
} xdpfw_meters SEC(".maps");

/*
 * The dynamic sets the rules name, by index. A trie of any max_entries
 * takes a slot (the kernel compares an LPM inner map's type, sizes and
 * flags, not its max_entries; BPF_F_INNER_MAP is for arrays, and an LPM
 * trie refuses it), so each set is sized by its own declaration.
 */
struct xdpfw_dynset_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	/* Sizes, not types: clang emits an inner map's key type as a forward declaration only. */
	__uint(key_size, sizeof(struct xdpfw_dynset_key));
	__uint(value_size, sizeof(struct xdpfw_dynset_entry));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, XDPFW_MAX_DYNSETS);
	__type(key, __u32);
	__array(values, struct xdpfw_dynset_trie);
} xdpfw_dynsets SEC(".maps");

/* Each set's single addresses: a hash's max_entries is not compared either. */
struct xdpfw_dynset_hash {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct xdpfw_dynset_key));
	__uint(value_size, sizeof(struct xdpfw_dynset_entry));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, XDPFW_MAX_DYNSETS);
	__type(key, __u32);
	__array(values, struct xdpfw_dynset_hash);
} xdpfw_dynset_hosts SEC(".maps");

/* Per rule: the packets its limit found over the rate. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xdpfw_limit_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPFW_MAX_DYNSETS * XDPFW_SETS_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} xdpfw_set_stats SEC(".maps");

/*
 * The keys and values a tail check builds, per CPU: on the stack they
 * pushed the tail walk's frame, with the program's own, past the 512
 * bytes a call chain may use. A map value serves as a helper's key alike.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_tail_scratch);
} xdpfw_tail_scratch SEC(".maps");

/* "Now" for a program loaded with cfg_now_given: the tests drive the clock. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} xdpfw_now_given SEC(".maps");

#endif /* XDPFW_LIB_LIMIT_MAPS_H */
