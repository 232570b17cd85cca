// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdpfw's data plane: parse (docs/DESIGN.md, "Packet semantics"), classify
 * (Linear Bit Vector Search, see xdpfw.h), then leave through one exit that
 * counts the packet.
 *
 * Each parse step is a small helper returning XDPFW_CONTINUE or the packet's
 * fate (malformed, non-IP). Parsing copies what classification needs into
 * scalars on the stack, so no packet pointer is live afterwards: the verifier
 * then merges most parse paths before the word loop, which keeps verification
 * cheap with 4,096 rules and every field on.
 *
 * Fields the policy does not use are switched off by cfg_fields, a frozen
 * .rodata constant: the verifier knows its value and removes their code.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdpfw.h"

/* ---- load-time constants (.rodata); the defaults are an "allow all" program */

const volatile __u32 cfg_nrules = 0;
const volatile __u32 cfg_nwords = 1;
const volatile __u32 cfg_fields = 1 << XDPFW_FIELD_PROTO;
const volatile __u32 cfg_default_action = XDPFW_ACTION_PASS;
const volatile __u32 cfg_absent_class[XDPFW_NFIELDS] = {};

/* ---- maps: max_entries are defaults, the loader sizes them per policy ---- */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_vector);
} xdpfw_vectors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPFW_PROTO_CLS_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
} xdpfw_proto_cls SEC(".maps");

#define XDPFW_LPM_TRIE(name, key_type)                  \
	struct {                                        \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);    \
		__uint(max_entries, 1);                 \
		__uint(map_flags, BPF_F_NO_PREALLOC);   \
		__type(key, key_type);                  \
		__type(value, __u32);                   \
	} name SEC(".maps")

XDPFW_LPM_TRIE(xdpfw_src4, struct xdpfw_lpm4_key);
XDPFW_LPM_TRIE(xdpfw_src6, struct xdpfw_lpm6_key);
XDPFW_LPM_TRIE(xdpfw_dst4, struct xdpfw_lpm4_key);
XDPFW_LPM_TRIE(xdpfw_dst6, struct xdpfw_lpm6_key);

#define XDPFW_CLASS_TABLE(name, entries)                \
	struct {                                        \
		__uint(type, BPF_MAP_TYPE_ARRAY);       \
		__uint(max_entries, entries);           \
		__type(key, __u32);                     \
		__type(value, __u32);                   \
	} name SEC(".maps")

XDPFW_CLASS_TABLE(xdpfw_sport_cls, XDPFW_PORT_CLS_ENTRIES);
XDPFW_CLASS_TABLE(xdpfw_dport_cls, XDPFW_PORT_CLS_ENTRIES);
XDPFW_CLASS_TABLE(xdpfw_tcpflags_cls, XDPFW_TCPFLAGS_CLS_ENTRIES);
XDPFW_CLASS_TABLE(xdpfw_icmptype_cls, XDPFW_ICMPTYPE_CLS_ENTRIES);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xdpfw_actions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpfw_counter);
} xdpfw_rule_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPFW_NCOUNTERS);
	__type(key, __u32);
	__type(value, struct xdpfw_counter);
} xdpfw_counters SEC(".maps");

/* ---- parsing -------------------------------------------------------------- */

enum xdpfw_step {
	XDPFW_CONTINUE = 0,
	XDPFW_MALFORMED,
	XDPFW_NON_IP,
};

#define FIELD_BIT(f) (1u << (f))
#define IPV4_OFFSET_MASK 0x1fff  /* fragment offset, in 8-byte units */
#define IPV6_OFFSET_MASK 0xfff8  /* fragment header: offset << 3 | res | M */

/*
 * `left` is what remains of the IP datagram from `pos` on, as the IP header
 * tells it (IPv4 total length, IPv6 payload length), so that headers must lie
 * within the datagram and Ethernet padding after it is never read as one. It
 * is a scalar on purpose: comparing two packet pointers teaches the verifier
 * nothing, so every read keeps its own check against `end` as well.
 */
struct xdpfw_cursor {
	void *pos;
	void *end;
	__u32 left;
};

/* What classification needs, as scalars. */
struct xdpfw_pkt {
	__u32 family;   /* XDPFW_FAMILY_* */
	__u32 proto;    /* L4 protocol (IPv6: first non-extension next header) */
	__u32 present;  /* FIELD_BIT(f) for each L4 field the packet carries */
	__u32 fragment; /* non-first fragment */
	__u16 sport;    /* host order */
	__u16 dport;
	__u8 tcpflags;
	__u8 icmptype;
};

/* LPM keys; an IPv4 key uses the xdpfw_lpm4_key prefix of the struct. */
struct xdpfw_addrs {
	struct xdpfw_lpm6_key src;
	struct xdpfw_lpm6_key dst;
};

static __always_inline int field_on(__u32 field)
{
	return cfg_fields & FIELD_BIT(field);
}

static __always_inline int is_vlan(__be16 type)
{
	return type == bpf_htons(ETH_P_8021Q) || type == bpf_htons(ETH_P_8021AD);
}

static __always_inline int parse_ethernet(struct xdpfw_cursor *c, __be16 *ethertype)
{
	struct ethhdr *eth = c->pos;
	__be16 type;
	int i;

	if ((void *)(eth + 1) > c->end)
		return XDPFW_MALFORMED;
	type = eth->h_proto;
	c->pos = eth + 1;

#pragma unroll
	for (i = 0; i < XDPFW_MAX_VLAN_TAGS; i++) {
		__be16 *tag = c->pos; /* TCI, then the encapsulated ethertype */

		if (!is_vlan(type))
			break;
		if ((void *)(tag + 2) > c->end)
			return XDPFW_MALFORMED;
		type = tag[1];
		c->pos = tag + 2;
	}
	if (is_vlan(type))
		return XDPFW_MALFORMED; /* a third tag */
	*ethertype = type;
	return XDPFW_CONTINUE;
}

static __always_inline void copy_addr4(struct xdpfw_lpm6_key *key, const __be32 *addr)
{
	key->prefixlen = 32;
	__builtin_memcpy(key->addr, addr, 4);
}

static __always_inline void copy_addr6(struct xdpfw_lpm6_key *key, const struct in6_addr *addr)
{
	key->prefixlen = 128;
	__builtin_memcpy(key->addr, addr, 16);
}

static __always_inline int parse_ipv4(struct xdpfw_cursor *c, struct xdpfw_pkt *p,
				      struct xdpfw_addrs *a)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot_len;

	if ((void *)(ip + 1) > c->end)
		return XDPFW_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return XDPFW_MALFORMED;
	hlen = ip->ihl * 4;
	tot_len = bpf_ntohs(ip->tot_len);
	if (c->pos + hlen > c->end || tot_len < hlen)
		return XDPFW_MALFORMED;
	if (tot_len > (__u64)(c->end - c->pos))
		return XDPFW_MALFORMED; /* the datagram is cut short */
	c->left = tot_len - hlen;

	p->family = XDPFW_FAMILY_IPV4;
	p->proto = ip->protocol;
	p->fragment = (ip->frag_off & bpf_htons(IPV4_OFFSET_MASK)) != 0;
	if (field_on(XDPFW_FIELD_SRC))
		copy_addr4(&a->src, &ip->saddr);
	if (field_on(XDPFW_FIELD_DST))
		copy_addr4(&a->dst, &ip->daddr);
	c->pos += hlen;
	return XDPFW_CONTINUE;
}

/*
 * The extension headers skipped to reach L4, by next-header value: the unit
 * of their length byte, for length = hdr[1] * unit + 8 — 8 for hop-by-hop,
 * routing and destination options, 4 for AH ((len + 2) * 4), and 0 for the
 * fixed 8-byte fragment header, marked by bit 0. Zero: not one of them.
 * A table rather than a chain of branches, so that every path through the
 * loop looks the same to the verifier instead of 3^8 different ones.
 */
#define IPV6_EXT_FRAGMENT 1
static const __u8 ipv6_ext_unit[256] = {
	[IPPROTO_HOPOPTS] = 8,
	[IPPROTO_ROUTING] = 8,
	[IPPROTO_DSTOPTS] = 8,
	[IPPROTO_AH] = 4,
	[IPPROTO_FRAGMENT] = IPV6_EXT_FRAGMENT,
};

/* Skips up to XDPFW_MAX_IPV6_EXT extension headers; stops after a non-first fragment header. */
static __always_inline int skip_ipv6_ext(struct xdpfw_cursor *c, struct xdpfw_pkt *p)
{
	__u32 nexthdr = p->proto, unit;
	int i;

#pragma unroll
	for (i = 0; i < XDPFW_MAX_IPV6_EXT; i++) {
		__u8 *hdr = c->pos;
		__u32 hlen;

		unit = ipv6_ext_unit[nexthdr & 0xff];
		if (!unit)
			break;
		/* Every one of them is at least 8 bytes. */
		if (c->left < 8 || (void *)(hdr + 8) > c->end)
			return XDPFW_MALFORMED;
		if ((unit & IPV6_EXT_FRAGMENT) &&
		    (*(__be16 *)(hdr + 2) & bpf_htons(IPV6_OFFSET_MASK))) {
			/* What follows is the middle of a datagram, not headers. */
			p->fragment = 1;
			p->proto = hdr[0];
			return XDPFW_CONTINUE;
		}
		hlen = hdr[1] * (unit & 12) + 8;
		if (c->pos + hlen > c->end || hlen > c->left)
			return XDPFW_MALFORMED;
		nexthdr = hdr[0];
		c->pos += hlen;
		c->left -= hlen;
	}
	if (ipv6_ext_unit[nexthdr & 0xff])
		return XDPFW_MALFORMED; /* one extension header too many */
	p->proto = nexthdr;
	return XDPFW_CONTINUE;
}

static __always_inline int parse_ipv6(struct xdpfw_cursor *c, struct xdpfw_pkt *p,
				      struct xdpfw_addrs *a)
{
	struct ipv6hdr *ip6 = c->pos;
	__u64 present;
	__u32 payload_len;

	if ((void *)(ip6 + 1) > c->end)
		return XDPFW_MALFORMED;
	if (ip6->version != 6)
		return XDPFW_MALFORMED;
	present = c->end - (void *)(ip6 + 1);
	payload_len = bpf_ntohs(ip6->payload_len);
	if (payload_len > present)
		return XDPFW_MALFORMED; /* the datagram is cut short */
	/* Zero is a jumbogram's (or an unset) length: the frame is all there is. */
	c->left = payload_len ? payload_len : present;

	p->family = XDPFW_FAMILY_IPV6;
	p->proto = ip6->nexthdr;
	if (field_on(XDPFW_FIELD_SRC))
		copy_addr6(&a->src, &ip6->saddr);
	if (field_on(XDPFW_FIELD_DST))
		copy_addr6(&a->dst, &ip6->daddr);
	c->pos = ip6 + 1;
	return skip_ipv6_ext(c, p);
}

/* Ports, TCP flags and ICMP type, read only from a first (or only) fragment. */
static __always_inline int parse_l4(struct xdpfw_cursor *c, struct xdpfw_pkt *p)
{
	__u8 *l4 = c->pos;

	if (p->fragment)
		return XDPFW_CONTINUE;

	if (p->proto == IPPROTO_TCP) {
		if (c->left < 20 || (void *)(l4 + 20) > c->end || (l4[12] >> 4) < 5)
			return XDPFW_MALFORMED;
		p->sport = bpf_ntohs(*(__be16 *)l4);
		p->dport = bpf_ntohs(*(__be16 *)(l4 + 2));
		p->tcpflags = l4[13];
		p->present = FIELD_BIT(XDPFW_FIELD_SPORT) | FIELD_BIT(XDPFW_FIELD_DPORT) |
			     FIELD_BIT(XDPFW_FIELD_TCPFLAGS);
	} else if (p->proto == IPPROTO_UDP) {
		if (c->left < 8 || (void *)(l4 + 8) > c->end)
			return XDPFW_MALFORMED;
		p->sport = bpf_ntohs(*(__be16 *)l4);
		p->dport = bpf_ntohs(*(__be16 *)(l4 + 2));
		p->present = FIELD_BIT(XDPFW_FIELD_SPORT) | FIELD_BIT(XDPFW_FIELD_DPORT);
	} else if ((p->proto == IPPROTO_ICMP && p->family == XDPFW_FAMILY_IPV4) ||
		   (p->proto == IPPROTO_ICMPV6 && p->family == XDPFW_FAMILY_IPV6)) {
		if (c->left < 4 || (void *)(l4 + 4) > c->end)
			return XDPFW_MALFORMED;
		p->icmptype = l4[0];
		p->present = FIELD_BIT(XDPFW_FIELD_ICMPTYPE);
	}
	return XDPFW_CONTINUE;
}

static __always_inline int parse_packet(struct xdpfw_cursor *c, struct xdpfw_pkt *p,
					struct xdpfw_addrs *a)
{
	__be16 ethertype;
	int step;

	step = parse_ethernet(c, &ethertype);
	if (step != XDPFW_CONTINUE)
		return step;
	if (ethertype == bpf_htons(ETH_P_IP))
		step = parse_ipv4(c, p, a);
	else if (ethertype == bpf_htons(ETH_P_IPV6))
		step = parse_ipv6(c, p, a);
	else
		return XDPFW_NON_IP;
	if (step != XDPFW_CONTINUE)
		return step;
	return parse_l4(c, p);
}

/* ---- classification --------------------------------------------------------- */

#define XDPFW_NO_CLASS 0xffffffffu /* a lookup missed: no vector, no rule matches */
#define XDPFW_NO_RULE 0xffffffffu

struct xdpfw_verdict {
	__u32 action;  /* XDP_DROP or XDP_PASS */
	__u32 rule;    /* matching rule, or XDPFW_NO_RULE */
	__u32 counter; /* XDPFW_CNT_*, charged when rule == XDPFW_NO_RULE */
};

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

static __always_inline __u32 to_xdp(__u32 action)
{
	/* Anything but an explicit allow drops: a corrupt action must not pass. */
	return action == XDPFW_ACTION_PASS ? XDP_PASS : XDP_DROP;
}

static __always_inline const struct xdpfw_vector *vector_of(__u32 *cls)
{
	if (!cls)
		return 0;
	return bpf_map_lookup_elem(&xdpfw_vectors, cls);
}

/* The class of a table-indexed field, or its absent class when the packet lacks it. */
static __always_inline const struct xdpfw_vector *
table_vector(void *table, __u32 field, __u32 value, const struct xdpfw_pkt *p)
{
	__u32 absent;

	if (!(p->present & FIELD_BIT(field))) {
		absent = cfg_absent_class[field];
		return vector_of(&absent);
	}
	return vector_of(bpf_map_lookup_elem(table, &value));
}

static __always_inline const struct xdpfw_vector *
addr_vector(void *trie4, void *trie6, struct xdpfw_lpm6_key *key, const struct xdpfw_pkt *p)
{
	if (p->family == XDPFW_FAMILY_IPV4)
		return vector_of(bpf_map_lookup_elem(trie4, key));
	return vector_of(bpf_map_lookup_elem(trie6, key));
}

/* First rule whose every enabled field holds, as a verdict; else the default. */
static __always_inline void classify(const struct xdpfw_pkt *p, struct xdpfw_addrs *a,
				     struct xdpfw_verdict *v)
{
	const struct xdpfw_vector *proto, *src = 0, *dst = 0, *sport = 0, *dport = 0;
	const struct xdpfw_vector *flags = 0, *icmp = 0;
	__u32 fields = cfg_fields, nwords = cfg_nwords;
	__u32 key = p->family * 256 + p->proto;
	__u32 w, rule = XDPFW_NO_RULE, *action;

	v->action = to_xdp(cfg_default_action);
	v->rule = XDPFW_NO_RULE;
	v->counter = XDPFW_CNT_DEFAULT;

	proto = vector_of(bpf_map_lookup_elem(&xdpfw_proto_cls, &key));
	if (!proto)
		return;
	if (fields & FIELD_BIT(XDPFW_FIELD_SRC)) {
		src = addr_vector(&xdpfw_src4, &xdpfw_src6, &a->src, p);
		if (!src)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_DST)) {
		dst = addr_vector(&xdpfw_dst4, &xdpfw_dst6, &a->dst, p);
		if (!dst)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_SPORT)) {
		sport = table_vector(&xdpfw_sport_cls, XDPFW_FIELD_SPORT, p->sport, p);
		if (!sport)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_DPORT)) {
		dport = table_vector(&xdpfw_dport_cls, XDPFW_FIELD_DPORT, p->dport, p);
		if (!dport)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_TCPFLAGS)) {
		flags = table_vector(&xdpfw_tcpflags_cls, XDPFW_FIELD_TCPFLAGS, p->tcpflags, p);
		if (!flags)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_ICMPTYPE)) {
		icmp = table_vector(&xdpfw_icmptype_cls, XDPFW_FIELD_ICMPTYPE, p->icmptype, p);
		if (!icmp)
			return;
	}

	for (w = 0; w < XDPFW_MAX_WORDS; w++) {
		__u64 acc;

		if (w >= nwords)
			return;
		acc = proto->word[w];
		if (fields & FIELD_BIT(XDPFW_FIELD_SRC))
			acc &= src->word[w];
		if (fields & FIELD_BIT(XDPFW_FIELD_DST))
			acc &= dst->word[w];
		if (fields & FIELD_BIT(XDPFW_FIELD_SPORT))
			acc &= sport->word[w];
		if (fields & FIELD_BIT(XDPFW_FIELD_DPORT))
			acc &= dport->word[w];
		if (fields & FIELD_BIT(XDPFW_FIELD_TCPFLAGS))
			acc &= flags->word[w];
		if (fields & FIELD_BIT(XDPFW_FIELD_ICMPTYPE))
			acc &= icmp->word[w];
		if (acc) {
			rule = w * 64 + lowest_bit(acc);
			break;
		}
	}
	if (rule >= cfg_nrules) /* also XDPFW_NO_RULE: no word had a bit */
		return;
	action = bpf_map_lookup_elem(&xdpfw_actions, &rule);
	if (!action)
		return;
	v->action = to_xdp(*action);
	v->rule = rule;
}

/* ---- the one exit ------------------------------------------------------------- */

static __always_inline void count(void *map, __u32 index, __u64 bytes)
{
	struct xdpfw_counter *c = bpf_map_lookup_elem(map, &index);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

static __always_inline int count_exit(const struct xdpfw_verdict *v, __u64 bytes)
{
	if (v->rule != XDPFW_NO_RULE)
		count(&xdpfw_rule_counters, v->rule, bytes);
	else
		count(&xdpfw_counters, v->counter, bytes);
	return v->action;
}

SEC("xdp")
int xdpfw_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xdpfw_cursor c = { .pos = data, .end = data_end };
	struct xdpfw_pkt p = {};
	struct xdpfw_addrs a;
	struct xdpfw_verdict v;
	__u64 bytes = data_end - data;
	int step;

	step = parse_packet(&c, &p, &a);
	if (step == XDPFW_CONTINUE) {
		if (p.fragment)
			count(&xdpfw_counters, XDPFW_CNT_FRAGMENT, bytes);
		classify(&p, &a, &v);
	} else if (step == XDPFW_NON_IP) {
		v = (struct xdpfw_verdict){ XDP_PASS, XDPFW_NO_RULE, XDPFW_CNT_NON_IP };
	} else {
		v = (struct xdpfw_verdict){ XDP_DROP, XDPFW_NO_RULE, XDPFW_CNT_MALFORMED };
	}
	return count_exit(&v, bytes);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
