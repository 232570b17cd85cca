// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdpfw's data plane: parse (docs/DESIGN.md, "Packet semantics"), classify
 * (Linear Bit Vector Search with aggregated bit vectors, addresses by LPM
 * trie or address table; or, for a few simple rules, the linear path: see
 * xdpfw.h), then leave through one exit that counts the packet.
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
const volatile __u32 cfg_addr_mode[XDPFW_NADDR] = {};
const volatile __u32 cfg_addr_shift[XDPFW_NADDR] = {};
const volatile __u32 cfg_addr_base[XDPFW_NADDR] = {};
const volatile __u32 cfg_addr_host[XDPFW_NADDR] = {};
const volatile __u32 cfg_linear = 0;
const volatile __u32 cfg_lin_checks[XDPFW_LINEAR_MAX] = {};
const volatile __u32 cfg_lin_action[XDPFW_LINEAR_MAX] = {};
const volatile __u32 cfg_lin_proto[XDPFW_LINEAR_MAX] = {};
const volatile __u32 cfg_lin_sport[2 * XDPFW_LINEAR_MAX] = {};
const volatile __u32 cfg_lin_dport[2 * XDPFW_LINEAR_MAX] = {};
const volatile __u32 cfg_lin_tcpflags[2 * XDPFW_LINEAR_MAX] = {};
const volatile __u32 cfg_lin_icmptype[XDPFW_LINEAR_MAX] = {};
const volatile __u32 cfg_lin_src4[2 * XDPFW_LINEAR_MAX] = {};
const volatile __u32 cfg_lin_dst4[2 * XDPFW_LINEAR_MAX] = {};
const volatile __u64 cfg_lin_src6[4 * XDPFW_LINEAR_MAX] = {};
const volatile __u64 cfg_lin_dst6[4 * XDPFW_LINEAR_MAX] = {};

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

/* Address tables (xdpfw.h); a slot in trie mode leaves them at one entry. */
#define XDPFW_ROWS(name, value_type, entries)            \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_ARRAY);        \
		__uint(max_entries, entries);            \
		__type(key, __u32);                      \
		__type(value, value_type);               \
	} name SEC(".maps")
#define XDPFW_PREFIX_HASH(name, key_type)                \
	struct {                                         \
		__uint(type, BPF_MAP_TYPE_HASH);         \
		__uint(max_entries, 1);                  \
		__type(key, key_type);                   \
		__type(value, __u32);                    \
	} name SEC(".maps")
#define XDPFW_BUCKET_ROWS ((1 << XDPFW_BUCKET_BITS) / (64 * XDPFW_BUCKET_ROW_WORDS))
#define XDPFW_ADDR_TABLE_MAPS(slot, family)                                                    \
	XDPFW_ROWS(xdpfw_##slot##_l16, struct xdpfw_class_row, XDPFW_L16_ENTRIES / XDPFW_CLASS_ROW); \
	XDPFW_ROWS(xdpfw_##slot##_bkt, struct xdpfw_bucket_row, XDPFW_BUCKET_ROWS);          \
	XDPFW_ROWS(xdpfw_##slot##_rank, struct xdpfw_class_row, XDPFW_RANK_ROWS);           \
	XDPFW_ROWS(xdpfw_##slot##_rec, struct xdpfw_bucket##family##_row, 1);               \
	XDPFW_ROWS(xdpfw_##slot##_quick, struct xdpfw_quick_row, 1);                        \
	XDPFW_PREFIX_HASH(xdpfw_##slot##_hash, struct xdpfw_lpm##family##_key)

XDPFW_ADDR_TABLE_MAPS(src4, 4);
XDPFW_ADDR_TABLE_MAPS(src6, 6);
XDPFW_ADDR_TABLE_MAPS(dst4, 4);
XDPFW_ADDR_TABLE_MAPS(dst6, 6);

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

/*
 * The addresses: LPM keys for the bit vectors (an IPv4 key uses the
 * xdpfw_lpm4_key prefix of the struct), or for the linear path the bytes
 * as loaded (IPv4: the first 4 bytes of [0]). Each path fills only its own.
 */
struct xdpfw_addrs {
	struct xdpfw_lpm6_key src;
	struct xdpfw_lpm6_key dst;
	__u64 lin_src[2];
	__u64 lin_dst[2];
};

static __always_inline int field_on(__u32 field)
{
	return cfg_fields & FIELD_BIT(field);
}

static __always_inline int is_vlan(__be16 type)
{
	return type == bpf_htons(ETH_P_8021Q) || type == bpf_htons(ETH_P_8021AD);
}

/*
 * struct ethhdr is packed, so clang would read h_proto a byte at a time:
 * one 16-bit load instead. Untagged IPv4 and IPv6 leave before the VLAN
 * tests (~1.3 ns a packet end to end on the 1-rule bench).
 */
static __always_inline int parse_ethernet(struct xdpfw_cursor *c, __be16 *ethertype)
{
	__u8 *eth = c->pos;
	__be16 type;
	int i;

	if ((void *)(eth + ETH_HLEN) > c->end)
		return XDPFW_MALFORMED;
	type = *(__be16 *)(eth + 12);
	c->pos = eth + ETH_HLEN;
	if (type == bpf_htons(ETH_P_IP) || type == bpf_htons(ETH_P_IPV6)) {
		*ethertype = type;
		return XDPFW_CONTINUE;
	}

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

/* Both halves are written for IPv4 too, so no read of the linear path meets uninitialised stack. */
static __always_inline void copy_addr4(struct xdpfw_lpm6_key *key, __u64 *lin, const __be32 *addr)
{
	if (cfg_linear) {
		lin[0] = *addr;
		lin[1] = 0;
		return;
	}
	key->prefixlen = 32;
	__builtin_memcpy(key->addr, addr, 4);
}

static __always_inline void copy_addr6(struct xdpfw_lpm6_key *key, __u64 *lin, const struct in6_addr *addr)
{
	if (cfg_linear) {
		__builtin_memcpy(lin, addr, 16);
		return;
	}
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
		copy_addr4(&a->src, a->lin_src, &ip->saddr);
	if (field_on(XDPFW_FIELD_DST))
		copy_addr4(&a->dst, a->lin_dst, &ip->daddr);
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
		copy_addr6(&a->src, a->lin_src, &ip6->saddr);
	if (field_on(XDPFW_FIELD_DST))
		copy_addr6(&a->dst, a->lin_dst, &ip6->daddr);
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

static __always_inline const struct xdpfw_vector *class_vector(__u32 cls)
{
	return cls == XDPFW_NO_CLASS ? 0 : bpf_map_lookup_elem(&xdpfw_vectors, &cls);
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

/* The class of the /16 an address lies in; XDPFW_DEEPER when longer prefixes lie inside it. */
static __always_inline __u32 l16_class(void *l16, __u32 top16)
{
	__u32 row = top16 / XDPFW_CLASS_ROW;
	struct xdpfw_class_row *r = bpf_map_lookup_elem(l16, &row);

	return r ? r->cls[top16 % XDPFW_CLASS_ROW] : XDPFW_NO_CLASS;
}

#define XDPFW_NO_RANK 0xffffffffu

/*
 * The rank of a marked bucket among the marked ones (the index of its
 * record): the rank of its bitmap row plus the marked buckets before it in
 * the row. XDPFW_NO_RANK when the bucket is not marked.
 */
static __always_inline __u32 bucket_rank(void *bkt, void *rank, __u32 bucket)
{
	__u32 row = bucket / (64 * XDPFW_BUCKET_ROW_WORDS), word = (bucket / 64) % XDPFW_BUCKET_ROW_WORDS;
	__u32 rank_row = row / XDPFW_CLASS_ROW, at, j;
	const struct xdpfw_class_row *ranks;
	const struct xdpfw_bucket_row *r;
	__u64 bits;

	r = bpf_map_lookup_elem(bkt, &row);
	if (!r)
		return XDPFW_NO_RANK;
	bits = r->bits[word];
	if (!((bits >> (bucket % 64)) & 1))
		return XDPFW_NO_RANK;
	ranks = bpf_map_lookup_elem(rank, &rank_row);
	if (!ranks)
		return XDPFW_NO_RANK;
	at = ranks->cls[row % XDPFW_CLASS_ROW] + __builtin_popcountll(bits & ((1ULL << (bucket % 64)) - 1));
#pragma unroll
	for (j = 0; j < XDPFW_BUCKET_ROW_WORDS - 1; j++)
		if (j < word)
			at += __builtin_popcountll(r->bits[j]);
	return at;
}

/*
 * Whether marked bucket `at`'s quick byte answers for the `eighth` of the
 * bucket an address lies in: the /16's class, no record read.
 */
static __always_inline int quick_answers(void *quick, __u32 at, __u32 eighth)
{
	__u32 row = at / XDPFW_QUICK_ROW;
	const struct xdpfw_quick_row *q = bpf_map_lookup_elem(quick, &row);

	return q && !((q->q[at % XDPFW_QUICK_ROW] >> eighth) & 1);
}

/*
 * An address table's answer for an IPv4 address (host order): the /16
 * class; for a marked /24, that class still when its quick byte says so,
 * else its record's class; when the address's /30 meets a longer prefix,
 * `host` if it is the record's inline host, else the hash, for the lengths
 * the record lists.
 */
static __always_inline __u32 table_class4(void *l16, void *bkt, void *rank, void *quick, void *rec,
					  void *hash, __u32 host, __u32 addr)
{
	const struct xdpfw_bucket4_row *row;
	const struct xdpfw_bucket4 *b;
	__u32 cls, at, lens, i;

	cls = l16_class(l16, addr >> 16);
	if (cls == XDPFW_NO_CLASS || !(cls & XDPFW_DEEPER))
		return cls;
	cls &= ~XDPFW_DEEPER;
	at = bucket_rank(bkt, rank, addr >> 8);
	if (at == XDPFW_NO_RANK || quick_answers(quick, at, (addr >> 5) & 7))
		return cls;
	i = at / XDPFW_BUCKET4_ROW;
	row = bpf_map_lookup_elem(rec, &i);
	if (!row)
		return cls;
	b = &row->rec[at % XDPFW_BUCKET4_ROW];
	if (!((b->cover >> ((addr >> 2) & 63)) & 1))
		return b->cls;
	if ((b->lens & XDPFW_HOST4) && ((b->lens >> XDPFW_HOST4_SHIFT) & 0xff) == (addr & 0xff))
		return host; /* a /32: nothing is longer */
	lens = b->lens & 0xff;
	for (i = 0; i < 8 && lens; i++) {
		struct xdpfw_lpm4_key key;
		__u32 shift = lowest_bit(lens), *hit; /* length 32 - shift: the longest left */

		lens &= lens - 1;
		key.prefixlen = 32 - shift;
		*(__be32 *)key.addr = bpf_htonl(addr & (__u32)(~0ULL << shift));
		hit = bpf_map_lookup_elem(hash, &key);
		if (hit)
			return *hit;
	}
	return b->cls;
}

/* What the IPv6 probe loop carries from one length to the next. */
struct probe6 {
	__u64 hi, lo; /* the address, host order */
	__u64 m0, m1; /* lengths still to probe: struct xdpfw_bucket6's lens[] */
	__u32 slot;   /* XDPFW_ADDR_SRC6 or XDPFW_ADDR_DST6: which hash */
	__u32 cls;    /* the hit's class, or XDPFW_NO_CLASS */
};

/* One probe, for the longest length left: 1 when done (a hit, or no length left). */
static __always_inline int probe6(struct probe6 *p)
{
	struct xdpfw_lpm6_key key;
	__u64 mhi = ~0ULL, mlo = 0;
	__u32 len, *hit;

	if (p->m0) { /* lengths 65..128, longest first */
		len = 128 - lowest_bit(p->m0);
		p->m0 &= p->m0 - 1;
		mlo = ~0ULL << ((128 - len) & 63);
	} else if (p->m1) { /* lengths 25..64 */
		len = 64 - lowest_bit(p->m1);
		p->m1 &= p->m1 - 1;
		mhi = ~0ULL << ((64 - len) & 63);
	} else {
		return 1;
	}
	key.prefixlen = len;
	((__be32 *)key.addr)[0] = bpf_htonl((p->hi & mhi) >> 32);
	((__be32 *)key.addr)[1] = bpf_htonl(p->hi & mhi);
	((__be32 *)key.addr)[2] = bpf_htonl((p->lo & mlo) >> 32);
	((__be32 *)key.addr)[3] = bpf_htonl(p->lo & mlo);
	if (p->slot == XDPFW_ADDR_SRC6)
		hit = bpf_map_lookup_elem(&xdpfw_src6_hash, &key);
	else
		hit = bpf_map_lookup_elem(&xdpfw_dst6_hash, &key);
	if (!hit)
		return 0;
	p->cls = *hit;
	return 1;
}

/*
 * The same as a bpf_loop callback: the verifier checks it once, not for each
 * of up to 104 lengths (in line, the lengths' paths multiplied the states
 * reaching the word loop: ~100k instructions processed instead of ~22k).
 */
static int probe6_next(__u32 i, struct probe6 *p)
{
	return probe6(p);
}

/*
 * The same for an IPv6 address (hi and lo: its halves, host order), with
 * the buckets after the first cfg_addr_shift bits.
 */
static __always_inline __u32 table_class6(__u32 slot, void *l16, void *bkt, void *rank, void *quick,
					  void *rec, __u64 hi, __u64 lo)
{
	__u32 shift = cfg_addr_shift[slot], cls, at, i;
	const struct xdpfw_bucket6_row *row;
	const struct xdpfw_bucket6 *b;
	struct probe6 p;
	__u64 window;

	cls = l16_class(l16, hi >> 48);
	if (cls == XDPFW_NO_CLASS || !(cls & XDPFW_DEEPER))
		return cls;
	cls &= ~XDPFW_DEEPER;
	if (shift && (hi >> (64 - shift)) != cfg_addr_base[slot])
		return cls;
	window = hi << shift; /* bucket bits first, then the 6 bits of its 64ths */
	at = bucket_rank(bkt, rank, window >> (64 - XDPFW_BUCKET_BITS));
	if (at == XDPFW_NO_RANK || quick_answers(quick, at, (window >> (64 - XDPFW_BUCKET_BITS - 3)) & 7))
		return cls;
	i = at / XDPFW_BUCKET6_ROW;
	row = bpf_map_lookup_elem(rec, &i);
	if (!row)
		return cls;
	b = &row->rec[at % XDPFW_BUCKET6_ROW];
	if (!((b->cover >> ((window >> (64 - XDPFW_BUCKET_BITS - 6)) & 63)) & 1))
		return b->cls;
	p = (struct probe6){ .hi = hi, .lo = lo, .m0 = b->lens[0], .m1 = b->lens[1], .slot = slot,
			     .cls = XDPFW_NO_CLASS };
	bpf_loop(104, probe6_next, &p, 0);
	return p.cls != XDPFW_NO_CLASS ? p.cls : b->cls;
}

static __always_inline __u64 be64_at(const __u8 *bytes)
{
	const __be32 *w = (const __be32 *)bytes;

	return ((__u64)bpf_ntohl(w[0]) << 32) | bpf_ntohl(w[1]);
}

/* One address field's vector: by trie or by table, as cfg_addr_mode says for the family. */
#define ADDR_MAPS(field)                                                                          \
	&xdpfw_##field##4, &xdpfw_##field##4_l16, &xdpfw_##field##4_bkt, &xdpfw_##field##4_rank,  \
	&xdpfw_##field##4_quick, &xdpfw_##field##4_rec, &xdpfw_##field##4_hash, &xdpfw_##field##6, \
	&xdpfw_##field##6_l16, &xdpfw_##field##6_bkt, &xdpfw_##field##6_rank,                      \
	&xdpfw_##field##6_quick, &xdpfw_##field##6_rec

static __always_inline const struct xdpfw_vector *
addr_vector(__u32 slot4, __u32 slot6, void *trie4, void *l16_4, void *bkt4, void *rank4, void *quick4,
	    void *rec4, void *hash4, void *trie6, void *l16_6, void *bkt6, void *rank6, void *quick6,
	    void *rec6, struct xdpfw_lpm6_key *key, const struct xdpfw_pkt *p)
{
	if (p->family == XDPFW_FAMILY_IPV4) {
		if (cfg_addr_mode[slot4] == XDPFW_ADDR_TABLE)
			return class_vector(table_class4(l16_4, bkt4, rank4, quick4, rec4, hash4,
							 cfg_addr_host[slot4], bpf_ntohl(*(__be32 *)key->addr)));
		return vector_of(bpf_map_lookup_elem(trie4, key));
	}
	if (cfg_addr_mode[slot6] == XDPFW_ADDR_TABLE) /* its hashes: in probe6() */
		return class_vector(table_class6(slot6, l16_6, bkt6, rank6, quick6, rec6, be64_at(key->addr),
						 be64_at(key->addr + 8)));
	return vector_of(bpf_map_lookup_elem(trie6, key));
}

/* The vectors of a packet's fields; a field switched off has none. */
struct xdpfw_field_vectors {
	const struct xdpfw_vector *proto, *src, *dst, *sport, *dport, *flags, *icmp;
};

/*
 * The lowest rule set in every enabled field's vector, or XDPFW_NO_RULE.
 * Aggregated bit vectors: only the words every field's summary keeps.
 *
 * `fields` is a compile-time constant in each copy first_rule_of() makes, so
 * the word loop holds only the enabled fields' loads, in registers: the same
 * loop with the field tests made at run time (cfg_fields is known to the
 * verifier, not to clang) keeps them and spills its pointers, which cost
 * ~10 ns a packet cold at 4,096 rules (README, "Where the time goes").
 */
static __always_inline __u32 first_rule(__u32 fields, __u32 nwords, const struct xdpfw_field_vectors *vs)
{
	const struct xdpfw_vector *proto = vs->proto, *src = vs->src, *dst = vs->dst;
	const struct xdpfw_vector *sport = vs->sport, *dport = vs->dport, *flags = vs->flags, *icmp = vs->icmp;
	__u32 i, w;
	__u64 summary;

	summary = proto->summary;
	if (fields & FIELD_BIT(XDPFW_FIELD_SRC))
		summary &= src->summary;
	if (fields & FIELD_BIT(XDPFW_FIELD_DST))
		summary &= dst->summary;
	if (fields & FIELD_BIT(XDPFW_FIELD_SPORT))
		summary &= sport->summary;
	if (fields & FIELD_BIT(XDPFW_FIELD_DPORT))
		summary &= dport->summary;
	if (fields & FIELD_BIT(XDPFW_FIELD_TCPFLAGS))
		summary &= flags->summary;
	if (fields & FIELD_BIT(XDPFW_FIELD_ICMPTYPE))
		summary &= icmp->summary;
	if (nwords < XDPFW_MAX_WORDS)
		summary &= (1ULL << nwords) - 1;

	for (i = 0; i < XDPFW_MAX_WORDS; i++) {
		__u64 acc;

		if (!summary)
			break;
		w = lowest_bit(summary) % XDPFW_MAX_WORDS;
		summary &= summary - 1;
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
		if (acc)
			return w * 64 + lowest_bit(acc);
	}
	return XDPFW_NO_RULE;
}

/*
 * first_rule() for cfg_fields, with the field set as a constant: one copy
 * per set of fields (PROTO and any of the other six), of which the verifier
 * keeps the one cfg_fields selects and removes the rest before the JIT.
 */
#define FIRST_RULE_CASE(k) \
	case 1 | ((k) << 1): return first_rule(1 | ((k) << 1), nwords, vs);
#define FIRST_RULE_CASES4(k) FIRST_RULE_CASE(k) FIRST_RULE_CASE(k + 1) FIRST_RULE_CASE(k + 2) FIRST_RULE_CASE(k + 3)
#define FIRST_RULE_CASES16(k) FIRST_RULE_CASES4(k) FIRST_RULE_CASES4(k + 4) FIRST_RULE_CASES4(k + 8) FIRST_RULE_CASES4(k + 12)

static __always_inline __u32 first_rule_of(__u32 fields, __u32 nwords, const struct xdpfw_field_vectors *vs)
{
	switch (fields) {
	FIRST_RULE_CASES16(0)
	FIRST_RULE_CASES16(16)
	FIRST_RULE_CASES16(32)
	FIRST_RULE_CASES16(48)
	default:
		return first_rule(fields, nwords, vs);
	}
}

/* First rule whose every enabled field holds, as a verdict; else the default. */
static __always_inline void classify(const struct xdpfw_pkt *p, struct xdpfw_addrs *a,
				     struct xdpfw_verdict *v)
{
	struct xdpfw_field_vectors vs = {};
	__u32 fields = cfg_fields;
	__u32 key = p->family * 256 + p->proto;
	__u32 rule, *action;

	v->action = to_xdp(cfg_default_action);
	v->rule = XDPFW_NO_RULE;
	v->counter = XDPFW_CNT_DEFAULT;

	vs.proto = vector_of(bpf_map_lookup_elem(&xdpfw_proto_cls, &key));
	if (!vs.proto)
		return;
	if (fields & FIELD_BIT(XDPFW_FIELD_SRC)) {
		vs.src = addr_vector(XDPFW_ADDR_SRC4, XDPFW_ADDR_SRC6, ADDR_MAPS(src), &a->src, p);
		if (!vs.src)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_DST)) {
		vs.dst = addr_vector(XDPFW_ADDR_DST4, XDPFW_ADDR_DST6, ADDR_MAPS(dst), &a->dst, p);
		if (!vs.dst)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_SPORT)) {
		vs.sport = table_vector(&xdpfw_sport_cls, XDPFW_FIELD_SPORT, p->sport, p);
		if (!vs.sport)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_DPORT)) {
		vs.dport = table_vector(&xdpfw_dport_cls, XDPFW_FIELD_DPORT, p->dport, p);
		if (!vs.dport)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_TCPFLAGS)) {
		vs.flags = table_vector(&xdpfw_tcpflags_cls, XDPFW_FIELD_TCPFLAGS, p->tcpflags, p);
		if (!vs.flags)
			return;
	}
	if (fields & FIELD_BIT(XDPFW_FIELD_ICMPTYPE)) {
		vs.icmp = table_vector(&xdpfw_icmptype_cls, XDPFW_FIELD_ICMPTYPE, p->icmptype, p);
		if (!vs.icmp)
			return;
	}

	rule = first_rule_of(fields, cfg_nwords, &vs);
	if (rule >= cfg_nrules) /* also XDPFW_NO_RULE: no word had a bit */
		return;
	action = bpf_map_lookup_elem(&xdpfw_actions, &rule);
	if (!action)
		return;
	v->action = to_xdp(*action);
	v->rule = rule;
}

/* ---- the linear path ------------------------------------------------------------ */

/* Whether an address (struct xdpfw_addrs' lin_*) lies in a rule's prefix of the packet's family. */
static __always_inline int lin_inside(const __u64 *addr, __u32 family, const volatile __u32 *prefix4,
				      const volatile __u64 *prefix6)
{
	if (family == XDPFW_FAMILY_IPV4)
		return ((__u32)addr[0] & prefix4[1]) == prefix4[0];
	return (addr[0] & prefix6[2]) == prefix6[0] && (addr[1] & prefix6[3]) == prefix6[1];
}

/* Whether a port lies in a rule's interval (low, high). */
static __always_inline int lin_in_range(__u16 port, const volatile __u32 *range)
{
	return port >= range[0] && port <= range[1];
}

/* Whether the packet carries every L4 field of `fields` (FIELD_BIT mask). */
static __always_inline int has_fields(const struct xdpfw_pkt *p, __u32 fields)
{
	return (p->present & fields) == fields;
}

/*
 * Whether rule i's checks all hold (xdpfw.h, "The linear path"). `checks` is
 * a frozen constant, so each test below of a field the rule does not check
 * is known false to the verifier, which removes the code it guards.
 */
static __always_inline int lin_matches(__u32 i, const struct xdpfw_pkt *p, const struct xdpfw_addrs *a)
{
	__u32 checks = cfg_lin_checks[i];
	__u32 l4 = checks & (FIELD_BIT(XDPFW_FIELD_SPORT) | FIELD_BIT(XDPFW_FIELD_DPORT) |
			     FIELD_BIT(XDPFW_FIELD_TCPFLAGS) | FIELD_BIT(XDPFW_FIELD_ICMPTYPE));

	if (!(checks & (XDPFW_LIN_IPV4 << p->family)))
		return 0;
	if ((checks & FIELD_BIT(XDPFW_FIELD_PROTO)) && p->proto != cfg_lin_proto[i])
		return 0;
	if (l4 && !has_fields(p, l4))
		return 0;
	if ((checks & FIELD_BIT(XDPFW_FIELD_SPORT)) && !lin_in_range(p->sport, &cfg_lin_sport[2 * i]))
		return 0;
	if ((checks & FIELD_BIT(XDPFW_FIELD_DPORT)) && !lin_in_range(p->dport, &cfg_lin_dport[2 * i]))
		return 0;
	if ((checks & FIELD_BIT(XDPFW_FIELD_TCPFLAGS)) &&
	    (p->tcpflags & cfg_lin_tcpflags[2 * i]) != cfg_lin_tcpflags[2 * i + 1])
		return 0;
	if ((checks & FIELD_BIT(XDPFW_FIELD_ICMPTYPE)) && p->icmptype != cfg_lin_icmptype[i])
		return 0;
	if ((checks & FIELD_BIT(XDPFW_FIELD_SRC)) &&
	    lin_inside(a->lin_src, p->family, &cfg_lin_src4[2 * i], &cfg_lin_src6[4 * i]) ==
		    !!(checks & XDPFW_LIN_SRC_NOT))
		return 0;
	if ((checks & FIELD_BIT(XDPFW_FIELD_DST)) &&
	    lin_inside(a->lin_dst, p->family, &cfg_lin_dst4[2 * i], &cfg_lin_dst6[4 * i]) ==
		    !!(checks & XDPFW_LIN_DST_NOT))
		return 0;
	return 1;
}

/* First rule whose checks all hold, tried in order; else the default. */
static __always_inline void classify_linear(const struct xdpfw_pkt *p, const struct xdpfw_addrs *a,
					    struct xdpfw_verdict *v)
{
	__u32 i;

	v->action = to_xdp(cfg_default_action);
	v->rule = XDPFW_NO_RULE;
	v->counter = XDPFW_CNT_DEFAULT;
#pragma unroll
	for (i = 0; i < XDPFW_LINEAR_MAX; i++) {
		if (i >= cfg_nrules)
			break;
		if (lin_matches(i, p, a)) {
			v->action = to_xdp(cfg_lin_action[i]);
			v->rule = i;
			return;
		}
	}
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
		if (cfg_linear)
			classify_linear(&p, &a, &v);
		else
			classify(&p, &a, &v);
	} else if (step == XDPFW_NON_IP) {
		v = (struct xdpfw_verdict){ XDP_PASS, XDPFW_NO_RULE, XDPFW_CNT_NON_IP };
	} else {
		v = (struct xdpfw_verdict){ XDP_DROP, XDPFW_NO_RULE, XDPFW_CNT_MALFORMED };
	}
	return count_exit(&v, bytes);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
