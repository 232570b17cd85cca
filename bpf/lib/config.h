/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Load-time constants (.rodata), set by the loader before load and frozen
 * (xdpfw.h lists them): the verifier knows their values and removes the code
 * of what a policy does not use. The defaults are an "allow all" program.
 */
#ifndef XDPFW_LIB_CONFIG_H
#define XDPFW_LIB_CONFIG_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "../xdpfw.h"

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
const volatile __u32 cfg_ct = 0;
const volatile __u32 cfg_ct_given = 0;
const volatile __u32 cfg_tails = 0;
const volatile __u32 cfg_now_given = 0;
const volatile __u32 cfg_reject = 0;
const volatile __u32 cfg_audit_rules = 0;
const volatile __u32 cfg_audit_mode = 0;
const volatile __u32 cfg_log = 0;
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
const volatile __u32 cfg_lin_ctstate[XDPFW_LINEAR_MAX] = {};

/* Field f's bit in cfg_fields, cfg_lin_checks and struct xdpfw_pkt's present. */
#define FIELD_BIT(f) (1u << (f))

static __always_inline int field_on(__u32 field)
{
	return cfg_fields & FIELD_BIT(field);
}

#endif /* XDPFW_LIB_CONFIG_H */
