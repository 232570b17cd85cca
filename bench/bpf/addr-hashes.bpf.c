// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Candidate 1: one exact-match hash probe per distinct prefix length of the
 * set, longest first (Waldvogel's "one hash per length", without the binary
 * search): key = length << 32 | masked address, all lengths in one map.
 */
#include "addr.h"

#define MAX_LENGTHS 33

const volatile __u32 cfg_nlengths = 0;
const volatile __u32 cfg_lengths[MAX_LENGTHS] = {}; /* longest first */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} bench_prefixes SEC(".maps");

SEC("xdp")
int addr_hashes(struct xdp_md *ctx)
{
	__u32 addr = ipv4_source(ctx);
	int i;

	for (i = 0; i < MAX_LENGTHS; i++) {
		__u32 len, mask;
		__u64 key;
		__u32 *cls;

		if (i >= cfg_nlengths)
			break;
		len = cfg_lengths[i];
		mask = len ? ~0u << (32 - len) : 0;
		key = (__u64)len << 32 | (addr & mask);
		cls = bpf_map_lookup_elem(&bench_prefixes, &key);
		if (cls)
			return count_hit(*cls);
	}
	return count_hit(0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
