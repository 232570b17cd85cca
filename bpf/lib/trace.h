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

/*
 * One decision to the ring, if the tracer wants it. A global function: the
 * verifier checks it once, apart from the paths of the program calling it.
 */
__noinline int xdpfw_trace(struct xdp_md *ctx, __u32 rule, __u32 counter, __u32 action)
{
	struct xdpfw_trace_config *cfg;
	struct xdpfw_trace_event *e;
	__u32 zero = 0;
	__u64 now, len, captured;

	if (!ctx)
		return 0;
	cfg = bpf_map_lookup_elem(&xdpfw_trace_cfg, &zero);
	e = bpf_map_lookup_elem(&xdpfw_trace_scratch, &zero);
	if (!cfg || !e || !cfg->on)
		return 0;
	if (cfg->actions && !((cfg->actions >> (action & 31)) & 1))
		return 0;
	if (!rule_traced(cfg, rule))
		return 0;
	len = ctx->data_end - ctx->data;
	captured = len < XDPFW_TRACE_SNAPLEN ? len : XDPFW_TRACE_SNAPLEN;
	barrier_var(captured); /* bounded where the helper reads it, not as clang would fold it */
	if (captured == 0 || captured > XDPFW_TRACE_SNAPLEN || bpf_xdp_load_bytes(ctx, 0, e->data, captured))
		return 0;
	e->frame_len = len;
	e->captured = captured;
	if ((cfg->flags & (XDPFW_TRACE_SRC | XDPFW_TRACE_DST)) && !addresses_hold(cfg, e))
		return 0;
	now = bpf_ktime_get_ns();
	if (!bucket_take(&cfg->empty_at, now, cfg->cost_ns, cfg->capacity_ns)) {
		trace_stat(XDPFW_TRACE_SUPPRESSED);
		return 0;
	}
	e->time_ns = now;
	e->ifindex = ctx->ingress_ifindex;
	e->rule = rule;
	e->counter = counter;
	e->action = action;
	if (bpf_ringbuf_output(&xdpfw_trace_ring, e, sizeof(*e), 0)) {
		trace_stat(XDPFW_TRACE_LOST);
		return 0;
	}
	trace_stat(XDPFW_TRACE_SENT);
	return 1;
}

/* At the exit: one word read while nobody traces. */
static __always_inline void trace_decision(struct xdp_md *ctx, const struct xdpfw_verdict *v)
{
	__u32 zero = 0;
	struct xdpfw_trace_config *cfg = bpf_map_lookup_elem(&xdpfw_trace_cfg, &zero);

	if (cfg && cfg->on)
		xdpfw_trace(ctx, v->rule, v->counter, v->action);
}

#endif /* XDPFW_LIB_TRACE_H */
