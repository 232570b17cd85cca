/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the stages hand each other: parsing fills struct xdpfw_pkt and
 * struct xdpfw_addrs with scalars, classification a struct xdpfw_verdict,
 * which the one exit counts.
 */
#ifndef XDPFW_LIB_STRUCTS_H
#define XDPFW_LIB_STRUCTS_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../xdpfw.h"

/* A parse step's outcome: go on, or the packet's fate. */
enum xdpfw_step {
	XDPFW_CONTINUE = 0,
	XDPFW_MALFORMED,
	XDPFW_NON_IP,
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
	__u8 ctstate;   /* enum xdpfw_ct_state, when cfg_ct */
};

/*
 * The addresses: LPM keys for the bit vectors (an IPv4 key uses the
 * xdpfw_lpm4_key prefix of the struct), or for the linear path the bytes
 * as loaded (IPv4: the first 4 bytes of [0]). Each path fills only its own.
 */
/*
 * What connection tracking needs beyond struct xdpfw_pkt, filled by the
 * parser only when cfg_ct (left uninitialised otherwise, at no cost).
 */
struct xdpfw_ct_pkt {
	/*
	 * The packet's connection key, from the host's side (local = the
	 * destination of a packet coming in, the source of one going out),
	 * written once by the parser: ct.h fills in the ports of ICMP echo and
	 * of non-first fragments.
	 */
	struct xdpfw_ct_key key;
	__u32 ipid;         /* IPv4 identification, IPv6 fragment header's; 0 when none */
	__u32 first_frag;   /* more fragments follow, and this is the first */
	__u32 l4;           /* offset of the L4 header from the frame's start (not for non-first fragments) */
	__u32 left;         /* datagram bytes from there on */
};

struct xdpfw_addrs {
	struct xdpfw_lpm6_key src;
	struct xdpfw_lpm6_key dst;
	__u64 lin_src[2];
	__u64 lin_dst[2];
	struct xdpfw_ct_pkt ct;
};

#define XDPFW_NO_CLASS 0xffffffffu /* a lookup missed: no vector, no rule matches */
#define XDPFW_NO_RULE 0xffffffffu

struct xdpfw_verdict {
	__u32 action;  /* XDP_DROP, XDP_PASS, or XDP_TX for a reject (to be answered) */
	__u32 rule;    /* matching rule, or XDPFW_NO_RULE */
	__u32 counter; /* XDPFW_CNT_*, charged when rule == XDPFW_NO_RULE */
	__u32 flags;   /* XDPFW_EVENT_*: the rule logs; `mode audit` passes what it decided */
};

static __always_inline __u32 to_xdp(__u32 action)
{
	action &= XDPFW_ACTION_MASK;
	/* Anything but an explicit allow drops: a corrupt action must not pass. */
	if (action == XDPFW_ACTION_REJECT)
		return XDP_TX;
	return action == XDPFW_ACTION_PASS ? XDP_PASS : XDP_DROP;
}

/*
 * The XDPFW_EVENT_* a rule's stored action carries (XDPFW_ACTION_LOG); none
 * unless a rule logs (cfg_log). Arithmetic, not a branch: a branch here
 * would double the paths the verifier walks through the rest of the program.
 */
static __always_inline __u32 action_flags(__u32 action)
{
	if (!cfg_log)
		return 0;
	return (action & XDPFW_ACTION_LOG) / (XDPFW_ACTION_LOG / XDPFW_EVENT_LOG);
}

#endif /* XDPFW_LIB_STRUCTS_H */
