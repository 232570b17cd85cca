/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The connection-tracking maps (xdpfw.h), apart from the per-interface ones
 * so that the loader's test stand-in declares the very same.
 */
#ifndef XDPFW_LIB_CT_MAPS_H
#define XDPFW_LIB_CT_MAPS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../xdpfw.h"

/*
 * Connection tracking, shared by the namespace's interfaces: the loader
 * reuses the pinned tables (conntrack/) when the policy uses ct, and leaves
 * these one-entry stand-ins otherwise, which cfg_ct keeps unread.
 */
#define XDPFW_CT_TABLE(name, key_type, value_type)       \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_LRU_HASH);     \
		__uint(max_entries, 1);                  \
		__type(key, key_type);                   \
		__type(value, value_type);               \
	} name SEC(".maps")

XDPFW_CT_TABLE(xdpfw_ct_tcp, struct xdpfw_ct_key, struct xdpfw_ct_entry);
XDPFW_CT_TABLE(xdpfw_ct_udp, struct xdpfw_ct_key, struct xdpfw_ct_entry);
XDPFW_CT_TABLE(xdpfw_ct_icmp, struct xdpfw_ct_key, struct xdpfw_ct_entry);
XDPFW_CT_TABLE(xdpfw_ct_frag, struct xdpfw_ct_frag_key, struct xdpfw_ct_frag);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_ct_config);
} xdpfw_ct_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPFW_CTS_NSTATS);
	__type(key, __u32);
	__type(value, __u64);
} xdpfw_ct_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_ct_flood_window);
} xdpfw_ct_flood SEC(".maps");

/*
 * The state `xdpfw test` gives a packet (cfg_ct_given): a policy's ct rules
 * judged in the kernel with no connection behind the packet.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xdpfw_ct_given SEC(".maps");

#endif /* XDPFW_LIB_CT_MAPS_H */
