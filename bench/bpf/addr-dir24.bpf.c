// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Candidate 2: DIR-24-8 (Gupta, Lin & McKeown), packed for BPF: a direct-
 * indexed table of 2^24 16-bit classes, one per /24, in 64-byte array
 * elements of 32 slots (32 MiB; a BPF array rounds every element up to 8
 * bytes, so one slot per element would take 128 MiB). A slot with
 * DIR24_LONGER set has prefixes longer than /24 below it: those are probed
 * in a hash, one probe per length longer than 24, longest first, and the
 * slot's own class (its covering prefix's) applies when none holds.
 */
#include "addr.h"

#define DIR24_SLOTS 32
#define DIR24_LONGER 0x8000
#define MAX_LONG_LENGTHS 8

const volatile __u32 cfg_nlong = 0;
const volatile __u32 cfg_long_lengths[MAX_LONG_LENGTHS] = {}; /* 32, 28, …: longest first */

struct dir24_block {
	__u16 cls[DIR24_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 19);
	__type(key, __u32);
	__type(value, struct dir24_block);
} bench_dir24 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u64);
	__type(value, __u32);
} bench_long SEC(".maps");

SEC("xdp")
int addr_dir24(struct xdp_md *ctx)
{
	__u32 addr = ipv4_source(ctx);
	__u32 block = addr >> 13, slot = (addr >> 8) & (DIR24_SLOTS - 1);
	struct dir24_block *b = bpf_map_lookup_elem(&bench_dir24, &block);
	__u16 cls;
	int i;

	if (!b)
		return count_hit(0);
	cls = b->cls[slot];
	if (!(cls & DIR24_LONGER))
		return count_hit(cls);
	for (i = 0; i < MAX_LONG_LENGTHS; i++) {
		__u32 len, *found;
		__u64 key;

		if (i >= cfg_nlong)
			break;
		len = cfg_long_lengths[i];
		key = (__u64)len << 32 | (addr & (~0u << (32 - len)));
		found = bpf_map_lookup_elem(&bench_long, &key);
		if (found)
			return count_hit(*found);
	}
	return count_hit(cls & ~DIR24_LONGER);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
