/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The linear path (xdpfw.h, "The linear path"): a few simple rules checked
 * one after the other from .rodata; the classification maps are never read.
 */
#ifndef XDPFW_LIB_LINEAR_H
#define XDPFW_LIB_LINEAR_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../xdpfw.h"
#include "config.h"
#include "structs.h"

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
	if ((checks & FIELD_BIT(XDPFW_FIELD_CTSTATE)) && !(cfg_lin_ctstate[i] & (1u << p->ctstate)))
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
	v->flags = 0;
#pragma unroll
	for (i = 0; i < XDPFW_LINEAR_MAX; i++) {
		if (i >= cfg_nrules)
			break;
		if (lin_matches(i, p, a)) {
			v->action = to_xdp(cfg_lin_action[i]);
			v->flags = action_flags(cfg_lin_action[i]);
			v->rule = i;
			return;
		}
	}
}

#endif /* XDPFW_LIB_LINEAR_H */
