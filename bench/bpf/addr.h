/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared by the candidate address structures (addr-*.bpf.c): each reads the
 * IPv4 source address, finds whether a set holds it with its own structure,
 * counts hit or miss in bench_hits[1] / [0], and drops. bench/kernel.ts
 * times them on the same 1M-entry set, hot and rotated.
 */
#ifndef XDPFW_BENCH_ADDR_H
#define XDPFW_BENCH_ADDR_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bench_hits SEC(".maps");

static __always_inline int count_hit(__u32 found)
{
	__u32 slot = found ? 1 : 0;
	__u64 *n = bpf_map_lookup_elem(&bench_hits, &slot);

	if (n)
		(*n)++;
	return XDP_DROP;
}

/* The IPv4 source address in host order, or 0 for a frame that is not IPv4. */
static __always_inline __u32 ipv4_source(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	return bpf_ntohl(ip->saddr);
}

#endif
