// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdpfw's data plane: parse (lib/parse.h), classify (lib/classify.h: Linear
 * Bit Vector Search with aggregated bit vectors, addresses by LPM trie or
 * address table, lib/addr_table.h; or, for a few simple rules, the linear
 * path, lib/linear.h: see xdpfw.h), answer what a `reject` decided
 * (lib/reject.h), then leave through one exit that counts the packet (and
 * hands it to a tracer or the log, lib/trace.h). `mode audit` passes what
 * the policy drops there, counted as a would-drop.
 *
 * Fields the policy does not use are switched off by cfg_fields, a frozen
 * .rodata constant (lib/config.h): the verifier knows its value and removes
 * their code.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpfw.h"
#include "lib/config.h"
#include "lib/maps.h"
#include "lib/structs.h"
#include "lib/parse.h"
#include "lib/bits.h"
#include "lib/addr_table.h"
#include "lib/classify.h"
#include "lib/linear.h"
#include "lib/ct.h"
#include "lib/trace.h"
#include "lib/reject.h"

/* ---- the one exit ------------------------------------------------------------- */

static __always_inline int count_exit(const struct xdpfw_verdict *v, __u64 bytes)
{
	if (v->rule != XDPFW_NO_RULE)
		count(&xdpfw_rule_counters, v->rule, bytes);
	else
		count(&xdpfw_counters, v->counter, bytes);
	return v->action;
}

/* `mode audit`: what the policy drops or rejects is marked as not enforced, traced so, then counted and passed. */
static __always_inline void audit_mode_mark(struct xdpfw_verdict *v)
{
	if (v->action != XDP_PASS)
		v->flags |= XDPFW_EVENT_AUDIT;
}

static __always_inline void audit_mode_pass(struct xdpfw_verdict *v, __u64 bytes)
{
	if (v->flags & XDPFW_EVENT_AUDIT) {
		count(&xdpfw_counters, XDPFW_CNT_WOULD_DROP, bytes);
		v->action = XDP_PASS; /* and so no reject is answered */
	}
}

SEC("xdp")
int xdpfw_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xdpfw_cursor c = { .pos = data, .end = data_end, .start = data };
	struct xdpfw_pkt p = {};
	struct xdpfw_addrs a;
	struct xdpfw_verdict v;
	struct xdpfw_ct_found found;
	__u64 bytes = data_end - data;
	__u64 now = 0;
	int step;

	step = parse_packet(&c, &p, &a, 0);
	if (step == XDPFW_CONTINUE) {
		if (p.fragment)
			count(&xdpfw_counters, XDPFW_CNT_FRAGMENT, bytes);
		if (cfg_ct) {
			if (cfg_ct_given) {
				p.ctstate = ct_given();
			} else {
				now = bpf_ktime_get_coarse_ns();
				p.ctstate = ct_inbound(data, data_end, &p, &a.ct, &found, now);
			}
			p.present |= FIELD_BIT(XDPFW_FIELD_CTSTATE);
		}
		if (cfg_linear)
			classify_linear(&p, &a, &v);
		else
			classify(&p, &a, &v);
		if (cfg_ct && !cfg_ct_given && v.action == XDP_PASS)
			ct_commit(&p, &a.ct, &found, now);
	} else if (step == XDPFW_NON_IP) {
		v = (struct xdpfw_verdict){ XDP_PASS, XDPFW_NO_RULE, XDPFW_CNT_NON_IP };
	} else {
		v = (struct xdpfw_verdict){ XDP_DROP, XDPFW_NO_RULE, XDPFW_CNT_MALFORMED };
	}
	if (cfg_audit_mode)
		audit_mode_mark(&v);
	trace_decision(ctx, &v); /* before a reject's answer rewrites the frame */
	if (cfg_audit_rules)
		trace_audited(ctx, bytes);
	if (cfg_audit_mode)
		audit_mode_pass(&v, bytes);
	if (step == XDPFW_CONTINUE && v.action == XDP_TX) {
		/* cfg_reject: no reject in the policy, no answer code; a stray reject only drops. */
		v.action = cfg_reject ? reject_packet(ctx, bytes, &a.ct) : XDP_DROP;
		if (cfg_reject)
			count(&xdpfw_counters, v.action == XDP_TX ? XDPFW_CNT_REJECT_SENT : XDPFW_CNT_REJECT_SUPPRESSED,
			      bytes);
	}
	return count_exit(&v, bytes);
}

/*
 * On the egress of an interface whose policy uses `ct` (tcx, or clsact):
 * records what leaves, never drops. TC_ACT_UNSPEC lets the next program
 * (or the default) decide.
 */
#define EGRESS_HEADERS 256 /* Ethernet, 2 tags, IPv6 and its extension headers, L4 */

SEC("tc")
int xdpfw_egress(struct __sk_buff *skb)
{
	void *data, *data_end;
	struct xdpfw_cursor c;
	struct xdpfw_pkt p = {};
	struct xdpfw_addrs a;

	if (!cfg_ct)
		return -1;
	/* The headers the parser reads must be in the linear part. */
	if (skb->data_end - skb->data < EGRESS_HEADERS && skb->data_end - skb->data < skb->len)
		bpf_skb_pull_data(skb, skb->len < EGRESS_HEADERS ? skb->len : EGRESS_HEADERS);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	c = (struct xdpfw_cursor){ .pos = data, .end = data_end, .start = data };
	if (parse_packet(&c, &p, &a, 1) == XDPFW_CONTINUE)
		ct_record(data, data_end, &p, &a.ct, skb->ifindex);
	return -1; /* TC_ACT_UNSPEC, TCX_NEXT */
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
