// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The spoofed-TCP generator: like txgen.bpf.c (XDP_TX from a live-frames
 * test run puts the frame on the sending veth), but each frame is first
 * made a SYN or an ACK at random and, with cfg_spread, given a random
 * source address in its /16 and a random source port, so the receiver
 * sees a flood of flows it has never seen (bench/lib/livegen.ts). The IP
 * and TCP checksums are updated for what changed: netfilter checks both.
 *
 * The frame: Ethernet, IPv4 without options, TCP without options.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* 1: a random source address (low 16 bits) and source port each frame */
const volatile __u32 cfg_spread = 0;

#define IP_CSUM 24
#define IP_SADDR 26
#define TCP_SPORT 34
#define TCP_FLAGS_WORD 46 /* data offset and flags */
#define TCP_CSUM 50
#define FRAME_MIN 54
#define TCP_SYN 0x02
#define TCP_ACK 0x10

/* RFC 1624: the checksum after one 16-bit word changed from `from` to `to` (all as stored). */
static __always_inline __u16 csum_replace(__u16 csum, __u16 from, __u16 to)
{
	__u32 s = (__u16)~csum + (__u16)~from + (__u32)to;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

static __always_inline void set_word(__u8 *data, int at, __u16 to, int in_ip)
{
	__u16 *w = (__u16 *)(data + at);
	__u16 *ip_csum = (__u16 *)(data + IP_CSUM);
	__u16 *tcp_csum = (__u16 *)(data + TCP_CSUM);
	__u16 from = *w;

	*w = to;
	if (in_ip)
		*ip_csum = csum_replace(*ip_csum, from, to);
	*tcp_csum = csum_replace(*tcp_csum, from, to); /* the address is in the pseudo-header too */
}

SEC("xdp")
int bench_txspoof(struct xdp_md *ctx)
{
	__u8 *data = (void *)(long)ctx->data;
	__u8 *end = (void *)(long)ctx->data_end;
	__u32 r = bpf_get_prandom_u32();
	__u16 flags_word;

	if (data + FRAME_MIN > end)
		return XDP_ABORTED;
	flags_word = *(__u16 *)(data + TCP_FLAGS_WORD);
	/* stored big-endian: the flags are the word's second byte */
	((__u8 *)&flags_word)[1] = (r & 1) ? TCP_SYN : TCP_ACK;
	set_word(data, TCP_FLAGS_WORD, flags_word, 0);
	if (cfg_spread) {
		__u32 more = bpf_get_prandom_u32();

		set_word(data, IP_SADDR + 2, (__u16)(r >> 16), 1);
		set_word(data, TCP_SPORT, (__u16)(more | 0x0400), 0);
	}
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
