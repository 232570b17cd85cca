/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `xdpfw trace` in the program (docs/DESIGN.md, "Tracing"). While nobody
 * traces, the exit reads one word (xdpfw_trace_cfg's `on`, a lookup the
 * verifier turns into an address) and branches past all of this. While a
 * tracer is on, each decision goes through its filters (verdict, rule,
 * source and destination prefixes), then its token bucket, then into the
 * ring with the frame's first XDPFW_TRACE_SNAPLEN bytes.
 */
#ifndef XDPFW_LIB_TRACE_H
#define XDPFW_LIB_TRACE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../xdpfw.h"
#include "limit.h"
#include "maps.h"
#include "structs.h"
#include "trace_maps.h"

static __always_inline void trace_stat(__u32 index)
{
	__u64 *n = bpf_map_lookup_elem(&xdpfw_trace_stats, &index);

	if (n)
		*n += 1;
}

/*
 * The address at `at` of the captured bytes lies in the filter's prefix.
 * Whole bytes, then the last partial one; bounded loops the verifier walks.
 */
static __always_inline int prefix_holds(const struct xdpfw_trace_prefix *f, const __u8 *data, __u32 at, __u32 family)
{
	__u32 len = f->len, i;

	if (f->family != family)
		return 0;
	for (i = 0; i < 16; i++) {
		__u32 bits = len > 8 * i ? len - 8 * i : 0;
		__u8 mask = bits >= 8 ? 0xff : (__u8)(0xff00 >> bits);
		__u32 off = at + i;

		if (!bits)
			break;
		if (off >= XDPFW_TRACE_SNAPLEN)
			return 0;
		if ((data[off] & mask) != f->addr[i])
			return 0;
	}
	return 1;
}

/*
 * The address filters, on the captured bytes: the parser keeps only the
 * addresses the policy's rules read, so the tracer's are found again here
 * (Ethernet, up to two VLAN tags, the IP header's addresses).
 */
static __always_inline int addresses_hold(const struct xdpfw_trace_config *cfg, const struct xdpfw_trace_event *e)
{
	const __u8 *d = e->data;
	__u32 at = ETH_HLEN, family, src, dst, i;
	__u16 type;

	if (e->captured < ETH_HLEN)
		return 0;
	type = (__u16)d[12] << 8 | d[13];
	for (i = 0; i < XDPFW_MAX_VLAN_TAGS; i++) {
		if (type != ETH_P_8021Q && type != ETH_P_8021AD)
			break;
		if (at + 4 > e->captured)
			return 0;
		type = (__u16)d[at + 2] << 8 | d[at + 3];
		at += 4;
	}
	if (type == ETH_P_IP) {
		family = XDPFW_FAMILY_IPV4;
		src = at + 12;
		dst = at + 16;
	} else if (type == ETH_P_IPV6) {
		family = XDPFW_FAMILY_IPV6;
		src = at + 8;
		dst = at + 24;
	} else {
		return 0;
	}
	if (dst + (family == XDPFW_FAMILY_IPV4 ? 4 : 16) > e->captured)
		return 0;
	if ((cfg->flags & XDPFW_TRACE_SRC) && !prefix_holds(&cfg->src, d, src, family))
		return 0;
	return !(cfg->flags & XDPFW_TRACE_DST) || prefix_holds(&cfg->dst, d, dst, family);
}

static __always_inline int rule_traced(const struct xdpfw_trace_config *cfg, __u32 rule)
{
	if (!(cfg->flags & XDPFW_TRACE_RULES))
		return 1;
	if (rule >= XDPFW_MAX_RULES)
		return !!(cfg->flags & XDPFW_TRACE_DEFAULT);
	return (cfg->rules[rule / 64] >> (rule % 64)) & 1;
}

/* The log's token bucket (bucket_take's empty_at): a global, zero at load, so it starts full. */
__u64 xdpfw_log_empty_at = 0;

/* Whether the tracer's verdict filter lets the event through: 1 << XDP_*, or the audit bit for what was not enforced. */
static __always_inline int verdict_traced(const struct xdpfw_trace_config *cfg, __u32 action, __u32 flags)
{
	__u32 bit = flags & XDPFW_EVENT_AUDIT ? XDPFW_TRACE_VERDICT_AUDIT : action & 31;

	return !cfg->actions || ((cfg->actions >> bit) & 1);
}

/* The event into `ring`, counting it in `sent` or `lost`. */
static __always_inline void emit_to(void *ring, struct xdpfw_trace_event *e, __u32 sent, __u32 lost)
{
	if (bpf_ringbuf_output(ring, e, sizeof(*e), 0))
		trace_stat(lost);
	else
		trace_stat(sent);
}

/*
 * One decision to the tracer's ring, if it wants it, and to the log ring
 * when the rule logs (XDPFW_EVENT_LOG). A global function: the verifier
 * checks it once, apart from the paths of the program calling it.
 */
__noinline int xdpfw_trace(struct xdp_md *ctx, __u32 rule, __u32 counter, __u32 action, __u32 flags)
{
	struct xdpfw_trace_config *cfg;
	struct xdpfw_trace_event *e;
	__u32 zero = 0;
	__u64 now, len, captured;
	int traced, logged;

	if (!ctx)
		return 0;
	cfg = bpf_map_lookup_elem(&xdpfw_trace_cfg, &zero);
	e = bpf_map_lookup_elem(&xdpfw_trace_scratch, &zero);
	if (!cfg || !e)
		return 0;
	traced = cfg->on && verdict_traced(cfg, action, flags) && rule_traced(cfg, rule);
	logged = !!(flags & XDPFW_EVENT_LOG);
	if (!traced && !logged)
		return 0;
	len = ctx->data_end - ctx->data;
	captured = len < XDPFW_TRACE_SNAPLEN ? len : XDPFW_TRACE_SNAPLEN;
	barrier_var(captured); /* bounded where the helper reads it, not as clang would fold it */
	if (captured == 0 || captured > XDPFW_TRACE_SNAPLEN || bpf_xdp_load_bytes(ctx, 0, e->data, captured))
		return 0;
	e->frame_len = len;
	e->captured = captured;
	if (traced && (cfg->flags & (XDPFW_TRACE_SRC | XDPFW_TRACE_DST)) && !addresses_hold(cfg, e))
		traced = 0;
	now = bpf_ktime_get_ns();
	e->time_ns = now;
	e->ifindex = ctx->ingress_ifindex;
	e->rule = rule;
	e->counter = counter;
	e->action = action;
	e->flags = flags;
	e->pad = 0;
	if (traced) {
		if (bucket_take(&cfg->empty_at, now, cfg->cost_ns, cfg->capacity_ns))
			emit_to(&xdpfw_trace_ring, e, XDPFW_TRACE_SENT, XDPFW_TRACE_LOST);
		else
			trace_stat(XDPFW_TRACE_SUPPRESSED);
	}
	if (logged) {
		if (bucket_take(&xdpfw_log_empty_at, now, XDPFW_LOG_COST_NS, XDPFW_LOG_COST_NS * XDPFW_LOG_BURST))
			emit_to(&xdpfw_log_ring, e, XDPFW_TRACE_LOG_SENT, XDPFW_TRACE_LOG_LOST);
		else
			trace_stat(XDPFW_TRACE_LOG_SUPPRESSED);
	}
	return traced || logged;
}

/* At the exit: one word read while nobody traces and no rule logs. */
static __always_inline void trace_decision(struct xdp_md *ctx, const struct xdpfw_verdict *v)
{
	__u32 zero = 0;
	struct xdpfw_trace_config *cfg = bpf_map_lookup_elem(&xdpfw_trace_cfg, &zero);

	if ((cfg && cfg->on) || (cfg_log && (v->flags & XDPFW_EVENT_LOG)))
		xdpfw_trace(ctx, v->rule, v->counter, v->action, v->flags);
}

/*
 * The audit rules that held for this packet (xdpfw_tail_check listed them
 * in the tail scratch): each counts the packet, and is traced (and logged)
 * as what it would have done. The list is emptied for the next packet.
 */
static __always_inline int trace_audited(struct xdp_md *ctx, __u64 bytes)
{
	struct xdpfw_tail_scratch *s;
	struct xdpfw_trace_config *cfg;
	__u32 zero = 0, i, n, rule, *action;

	s = bpf_map_lookup_elem(&xdpfw_tail_scratch, &zero);
	cfg = bpf_map_lookup_elem(&xdpfw_trace_cfg, &zero);
	if (!s || !cfg || !s->naudited)
		return 0;
	n = s->naudited;
	s->naudited = 0;
	for (i = 0; i < XDPFW_MAX_TAIL_RULES && i < n; i++) {
		rule = s->audited[i];
		count(&xdpfw_rule_counters, rule, bytes);
		action = bpf_map_lookup_elem(&xdpfw_actions, &rule);
		if (!action)
			continue;
		if (cfg->on || action_flags(*action))
			xdpfw_trace(ctx, rule, XDPFW_CNT_DEFAULT, to_xdp(*action), XDPFW_EVENT_AUDIT | action_flags(*action));
	}
	return n;
}

#endif /* XDPFW_LIB_TRACE_H */
