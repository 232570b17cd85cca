// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor of connection tracking's cost: parse an untagged IPv4 TCP
 * frame, build the connection key as xdpfw does (struct xdpfw_ct_key, from
 * the host's side), look it up once in an LRU hash of the product's key and
 * value, then drop, counting hits. Whatever a tracked policy adds on top of
 * bare XDP_DROP beyond this program's cost is the product's own; this part
 * any design with one lookup per packet pays.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../../bpf/xdpfw.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1);
	__type(key, struct xdpfw_ct_key);
	__type(value, struct xdpfw_ct_entry);
} bench_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} bench_hits SEC(".maps");

SEC("xdp")
int bench_ct_lookup(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);
	struct xdpfw_ct_key k = {};
	__u32 slot;
	__u64 *hits;

	if ((void *)(tcp + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5 ||
	    ip->protocol != IPPROTO_TCP)
		return XDP_DROP;
	__builtin_memcpy(k.local, &ip->daddr, 4);
	__builtin_memcpy(k.remote, &ip->saddr, 4);
	k.lport = bpf_ntohs(tcp->dest);
	k.rport = bpf_ntohs(tcp->source);
	k.proto = IPPROTO_TCP;
	k.family = XDPFW_FAMILY_IPV4;
	slot = bpf_map_lookup_elem(&bench_ct, &k) ? 1 : 0;
	hits = bpf_map_lookup_elem(&bench_hits, &slot);
	if (hits)
		(*hits)++;
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
