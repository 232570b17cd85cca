/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Classification by bit vectors (xdpfw.h): each enabled field's value
 * looked up to its class's vector, addresses by LPM trie or address table,
 * then the lowest rule set in all of them.
 */
#ifndef XDPFW_LIB_CLASSIFY_H
#define XDPFW_LIB_CLASSIFY_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../xdpfw.h"
#include "addr_table.h"
#include "bits.h"
#include "config.h"
#include "limit.h"
#include "maps.h"
#include "structs.h"

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
	const struct xdpfw_vector *proto, *src, *dst, *sport, *dport, *flags, *icmp, *ct;
};

/*
 * The lowest rule from `from` on set in every enabled field's vector, or
 * XDPFW_NO_RULE. Aggregated bit vectors: only the words every field's
 * summary keeps. `from` is 0 but when a rule's tail failed.
 *
 * `fields` is a compile-time constant in each copy first_rule_of() makes, so
 * the word loop holds only the enabled fields' loads, in registers: the same
 * loop with the field tests made at run time (cfg_fields is known to the
 * verifier, not to clang) keeps them and spills its pointers, which cost
 * ~10 ns a packet cold at 4,096 rules (bench:kernel).
 */
static __always_inline __u32 first_rule(__u32 fields, __u32 nwords, const struct xdpfw_field_vectors *vs,
				      __u32 from)
{
	const struct xdpfw_vector *proto = vs->proto, *src = vs->src, *dst = vs->dst;
	const struct xdpfw_vector *sport = vs->sport, *dport = vs->dport, *flags = vs->flags, *icmp = vs->icmp;
	const struct xdpfw_vector *ct = vs->ct;
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
	if (fields & FIELD_BIT(XDPFW_FIELD_CTSTATE))
		summary &= ct->summary;
	if (nwords < XDPFW_MAX_WORDS)
		summary &= (1ULL << nwords) - 1;
	if (from >= XDPFW_MAX_RULES)
		return XDPFW_NO_RULE;
	summary &= ~0ULL << (from / 64);

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
		if (fields & FIELD_BIT(XDPFW_FIELD_CTSTATE))
			acc &= ct->word[w];
		if (w == from / 64)
			acc &= ~0ULL << (from % 64);
		if (acc)
			return w * 64 + lowest_bit(acc);
	}
	return XDPFW_NO_RULE;
}

/*
 * first_rule() for cfg_fields, with the field set as a constant: one copy
 * per set of fields (PROTO and any of the other seven), of which the verifier
 * keeps the one cfg_fields selects and removes the rest before the JIT.
 */
#define FIRST_RULE_CASE(k) \
	case 1 | ((k) << 1): return first_rule(1 | ((k) << 1), nwords, vs, from);
#define FIRST_RULE_CASES4(k) FIRST_RULE_CASE(k) FIRST_RULE_CASE(k + 1) FIRST_RULE_CASE(k + 2) FIRST_RULE_CASE(k + 3)
#define FIRST_RULE_CASES16(k) FIRST_RULE_CASES4(k) FIRST_RULE_CASES4(k + 4) FIRST_RULE_CASES4(k + 8) FIRST_RULE_CASES4(k + 12)

static __always_inline __u32 first_rule_of(__u32 fields, __u32 nwords, const struct xdpfw_field_vectors *vs,
					 __u32 from)
{
	switch (fields) {
	FIRST_RULE_CASES16(0)
	FIRST_RULE_CASES16(16)
	FIRST_RULE_CASES16(32)
	FIRST_RULE_CASES16(48)
	FIRST_RULE_CASES16(64)
	FIRST_RULE_CASES16(80)
	FIRST_RULE_CASES16(96)
	FIRST_RULE_CASES16(112)
	default:
		return first_rule(fields, nwords, vs, from);
	}
}

enum tail_outcome {
	TAIL_NONE = 0,  /* the rule has no tail: it decides */
	TAIL_HOLDS = 1, /* it decides (and has banned, if it bans) */
	TAIL_FAILS = 2,
};

/*
 * A rule's tail checked, and its ban written. A global function, which the
 * verifier checks once, on its own: in line, its paths (family, prefix
 * lengths, expired entries, the bucket's retries) were checked again for
 * every state of the caller, and with `ct` in the policy that passed the
 * million instructions; and a function of its own keeps its stack frame
 * apart from the caller's.
 */
__noinline int xdpfw_tail_check(__u32 rule)
{
	struct xdpfw_tail_scratch *s;
	const struct xdpfw_tail *t;
	__u32 zero = 0;

	t = bpf_map_lookup_elem(&xdpfw_tails, &rule);
	s = bpf_map_lookup_elem(&xdpfw_tail_scratch, &zero);
	if (!t || !t->flags || !s)
		return TAIL_NONE;
	if (!s->now)
		s->now = tail_now(0);
	if (!tail_holds(t, rule, s))
		return TAIL_FAILS;
	if (t->flags & XDPFW_TAIL_AUDIT) {
		/* The exit counts and traces it (it has the frame); an audit rule never bans. */
		if (s->naudited < XDPFW_MAX_TAIL_RULES)
			s->audited[s->naudited++ & (XDPFW_MAX_TAIL_RULES - 1)] = rule;
		return TAIL_FAILS;
	}
	if (t->flags & XDPFW_TAIL_BAN)
		ban(t, s);
	return TAIL_HOLDS;
}

/*
 * With tails (cfg_tails): `rule` is the first whose stateless matches hold;
 * while its tail fails, the next one is tried. Returns the rule that
 * decides, or XDPFW_NO_RULE. At most XDPFW_MAX_TAIL_RULES tails can fail,
 * hence the bound.
 */
static __always_inline __u32 decide_with_tails(const struct xdpfw_field_vectors *vs, const struct xdpfw_pkt *p,
					       const struct xdpfw_addrs *a, __u32 rule)
{
	const struct xdpfw_tail *t;
	struct xdpfw_tail_scratch *s;
	__u32 zero = 0, i;

	/* Most packets meet no rule, or a rule without a tail: they need no scratch. */
	if (rule >= cfg_nrules)
		return XDPFW_NO_RULE;
	t = bpf_map_lookup_elem(&xdpfw_tails, &rule);
	if (!t || !t->flags)
		return rule;
	s = bpf_map_lookup_elem(&xdpfw_tail_scratch, &zero);
	if (!s)
		return rule;
	s->now = 0;
	s->now_fine = 0;
	s->family = p->family;
	__builtin_memcpy(s->src, a->src.addr, 16);
	__builtin_memcpy(s->dst, a->dst.addr, 16);
#pragma clang loop unroll(disable)
	for (i = 0; i <= XDPFW_MAX_TAIL_RULES; i++) {
		if (rule >= cfg_nrules)
			return XDPFW_NO_RULE;
		if (xdpfw_tail_check(rule) != TAIL_FAILS)
			return rule;
		/* cfg_fields, not a copy: the verifier knows a frozen constant's value, not a carried one's */
		rule = first_rule_of(cfg_fields, cfg_nwords, vs, rule + 1);
	}
	return XDPFW_NO_RULE;
}

/* First rule whose every enabled field (and tail) holds, as a verdict; else the default. */
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
	v->flags = 0;

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
	if (fields & FIELD_BIT(XDPFW_FIELD_CTSTATE)) {
		vs.ct = table_vector(&xdpfw_ctstate_cls, XDPFW_FIELD_CTSTATE, p->ctstate, p);
		if (!vs.ct)
			return;
	}

	rule = first_rule_of(fields, cfg_nwords, &vs, 0);
	if (cfg_tails)
		rule = decide_with_tails(&vs, p, a, rule);
	if (rule >= cfg_nrules) /* also XDPFW_NO_RULE: no word had a bit */
		return;
	action = bpf_map_lookup_elem(&xdpfw_actions, &rule);
	if (!action)
		return;
	v->action = to_xdp(*action);
	v->flags = action_flags(*action);
	v->rule = rule;
}

#endif /* XDPFW_LIB_CLASSIFY_H */
