// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Candidate 0 (what xdpfw does now): one lookup in the kernel's LPM trie. */
#include "addr.h"

struct lpm4_key {
	__u32 prefixlen;
	__u32 addr; /* network order */
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm4_key);
	__type(value, __u32);
} bench_trie SEC(".maps");

SEC("xdp")
int addr_trie(struct xdp_md *ctx)
{
	struct lpm4_key key = { .prefixlen = 32, .addr = bpf_htonl(ipv4_source(ctx)) };
	__u32 *cls = bpf_map_lookup_elem(&bench_trie, &key);

	return count_hit(cls && *cls);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
