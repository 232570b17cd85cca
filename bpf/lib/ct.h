/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Connection tracking (docs/DESIGN.md, "Connection tracking"): the egress
 * program records what leaves (ct_record), the XDP program gives each
 * inbound packet its state before classification (ct_inbound) and moves
 * the entry once the policy let the packet pass (ct_commit). Only programs
 * whose policy uses `ct` run any of it (cfg_ct).
 */
#ifndef XDPFW_LIB_CT_H
#define XDPFW_LIB_CT_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../xdpfw.h"
#include "config.h"
#include "ct_maps.h"
#include "parse.h"
#include "structs.h"

#define NS_PER_SECOND 1000000000ull
/*
 * Bounds an offset for the verifier, which gives a packet pointer no range
 * when its offset may pass 64 KiB; headers lie far closer to the start.
 */
#define CT_L4_MAX 0x3fff

enum ct_table {
	CT_TCP = 0,
	CT_UDP = 1, /* and every protocol but TCP and ICMP echo */
	CT_ICMP = 2,
};

static __always_inline int is_icmp(const struct xdpfw_pkt *p)
{
	return (p->family == XDPFW_FAMILY_IPV4 && p->proto == IPPROTO_ICMP) ||
	       (p->family == XDPFW_FAMILY_IPV6 && p->proto == IPPROTO_ICMPV6);
}

static __always_inline int icmp_echo_request(__u32 family, __u32 type)
{
	return family == XDPFW_FAMILY_IPV4 ? type == 8 : type == 128;
}

static __always_inline int icmp_echo(__u32 family, __u32 type)
{
	return family == XDPFW_FAMILY_IPV4 ? type == 8 || type == 0 : type == 128 || type == 129;
}

static __always_inline int icmp_error(__u32 family, __u32 type)
{
	if (family == XDPFW_FAMILY_IPV4)
		return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
	return type >= 1 && type <= 4;
}

static __always_inline struct xdpfw_ct_entry *ct_lookup(__u32 table, const struct xdpfw_ct_key *k)
{
	if (table == CT_TCP)
		return bpf_map_lookup_elem(&xdpfw_ct_tcp, k);
	if (table == CT_ICMP)
		return bpf_map_lookup_elem(&xdpfw_ct_icmp, k);
	return bpf_map_lookup_elem(&xdpfw_ct_udp, k);
}

static __always_inline void ct_insert(__u32 table, const struct xdpfw_ct_key *k, const struct xdpfw_ct_entry *e)
{
	if (table == CT_TCP)
		bpf_map_update_elem(&xdpfw_ct_tcp, k, e, BPF_ANY);
	else if (table == CT_ICMP)
		bpf_map_update_elem(&xdpfw_ct_icmp, k, e, BPF_ANY);
	else
		bpf_map_update_elem(&xdpfw_ct_udp, k, e, BPF_ANY);
}

static __always_inline void ct_stat(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&xdpfw_ct_stats, &index);

	if (n)
		(*n)++;
}

static __always_inline const struct xdpfw_ct_config *ct_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xdpfw_ct_config, &zero);
}

/* The timeout of an entry in `state` of `table`. */
static __always_inline __u64 ct_timeout(const struct xdpfw_ct_config *cfg, __u32 table, __u32 state)
{
	if (table == CT_ICMP)
		return cfg->timeout_ns[XDPFW_CT_T_ICMP];
	switch (state) {
	case XDPFW_CTE_SYN_SENT:
	case XDPFW_CTE_SYN_RECV:
		return cfg->timeout_ns[XDPFW_CT_T_SYN];
	case XDPFW_CTE_ESTABLISHED:
		return cfg->timeout_ns[XDPFW_CT_T_ESTABLISHED];
	case XDPFW_CTE_CLOSING:
		return cfg->timeout_ns[XDPFW_CT_T_CLOSE];
	case XDPFW_CTE_REPLIED:
		return cfg->timeout_ns[XDPFW_CT_T_UDP_STREAM];
	default:
		return cfg->timeout_ns[XDPFW_CT_T_UDP];
	}
}

/* Moves the deadline for the entry's state, only by a second or more: a busy flow seldom writes. */
static __always_inline void ct_refresh(struct xdpfw_ct_entry *e, const struct xdpfw_ct_config *cfg, __u32 table,
				       __u64 now)
{
	__u64 deadline = now + ct_timeout(cfg, table, e->state);

	if (deadline >= e->deadline + XDPFW_CT_REFRESH_SECONDS * NS_PER_SECOND)
		e->deadline = deadline;
}

/*
 * Moves the entry to `state`: a new state sets its deadline, even backwards
 * (established → closing); the same state refreshes it, but for an inbound
 * packet of a closing connection.
 */
static __always_inline void ct_enter(struct xdpfw_ct_entry *e, const struct xdpfw_ct_config *cfg, __u32 table,
				     __u32 state, __u64 now, int egress)
{
	if (e->state != state) {
		e->state = state;
		e->deadline = now + ct_timeout(cfg, table, state);
	} else if (egress || state != XDPFW_CTE_CLOSING) {
		ct_refresh(e, cfg, table, now);
	}
}

/* A FIN from this side; closing once both sides sent one. Returns whether it closed. */
static __always_inline int ct_fin(struct xdpfw_ct_entry *e, const struct xdpfw_ct_config *cfg, __u64 now, int egress)
{
	e->flags |= egress ? XDPFW_CTF_FIN_OUT : XDPFW_CTF_FIN_IN;
	if ((e->flags & (XDPFW_CTF_FIN_OUT | XDPFW_CTF_FIN_IN)) != (XDPFW_CTF_FIN_OUT | XDPFW_CTF_FIN_IN))
		return 0;
	ct_enter(e, cfg, CT_TCP, XDPFW_CTE_CLOSING, now, egress);
	return 1;
}

static __always_inline int syn_only(__u32 flags)
{
	return (flags & (XDPFW_TCP_SYN | XDPFW_TCP_ACK | XDPFW_TCP_RST | XDPFW_TCP_FIN)) == XDPFW_TCP_SYN;
}

/*
 * The flood guard (Katran's is_under_flood): each CPU creates at most
 * flood_per_cpu half-open entries a second. Counts the refusals, and each
 * second with one.
 */
static __always_inline int ct_half_open_allowed(const struct xdpfw_ct_config *cfg, __u64 now)
{
	__u32 zero = 0;
	struct xdpfw_ct_flood_window *w = bpf_map_lookup_elem(&xdpfw_ct_flood, &zero);
	__u64 second = now / NS_PER_SECOND;

	if (!w)
		return 0;
	if (w->second != second) {
		w->second = second;
		w->created = 0;
	}
	if (w->created < cfg->flood_per_cpu) {
		w->created++;
		return 1;
	}
	if (w->created == cfg->flood_per_cpu) {
		w->created++; /* this second is counted once */
		ct_stat(XDPFW_CTS_FLOOD_SECONDS);
	}
	ct_stat(XDPFW_CTS_FLOOD_REFUSED);
	return 0;
}

/* The two bytes at `off` from the frame's start, within the frame, or -1. */
static __always_inline int load_u16(void *start, void *end, __u32 off)
{
	__u8 *b = start + (off & CT_L4_MAX);

	if (off > CT_L4_MAX || (void *)(b + 2) > end)
		return -1;
	return (b[0] << 8) | b[1];
}

/*
 * The key of the packet an ICMP error embeds — one the host sent, so its
 * source is the local side — and its table. Returns 0 when the embedded
 * header is not there in full (the IP header, and 8 bytes of L4).
 */
static __always_inline int ct_inner_key(void *start, void *end, const struct xdpfw_pkt *p,
					const struct xdpfw_ct_pkt *ct, struct xdpfw_ct_key *k, __u32 *table)
{
	struct xdpfw_cursor c = { .start = start, .end = end };
	struct xdpfw_pkt inner = { .family = p->family };
	__u8 *l4;
	__u32 echo_type;

	if (ct->left < 8 || ct->l4 + 8 > CT_L4_MAX)
		return 0;
	c.pos = start + ((ct->l4 + 8) & CT_L4_MAX);
	c.left = ct->left - 8;
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	if (p->family == XDPFW_FAMILY_IPV4) {
		struct iphdr *ip = c.pos;
		__u32 hlen;

		if ((void *)(ip + 1) > end || c.left < sizeof(*ip) || ip->version != 4 || ip->ihl < 5)
			return 0;
		hlen = ip->ihl * 4;
		if (hlen > c.left || (ip->frag_off & bpf_htons(IPV4_OFFSET_MASK)))
			return 0;
		inner.proto = ip->protocol;
		__builtin_memcpy(k->local, &ip->saddr, 4);
		__builtin_memcpy(k->remote, &ip->daddr, 4);
		c.pos += hlen;
		c.left -= hlen;
	} else {
		struct ipv6hdr *ip6 = c.pos;

		if ((void *)(ip6 + 1) > end || c.left < sizeof(*ip6) || ip6->version != 6)
			return 0;
		inner.proto = ip6->nexthdr;
		__builtin_memcpy(k->local, &ip6->saddr, 16);
		__builtin_memcpy(k->remote, &ip6->daddr, 16);
		c.pos = ip6 + 1;
		c.left -= sizeof(*ip6);
		if (skip_ipv6_ext(&c, &inner, 0) != XDPFW_CONTINUE || inner.fragment)
			return 0;
	}
	l4 = c.pos;
	k->proto = inner.proto;
	echo_type = p->family == XDPFW_FAMILY_IPV4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	*table = CT_UDP;
	if (inner.proto != IPPROTO_TCP && inner.proto != IPPROTO_UDP && inner.proto != echo_type)
		return 1; /* tracked without ports: the IP headers are the whole key */
	if (c.left < 8 || (void *)(l4 + 8) > end)
		return 0;
	if (inner.proto == echo_type) {
		if (!icmp_echo(p->family, l4[0]))
			return 0;
		k->lport = (l4[4] << 8) | l4[5];
		*table = CT_ICMP;
		return 1;
	}
	k->lport = (l4[0] << 8) | l4[1];
	k->rport = (l4[2] << 8) | l4[3];
	if (inner.proto == IPPROTO_TCP)
		*table = CT_TCP;
	return 1;
}

/* A fragment's key in ct_frag: its addresses as sent (ct->key holds them from the host's side, inbound). */
static __always_inline void ct_frag_key(struct xdpfw_ct_frag_key *fk, const struct xdpfw_pkt *p,
					const struct xdpfw_ct_pkt *ct)
{
	__builtin_memset(fk, 0, sizeof(*fk));
	fk->id = ct->ipid;
	fk->proto = p->proto;
	fk->family = p->family;
	__builtin_memcpy(fk->src, ct->key.remote, 16);
	__builtin_memcpy(fk->dst, ct->key.local, 16);
}

/* ---- egress --------------------------------------------------------------- */

/*
 * A new entry for `k`; `old` is the entry the key had (expired, or closing
 * and reused), which the new one overwrites: counted apart, so that the
 * creations the tables do not hold tell the evictions.
 */
static __always_inline void ct_create(__u32 table, const struct xdpfw_ct_key *k, __u32 state, __u32 flags,
				      __u32 ifindex, const struct xdpfw_ct_config *cfg, __u64 now,
				      const struct xdpfw_ct_entry *old)
{
	struct xdpfw_ct_entry e = {
		.created = now,
		.state = state,
		.flags = flags,
		.ifindex = ifindex,
	};

	e.deadline = now + ct_timeout(cfg, table, state);
	ct_insert(table, k, &e);
	if (old)
		ct_stat(XDPFW_CTS_REUSED);
	ct_stat(table == CT_TCP ? XDPFW_CTS_CREATED_TCP : table == CT_ICMP ? XDPFW_CTS_CREATED_ICMP
									    : XDPFW_CTS_CREATED_UDP);
}

static __always_inline void ct_record_tcp(const struct xdpfw_ct_key *k, __u32 flags, __u32 ifindex,
					  const struct xdpfw_ct_config *cfg, __u64 now)
{
	struct xdpfw_ct_entry *e = ct_lookup(CT_TCP, k);
	int syn_no_ack = (flags & (XDPFW_TCP_SYN | XDPFW_TCP_ACK)) == XDPFW_TCP_SYN;

	if (!e || e->deadline <= now) {
		if (flags & XDPFW_TCP_SYN) {
			if (ct_half_open_allowed(cfg, now))
				ct_create(CT_TCP, k, syn_no_ack ? XDPFW_CTE_SYN_SENT : XDPFW_CTE_SYN_RECV, 0, ifindex,
					  cfg, now, e);
			return;
		}
		if (flags & XDPFW_TCP_RST)
			return;
		/* A connection older than the table: take it up. */
		ct_create(CT_TCP, k, XDPFW_CTE_ESTABLISHED, flags & XDPFW_TCP_FIN ? XDPFW_CTF_FIN_OUT : 0, ifindex,
			  cfg, now, e);
		return;
	}
	if (flags & XDPFW_TCP_RST) {
		ct_enter(e, cfg, CT_TCP, XDPFW_CTE_CLOSING, now, 1);
		return;
	}
	if (syn_no_ack && e->state == XDPFW_CTE_CLOSING) {
		/* The port is reused for a new connection. */
		ct_create(CT_TCP, k, XDPFW_CTE_SYN_SENT, 0, ifindex, cfg, now, e);
		return;
	}
	if ((flags & XDPFW_TCP_FIN) && ct_fin(e, cfg, now, 1))
		return;
	ct_refresh(e, cfg, CT_TCP, now);
}

/* Records a packet leaving through `ifindex`. */
static __always_inline void ct_record(void *start, void *end, const struct xdpfw_pkt *p,
				      struct xdpfw_ct_pkt *ct, __u32 ifindex)
{
	const struct xdpfw_ct_config *cfg = ct_config();
	struct xdpfw_ct_key *k = &ct->key;
	struct xdpfw_ct_entry *e;
	__u64 now = bpf_ktime_get_coarse_ns();
	__u32 table = CT_UDP;
	int id;

	if (!cfg || p->fragment)
		return;
	if (p->proto == IPPROTO_TCP) {
		ct_record_tcp(k, p->tcpflags, ifindex, cfg, now);
		return;
	}
	if (is_icmp(p)) {
		if (!icmp_echo(p->family, p->icmptype) || ct->left < 8)
			return;
		id = load_u16(start, end, ct->l4 + 4);
		if (id < 0)
			return;
		k->lport = id;
		table = CT_ICMP;
	}
	e = ct_lookup(table, k);
	if (!e || e->deadline <= now)
		ct_create(table, k, XDPFW_CTE_UNREPLIED, 0, ifindex, cfg, now, e);
	else
		ct_refresh(e, cfg, table, now);
}

/* ---- ingress -------------------------------------------------------------- */

/* The state a test run gives the packet (cfg_ct_given). */
static __always_inline __u32 ct_given(void)
{
	__u32 zero = 0, *state = bpf_map_lookup_elem(&xdpfw_ct_given, &zero);

	return state && *state < XDPFW_CT_NSTATES ? *state : XDPFW_CT_NEW;
}

/* What ct_inbound found, for ct_commit once the verdict is known. */
struct xdpfw_ct_found {
	struct xdpfw_ct_entry *entry; /* the live entry the packet belongs to, or 0 */
	__u32 table;
	__u32 tcpflags;
	__u16 sport, dport;           /* the ports a first fragment leaves for the others */
};

/* The state of a packet coming in; `f` says what ct_commit may move. */
static __always_inline __u32 ct_inbound(void *start, void *end, const struct xdpfw_pkt *p,
					struct xdpfw_ct_pkt *ct, struct xdpfw_ct_found *f, __u64 now)
{
	struct xdpfw_ct_key *k = &ct->key;
	struct xdpfw_ct_entry *e;
	__u32 table = p->proto == IPPROTO_TCP ? CT_TCP : CT_UDP, flags = p->tcpflags, request = 0;
	int id;

	f->entry = 0;
	f->sport = p->sport;
	f->dport = p->dport;
	if (p->fragment) {
		struct xdpfw_ct_frag_key fk;
		struct xdpfw_ct_frag *fr;

		ct_frag_key(&fk, p, ct);
		fr = bpf_map_lookup_elem(&xdpfw_ct_frag, &fk);
		if (!fr || fr->deadline <= now)
			return XDPFW_CT_INVALID;
		flags = 0;
		if (is_icmp(p)) {
			/* an echo's identifier is its local port, in whichever direction */
			k->lport = fr->sport;
			table = CT_ICMP;
		} else {
			k->lport = fr->dport;
			k->rport = fr->sport;
		}
	} else if (is_icmp(p)) {
		struct xdpfw_ct_key inner;

		if (icmp_error(p->family, p->icmptype)) {
			if (!ct_inner_key(start, end, p, ct, &inner, &table))
				return XDPFW_CT_INVALID;
			e = ct_lookup(table, &inner);
			return e && e->deadline > now ? XDPFW_CT_RELATED : XDPFW_CT_INVALID;
		}
		if (!icmp_echo(p->family, p->icmptype))
			return XDPFW_CT_NEW; /* neighbour discovery and the like: never tracked */
		id = load_u16(start, end, ct->l4 + 4);
		if (id < 0 || ct->left < 8)
			return XDPFW_CT_INVALID;
		k->lport = id;
		f->sport = f->dport = id;
		table = CT_ICMP;
		request = icmp_echo_request(p->family, p->icmptype);
	}

	e = ct_lookup(table, k);
	f->table = table;
	f->tcpflags = flags;
	if (e && e->deadline > now) {
		if (table == CT_TCP && e->state == XDPFW_CTE_CLOSING &&
		    (flags & (XDPFW_TCP_SYN | XDPFW_TCP_ACK)) == XDPFW_TCP_SYN)
			return XDPFW_CT_NEW;
		f->entry = e;
		return XDPFW_CT_ESTABLISHED;
	}
	if (table == CT_TCP)
		return syn_only(flags) ? XDPFW_CT_NEW : XDPFW_CT_INVALID;
	if (table == CT_ICMP)
		return request ? XDPFW_CT_NEW : XDPFW_CT_INVALID;
	return XDPFW_CT_NEW;
}

/* The packet passed: move its entry, and remember a first fragment's ports for the rest. */
static __always_inline void ct_commit(const struct xdpfw_pkt *p, const struct xdpfw_ct_pkt *ct,
				      const struct xdpfw_ct_found *f, __u64 now)
{
	const struct xdpfw_ct_config *cfg = ct_config();
	struct xdpfw_ct_entry *e = f->entry;
	__u32 flags = f->tcpflags;

	if (ct->first_frag) {
		struct xdpfw_ct_frag_key fk;
		struct xdpfw_ct_frag fr = { .sport = f->sport, .dport = f->dport };

		ct_frag_key(&fk, p, ct);
		fr.deadline = now + XDPFW_CT_FRAG_SECONDS * NS_PER_SECOND;
		bpf_map_update_elem(&xdpfw_ct_frag, &fk, &fr, BPF_ANY);
	}
	if (!e || !cfg)
		return;
	if (f->table != CT_TCP) {
		ct_enter(e, cfg, f->table, XDPFW_CTE_REPLIED, now, 0);
		return;
	}
	if (flags & XDPFW_TCP_RST) {
		ct_enter(e, cfg, CT_TCP, XDPFW_CTE_CLOSING, now, 0);
		return;
	}
	if ((flags & XDPFW_TCP_FIN) && ct_fin(e, cfg, now, 0))
		return;
	if ((e->state == XDPFW_CTE_SYN_SENT && (flags & XDPFW_TCP_SYN) && (flags & XDPFW_TCP_ACK)) ||
	    (e->state == XDPFW_CTE_SYN_RECV && (flags & XDPFW_TCP_ACK) && !(flags & XDPFW_TCP_SYN)))
		ct_enter(e, cfg, CT_TCP, XDPFW_CTE_ESTABLISHED, now, 0);
	else
		ct_enter(e, cfg, CT_TCP, e->state, now, 0);
}

#endif /* XDPFW_LIB_CT_H */
