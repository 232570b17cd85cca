/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bit tricks the BPF instruction set lacks an instruction for. */
#ifndef XDPFW_LIB_BITS_H
#define XDPFW_LIB_BITS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* ctz of a nonzero word: de Bruijn multiplication, the isolated bit picks the slot. */
static const __u8 debruijn_ctz64[64] = {
	0,  1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6,
};

static __always_inline __u32 lowest_bit(__u64 word)
{
	return debruijn_ctz64[((word & -word) * 0x03f79d71b4cb0a89ULL) >> 58];
}

#endif /* XDPFW_LIB_BITS_H */
