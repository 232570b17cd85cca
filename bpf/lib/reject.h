/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `reject`: the packet is dropped and answered from XDP (docs/DESIGN.md,
 * "Reject"). The received frame is rewritten in place and sent back out of
 * the interface it came in on (XDP_TX): MAC addresses swapped, VLAN tags
 * kept as they were, IP addresses swapped, then
 * - for TCP, a RST (RFC 9293 §3.10.7.1: to a segment with ACK, seq = its
 *   ack number; else seq 0 and ACK with ack = seq + payload + SYN + FIN);
 * - for anything else, ICMP destination unreachable code 13 "communication
 *   administratively prohibited" (RFC 1812 §5.2.7.1) or ICMPv6 destination
 *   unreachable code 1 "administratively prohibited" (RFC 4443 §3.1),
 *   quoting the start of the offending datagram.
 * Never in answer to an ICMP error or a RST, to a broadcast or multicast
 * destination (Ethernet or IP), from an address that is not a unicast one,
 * nor to a fragment: RFC 1122 §3.2.2, RFC 4443 §2.4 (e), and a fragment's
 * answer could not name its flow. Answers share one token bucket; a packet
 * left without an answer is still dropped.
 *
 * Every checksum is computed whole, over what is written: the answer
 * carries nothing of the received frame's checksums, which a veth with
 * offload leaves partial.
 */
#ifndef XDPFW_LIB_REJECT_H
#define XDPFW_LIB_REJECT_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../xdpfw.h"
#include "config.h"
#include "limit.h"
#include "parse.h"
#include "structs.h"

#define REJECT_TTL 64
/* The IP header's offset as read back from the map, masked so the verifier knows it small. */
#define L3_MASK 0x1f
#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10
#define ICMP_DEST_UNREACH 3
#define ICMP_PKT_FILTERED 13
#define ICMPV6_DEST_UNREACH 1
#define ICMPV6_ADM_PROHIBITED 1
#define IPV4_DF 0x4000
#define IPV4_TOS_INTERNETCONTROL 0xc0 /* as Linux sends its own ICMP errors */

/* The token bucket of all answers (bucket_take's empty_at): a global, zero at load, so it starts full. */
__u64 xdpfw_reject_empty_at = 0;

/* Per CPU, what the answer needs (xdpfw.h): off the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_reject_info);
} xdpfw_reject_scratch SEC(".maps");

/*
 * The headers were just written through other types: the barrier keeps
 * clang (strict aliasing) from reading the words before those stores.
 */
#define written_before_summed() asm volatile("" ::: "memory")

/* Ones'-complement sum (RFC 1071) of 32-bit words, folded to 16 bits; loads are little-endian, as the BPF target. */
static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/*
 * Sum of the bytes from p to the frame's end (the answer ends there, cut
 * to size): at most XDPFW_REJECT_QUOTE + 8 of them, a word at a time.
 */
static __always_inline __u64 csum_to_end(__u64 sum, __u8 *p, void *end)
{
	int i;

	written_before_summed();
	for (i = 0; i < (XDPFW_REJECT_QUOTE + 8) / 4; i++) {
		if ((void *)(p + 4) > end)
			break;
		sum += *(__u32 *)p;
		p += 4;
	}
	if ((void *)(p + 2) <= end) {
		sum += *(__u16 *)p;
		p += 2;
	}
	if ((void *)(p + 1) <= end)
		sum += *p; /* the odd last byte, as the high byte of a zero-padded word */
	return sum;
}

static __always_inline __u64 sum_words(__u64 sum, const __be32 *w, int n)
{
	int i;

	written_before_summed();
#pragma unroll
	for (i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

static __always_inline int ipv4_unicast(__be32 addr)
{
	__u32 a = bpf_ntohl(addr);

	return a != 0 && a != 0xffffffff && (a >> 28) != 0xe; /* not 0.0.0.0, broadcast, 224/4 */
}

/* An ICMP message that is not an error (RFC 792, RFC 1122 §3.2.2: echo, timestamp, information, mask). */
static __always_inline int icmp_informational(__u8 type)
{
	return type == 0 || type == 8 || (type >= 9 && type <= 10) || (type >= 13 && type <= 18);
}

/*
 * Reads what the answer needs; 0 when the packet must not be answered.
 * `frag` is room for skip_ipv6_ext()'s fragment fields.
 */
static __always_inline int reject_read(void *data, void *end, struct xdpfw_reject_info *r, struct xdpfw_ct_pkt *frag)
{
	struct xdpfw_cursor c = { .pos = data, .end = end, .start = data };
	struct xdpfw_pkt p = {};
	__u8 *eth = data, *l4;
	__be16 ethertype;
	__u32 proto, l4_left;

	if (parse_ethernet(&c, &ethertype) != XDPFW_CONTINUE)
		return 0;
	if (eth[0] & 1)
		return 0; /* an Ethernet broadcast or multicast destination */
	r->l3 = c.pos - data;
	if (ethertype == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = c.pos;
		__u32 hlen;

		if ((void *)(ip + 1) > end || ip->ihl < 5)
			return 0;
		if (ip->frag_off & bpf_htons(IPV4_MF | IPV4_OFFSET_MASK))
			return 0;
		if (!ipv4_unicast(ip->saddr) || !ipv4_unicast(ip->daddr))
			return 0;
		hlen = ip->ihl * 4;
		r->family = XDPFW_FAMILY_IPV4;
		r->datagram = bpf_ntohs(ip->tot_len);
		if (r->datagram < hlen || r->datagram > (__u64)(end - c.pos))
			return 0;
		r->src[0] = ip->saddr;
		r->dst[0] = ip->daddr;
		proto = ip->protocol;
		l4 = c.pos + hlen;
		l4_left = r->datagram - hlen;
	} else if (ethertype == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = c.pos;

		if ((void *)(ip6 + 1) > end)
			return 0;
		/* ff00::/8 multicast either way, or an unspecified source */
		if (ip6->daddr.in6_u.u6_addr8[0] == 0xff || ip6->saddr.in6_u.u6_addr8[0] == 0xff)
			return 0;
		__builtin_memcpy(r->src, &ip6->saddr, 16);
		__builtin_memcpy(r->dst, &ip6->daddr, 16);
		if ((r->src[0] | r->src[1] | r->src[2] | r->src[3]) == 0)
			return 0;
		r->family = XDPFW_FAMILY_IPV6;
		c.pos = ip6 + 1;
		c.left = bpf_ntohs(ip6->payload_len);
		if (c.left == 0 || c.left > (__u64)(end - c.pos))
			return 0; /* a jumbogram, or a datagram the parser found short */
		r->datagram = c.left + sizeof(*ip6);
		p.proto = ip6->nexthdr;
		frag->first_frag = 0;
		if (skip_ipv6_ext(&c, &p, frag) != XDPFW_CONTINUE || p.fragment || frag->first_frag)
			return 0;
		proto = p.proto;
		l4 = c.pos;
		l4_left = c.left;
	} else {
		return 0;
	}

	if (proto == IPPROTO_TCP) {
		__u32 doff;

		if ((void *)(l4 + 20) > end || l4_left < 20)
			return 0;
		r->tcp_flags = l4[13];
		doff = (l4[12] >> 4) * 4;
		if ((r->tcp_flags & TCP_FLAG_RST) || doff < 20 || doff > l4_left)
			return 0;
		r->tcp = 1;
		r->sport = *(__be16 *)l4;
		r->dport = *(__be16 *)(l4 + 2);
		r->seq = bpf_ntohl(*(__be32 *)(l4 + 4));
		r->ack = bpf_ntohl(*(__be32 *)(l4 + 8));
		r->seq_len = l4_left - doff + !!(r->tcp_flags & TCP_FLAG_SYN) + !!(r->tcp_flags & TCP_FLAG_FIN);
		return 1;
	}
	if (proto == IPPROTO_ICMP && r->family == XDPFW_FAMILY_IPV4) {
		if ((void *)(l4 + 1) > end || l4_left < 1)
			return 0;
		return icmp_informational(l4[0]);
	}
	if (proto == IPPROTO_ICMPV6 && r->family == XDPFW_FAMILY_IPV6) {
		if ((void *)(l4 + 1) > end || l4_left < 1)
			return 0;
		return l4[0] >= 128; /* RFC 4443 §2.1: types below 128 are errors */
	}
	return 1;
}

/* In registers: the answer's own stack frame is kept small. */
static __always_inline void swap_macs(__u8 *eth)
{
	__u32 dst_head = *(__u32 *)eth, src_head = *(__u32 *)(eth + 6);
	__u16 dst_tail = *(__u16 *)(eth + 4), src_tail = *(__u16 *)(eth + 10);

	*(__u32 *)eth = src_head;
	*(__u16 *)(eth + 4) = src_tail;
	*(__u32 *)(eth + 6) = dst_head;
	*(__u16 *)(eth + 10) = dst_tail;
}

/* An IPv4 header from the packet's destination back to its source; its checksum. */
static __always_inline void write_ipv4(struct iphdr *ip, const struct xdpfw_reject_info *r, __u8 proto, __u8 tos,
				       __u16 tot_len, __u16 frag_off)
{
	*(__u16 *)ip = bpf_htons(0x4500 | tos);
	ip->tot_len = bpf_htons(tot_len);
	ip->id = 0;
	ip->frag_off = bpf_htons(frag_off);
	ip->ttl = REJECT_TTL;
	ip->protocol = proto;
	ip->check = 0;
	ip->saddr = r->dst[0];
	ip->daddr = r->src[0];
	ip->check = csum_fold(sum_words(0, (__be32 *)ip, 5));
}

static __always_inline void write_ipv6(struct ipv6hdr *ip6, const struct xdpfw_reject_info *r, __u8 nexthdr,
				       __u16 payload_len)
{
	*(__be32 *)ip6 = bpf_htonl(0x60000000);
	ip6->payload_len = bpf_htons(payload_len);
	ip6->nexthdr = nexthdr;
	ip6->hop_limit = REJECT_TTL;
	__builtin_memcpy(&ip6->saddr, r->dst, 16);
	__builtin_memcpy(&ip6->daddr, r->src, 16);
}

/* The pseudo-header's addresses (answer's source and destination), length and protocol, summed. */
static __always_inline __u64 pseudo_sum(const struct xdpfw_reject_info *r, __u32 len, __u8 proto)
{
	__u64 sum = bpf_htonl(len) + bpf_htonl(proto);

	if (r->family == XDPFW_FAMILY_IPV4)
		return sum + r->src[0] + r->dst[0];
	return sum_words(sum_words(sum, r->src, 4), r->dst, 4);
}

/* The frame becomes a RST: IP and TCP headers without options, and nothing after. */
static __always_inline int answer_tcp(struct xdp_md *ctx, const struct xdpfw_reject_info *r, __u64 bytes)
{
	int v4 = r->family == XDPFW_FAMILY_IPV4;
	__u32 l3 = r->l3 & L3_MASK, len = l3 + (v4 ? 20 : 40) + 20;
	__u8 *data, *end, *ip, *tcp;

	if (l3 != r->l3 || l3 > XDPFW_MAX_VLAN_TAGS * 4 + ETH_HLEN)
		return XDP_DROP;
	if (bpf_xdp_adjust_tail(ctx, (int)len - (int)bytes))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if ((void *)(data + ETH_HLEN) > (void *)end)
		return XDP_DROP;
	swap_macs(data);
	ip = data + l3;
	if (v4) {
		if ((void *)(ip + 40) > (void *)end)
			return XDP_DROP;
		write_ipv4((struct iphdr *)ip, r, IPPROTO_TCP, 0, 40, IPV4_DF);
		tcp = ip + 20;
	} else {
		if ((void *)(ip + 60) > (void *)end)
			return XDP_DROP;
		write_ipv6((struct ipv6hdr *)ip, r, IPPROTO_TCP, 20);
		tcp = ip + 40;
	}
	if ((void *)(tcp + 20) > (void *)end)
		return XDP_DROP;
	*(__be16 *)tcp = r->dport;
	*(__be16 *)(tcp + 2) = r->sport;
	if (r->tcp_flags & TCP_FLAG_ACK) {
		*(__be32 *)(tcp + 4) = bpf_htonl(r->ack);
		*(__be32 *)(tcp + 8) = 0;
		tcp[13] = TCP_FLAG_RST;
	} else {
		*(__be32 *)(tcp + 4) = 0;
		*(__be32 *)(tcp + 8) = bpf_htonl(r->seq + r->seq_len);
		tcp[13] = TCP_FLAG_RST | TCP_FLAG_ACK;
	}
	tcp[12] = 5 << 4;
	*(__u32 *)(tcp + 14) = 0; /* window 0, checksum 0 until computed */
	*(__u16 *)(tcp + 18) = 0; /* urgent pointer */
	*(__u16 *)(tcp + 16) = csum_fold(sum_words(pseudo_sum(r, 20, IPPROTO_TCP), (__be32 *)tcp, 5));
	return XDP_TX;
}

/*
 * The frame becomes an ICMP error: the Ethernet header and tags move to the
 * front of new headroom, an IP and an ICMP header follow, and then the
 * offending datagram where it already lay, cut to XDPFW_REJECT_QUOTE bytes.
 */
static __always_inline int answer_icmp(struct xdp_md *ctx, const struct xdpfw_reject_info *r, __u64 bytes)
{
	int v4 = r->family == XDPFW_FAMILY_IPV4;
	__u32 grow = (v4 ? 20 : 40) + 8;
	__u32 quote = r->datagram < XDPFW_REJECT_QUOTE ? r->datagram : XDPFW_REJECT_QUOTE;
	__u32 l3 = r->l3 & L3_MASK;
	__u8 *data, *end, *ip, *icmp;

	if (l3 != r->l3 || l3 > XDPFW_MAX_VLAN_TAGS * 4 + ETH_HLEN)
		return XDP_DROP;
	if (bpf_xdp_adjust_tail(ctx, (int)(l3 + quote) - (int)bytes))
		return XDP_DROP;
	if (bpf_xdp_adjust_head(ctx, -(int)grow))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if ((void *)(data + grow + XDPFW_MAX_VLAN_TAGS * 4 + ETH_HLEN) > (void *)end)
		return XDP_DROP;
	/* Ethernet addresses swapped on the way, then the tags and Ethertype as they were. */
	__builtin_memcpy(data, data + grow + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(data + ETH_ALEN, data + grow, ETH_ALEN);
	__builtin_memcpy(data + 2 * ETH_ALEN, data + grow + 2 * ETH_ALEN, 2);
	if (l3 > ETH_HLEN)
		__builtin_memcpy(data + ETH_HLEN, data + grow + ETH_HLEN, 4);
	if (l3 > ETH_HLEN + 4)
		__builtin_memcpy(data + ETH_HLEN + 4, data + grow + ETH_HLEN + 4, 4);
	/* Either family's new headers end within 48 bytes, and the quote holds at least an IPv4 header. */
	ip = data + l3;
	if ((void *)(ip + 48) > (void *)end)
		return XDP_DROP;
	if (v4) {
		write_ipv4((struct iphdr *)ip, r, IPPROTO_ICMP, IPV4_TOS_INTERNETCONTROL, 28 + quote, 0);
		icmp = ip + 20;
		icmp[0] = ICMP_DEST_UNREACH;
		icmp[1] = ICMP_PKT_FILTERED;
	} else {
		write_ipv6((struct ipv6hdr *)ip, r, IPPROTO_ICMPV6, 8 + quote);
		icmp = ip + 40;
		icmp[0] = ICMPV6_DEST_UNREACH;
		icmp[1] = ICMPV6_ADM_PROHIBITED;
	}
	*(__u16 *)(icmp + 2) = 0;
	*(__u32 *)(icmp + 4) = 0; /* unused */
	*(__u16 *)(icmp + 2) = csum_fold(csum_to_end(v4 ? 0 : pseudo_sum(r, 8 + quote, IPPROTO_ICMPV6), icmp, end));
	return XDP_TX;
}

/*
 * The fate of a packet a `reject` decided (a frame of `bytes`): XDP_TX
 * with its answer written, or XDP_DROP. A function of its own, not
 * inlined, so that its stack frame is apart from the main program's, whose
 * frame and the tail check's already come near the 512 bytes a call chain
 * may use; for the same reason it borrows the caller's connection-tracking
 * room (`scratch`, unused once the verdict is known) instead of its own.
 */
static __noinline int reject_packet(struct xdp_md *ctx, __u64 bytes, struct xdpfw_ct_pkt *scratch)
{
	__u32 zero = 0;
	struct xdpfw_reject_info *r = bpf_map_lookup_elem(&xdpfw_reject_scratch, &zero);

	if (!r)
		return XDP_DROP;
	__builtin_memset(r, 0, sizeof(*r));
	if (!reject_read((void *)(long)ctx->data, (void *)(long)ctx->data_end, r, scratch))
		return XDP_DROP;
	if (!bucket_take(&xdpfw_reject_empty_at, bpf_ktime_get_coarse_ns(), XDPFW_REJECT_COST_NS,
			 XDPFW_REJECT_BURST * XDPFW_REJECT_COST_NS))
		return XDP_DROP;
	return r->tcp ? answer_tcp(ctx, r, bytes) : answer_icmp(ctx, r, bytes);
}

#endif /* XDPFW_LIB_REJECT_H */
