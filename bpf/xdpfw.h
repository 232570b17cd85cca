/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel/user contract of xdpfw: every map key and value, every limit and
 * every counter index is defined here once. The TypeScript side mirrors these
 * in src/xdp/layout.ts, and tests/kernel/xdp/layout.test.ts compares the two
 * against this file's BTF, so a layout change cannot drift silently.
 *
 * Classification is bpf-iptables' Linear Bit Vector Search. Every rule is a
 * bit. For each packet field (address, protocol, ports, TCP flags, ICMP type)
 * a lookup maps the packet's value to a *class*: the id of the bit vector of
 * rules whose match on that field holds for the value. Vectors are
 * deduplicated into one array (`xdpfw_vectors`), so a million set entries
 * that all match the same rules share one vector. The program ANDs the
 * vectors of the enabled fields word by word; the lowest set bit is the first
 * rule that matches; none means the interface's default action.
 */
#ifndef XDPFW_H
#define XDPFW_H

#ifndef XDPFW_MAX_RULES
#define XDPFW_MAX_RULES 4096 /* rules per interface */
#endif
#define XDPFW_MAX_WORDS (XDPFW_MAX_RULES / 64) /* u64 words per bit vector */

#ifndef XDPFW_MAX_VLAN_TAGS
#define XDPFW_MAX_VLAN_TAGS 2 /* 802.1Q / 802.1ad tags parsed; more is malformed */
#endif
#ifndef XDPFW_MAX_IPV6_EXT
#define XDPFW_MAX_IPV6_EXT 8 /* IPv6 extension headers skipped; more is malformed */
#endif

/*
 * Entries of the fixed-size class tables: the program declares these as the
 * tables' max_entries (the loader may shrink a disabled field's table to 1).
 */
#define XDPFW_PROTO_CLS_ENTRIES 512     /* 2 families * 256 protocols */
#define XDPFW_PORT_CLS_ENTRIES 65536    /* xdpfw_sport_cls / xdpfw_dport_cls */
#define XDPFW_TCPFLAGS_CLS_ENTRIES 256  /* xdpfw_tcpflags_cls */
#define XDPFW_ICMPTYPE_CLS_ENTRIES 256  /* xdpfw_icmptype_cls */

/* Actions, as stored in xdpfw_actions and cfg_default_action. */
#define XDPFW_ACTION_DROP 1 /* == XDP_DROP */
#define XDPFW_ACTION_PASS 2 /* == XDP_PASS */

/*
 * Fields. Bit i of cfg_fields enables field i; a field that no rule
 * constrains is switched off at load time and the verifier prunes its lookup.
 * XDPFW_FIELD_PROTO is always on: its vectors also hold the "rule exists" bits.
 */
enum xdpfw_field {
	XDPFW_FIELD_PROTO = 0, /* xdpfw_proto_cls[family * 256 + l4 protocol] */
	XDPFW_FIELD_SRC = 1,   /* xdpfw_src4 / xdpfw_src6 LPM tries */
	XDPFW_FIELD_DST = 2,   /* xdpfw_dst4 / xdpfw_dst6 LPM tries */
	XDPFW_FIELD_SPORT = 3, /* xdpfw_sport_cls[port] */
	XDPFW_FIELD_DPORT = 4, /* xdpfw_dport_cls[port] */
	XDPFW_FIELD_TCPFLAGS = 5, /* xdpfw_tcpflags_cls[flags byte] */
	XDPFW_FIELD_ICMPTYPE = 6, /* xdpfw_icmptype_cls[type], ICMP and ICMPv6 alike */
	XDPFW_NFIELDS = 7,
};

/* Family index used in xdpfw_proto_cls. */
#define XDPFW_FAMILY_IPV4 0
#define XDPFW_FAMILY_IPV6 1

/*
 * Absent values. A packet that has no value for a field uses the class in
 * cfg_absent_class[field] instead of a lookup: ports for non-TCP/UDP packets
 * and non-first fragments, TCP flags for non-TCP, ICMP type for non-ICMP.
 * Its vector holds exactly the rules that do not constrain that field.
 */

/* TCP flag bits, as in the TCP header's 13th byte. */
#define XDPFW_TCP_FIN 0x01
#define XDPFW_TCP_SYN 0x02
#define XDPFW_TCP_RST 0x04
#define XDPFW_TCP_PSH 0x08
#define XDPFW_TCP_ACK 0x10
#define XDPFW_TCP_URG 0x20
#define XDPFW_TCP_ECE 0x40
#define XDPFW_TCP_CWR 0x80

/* Global counters: xdpfw_counters[index]. */
enum xdpfw_counter_index {
	XDPFW_CNT_DEFAULT = 0,   /* no rule matched; the default action applied */
	XDPFW_CNT_MALFORMED = 1, /* truncated or invalid header: always dropped */
	XDPFW_CNT_NON_IP = 2,    /* not IPv4/IPv6 (ARP, LLDP, …): always passed */
	XDPFW_CNT_FRAGMENT = 3,  /* non-first IP fragments (also counted by their rule) */
	XDPFW_NCOUNTERS = 4,
};

/* ---- map keys and values ------------------------------------------------ */

/* Key of xdpfw_src4 / xdpfw_dst4 (BPF_MAP_TYPE_LPM_TRIE). Address in network order. */
struct xdpfw_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

/* Key of xdpfw_src6 / xdpfw_dst6 (BPF_MAP_TYPE_LPM_TRIE). */
struct xdpfw_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/*
 * Every LPM trie holds a /0 entry whose class is the vector for "no set entry
 * contains the address", so a lookup never misses. All *_cls array values and
 * LPM values are __u32 class ids: indexes into xdpfw_vectors.
 */

/* Value of xdpfw_vectors (BPF_MAP_TYPE_ARRAY, max_entries = number of classes). */
struct xdpfw_vector {
	__u64 word[XDPFW_MAX_WORDS]; /* bit r of word r/64 = rule r */
};

/* Value of xdpfw_rule_counters (PERCPU_ARRAY, one per rule) and xdpfw_counters. */
struct xdpfw_counter {
	__u64 packets;
	__u64 bytes; /* frame length as seen by XDP (data_end - data) */
};

/* Value of xdpfw_actions (ARRAY, one per rule): XDPFW_ACTION_*. */
/* __u32 */

/*
 * Load-time constants (.rodata), set by the loader before load:
 *   const volatile __u32 cfg_nrules;           number of rules (0..XDPFW_MAX_RULES)
 *   const volatile __u32 cfg_nwords;           ceil(nrules / 64), at least 1
 *   const volatile __u32 cfg_fields;           1 << enum xdpfw_field, for each enabled field
 *   const volatile __u32 cfg_default_action;   XDPFW_ACTION_*
 *   const volatile __u32 cfg_absent_class[XDPFW_NFIELDS];
 *
 * Map names (as in the object's BTF; the loader finds them by these names):
 *   xdpfw_vectors, xdpfw_proto_cls, xdpfw_src4, xdpfw_src6, xdpfw_dst4,
 *   xdpfw_dst6, xdpfw_sport_cls, xdpfw_dport_cls, xdpfw_tcpflags_cls,
 *   xdpfw_icmptype_cls, xdpfw_actions, xdpfw_rule_counters, xdpfw_counters
 */

#endif /* XDPFW_H */
