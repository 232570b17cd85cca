// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Candidate 3: DIR-24-8 whose second level is one cache line per /24
 * instead of hash probes per length. The /24 table is candidate 2's; a slot
 * with DIR24_LONGER set has its longer prefixes (up to 7 a line, longest
 * first, more in further lines) in an open-addressed array of 64-byte lines
 * keyed by the /24, so a hit on a /32 costs two memory accesses, not one per
 * probed length.
 */
#include "addr.h"

#define DIR24_SLOTS 32
#define DIR24_LONGER 0x8000
#define LINE_ENTRIES 7
#define MAX_PROBES 16
#define LINE_VALID 0x80000000u

const volatile __u32 cfg_line_bits = 1;

struct dir24_block {
	__u16 cls[DIR24_SLOTS];
};

struct long_entry {
	__u32 addr;    /* host order, host bits zero */
	__u32 len_cls; /* prefix length << 16 | class */
};

struct long_line {
	__u32 key;     /* LINE_VALID | the /24 (addr >> 8); 0: empty */
	__u32 n;       /* entries used */
	struct long_entry e[LINE_ENTRIES];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 19);
	__type(key, __u32);
	__type(value, struct dir24_block);
} bench_dir24 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct long_line);
} bench_lines SEC(".maps");

SEC("xdp")
int addr_dir24x(struct xdp_md *ctx)
{
	__u32 addr = ipv4_source(ctx);
	__u32 block = addr >> 13, slot = (addr >> 8) & (DIR24_SLOTS - 1);
	struct dir24_block *b = bpf_map_lookup_elem(&bench_dir24, &block);
	__u32 key = LINE_VALID | (addr >> 8), h;
	__u16 cls;
	int p, i;

	if (!b)
		return count_hit(0);
	cls = b->cls[slot];
	if (!(cls & DIR24_LONGER))
		return count_hit(cls);
	h = (key * 2654435761u) >> (32 - cfg_line_bits);
	for (p = 0; p < MAX_PROBES; p++) {
		__u32 idx = (h + p) & ((1u << cfg_line_bits) - 1);
		struct long_line *line = bpf_map_lookup_elem(&bench_lines, &idx);

		if (!line || !line->key)
			break;
		if (line->key != key)
			continue;
		for (i = 0; i < LINE_ENTRIES; i++) {
			__u32 len, mask;

			if (i >= line->n)
				break;
			len = line->e[i].len_cls >> 16;
			mask = ~0u << (32 - len); /* len is 25..32: never a shift by 32 */
			if ((addr & mask) == line->e[i].addr)
				return count_hit(line->e[i].len_cls & 0xffff);
		}
		if (line->n < LINE_ENTRIES)
			break;
	}
	return count_hit(cls & ~DIR24_LONGER);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
