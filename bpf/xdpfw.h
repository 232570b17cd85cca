/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel/user contract of xdpfw: every map key and value, every limit and
 * every counter index is defined here once. scripts/gen-contract.ts turns this
 * file (its #defines, enums and structs, and the lists of .rodata variables
 * and maps at its end) into src/contract/kernel.ts, which the TypeScript side
 * imports; tests/kernel/xdp/layout.test.ts compares that with the BTF clang
 * emits for this file and with the objects' maps, so a layout change cannot
 * drift silently.
 *
 * Classification is bpf-iptables' Linear Bit Vector Search. Every rule is a
 * bit. For each packet field (address, protocol, ports, TCP flags, ICMP type)
 * a lookup maps the packet's value to a *class*: the id of the bit vector of
 * rules whose match on that field holds for the value. Vectors are
 * deduplicated into one array (`xdpfw_vectors`), so a million set entries
 * that all match the same rules share one vector. Each vector carries a
 * summary word (Baboescu and Varghese's aggregated bit vectors): bit w is set
 * when word w is nonzero. The program ANDs the enabled fields' summaries
 * first and then only the words that survive, in order; the lowest set bit
 * is the first rule that matches; none means the interface's default action.
 *
 * Addresses are looked up in one of two ways per field and family, chosen
 * by the compiler (cfg_addr_mode): an LPM trie, or an address table (see
 * "Address lookups" below) whose cost does not grow with the set.
 *
 * A small policy of simple rules takes the linear path instead (cfg_linear,
 * "The linear path" below): its rules are checked one after the other from
 * .rodata, and the classification maps are never read.
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
#define XDPFW_CTSTATE_CLS_ENTRIES 4     /* xdpfw_ctstate_cls, one per enum xdpfw_ct_state */

/* Actions, as stored in xdpfw_actions and cfg_default_action. */
enum xdpfw_action {
	XDPFW_ACTION_DROP = 1, /* == XDP_DROP */
	XDPFW_ACTION_PASS = 2, /* == XDP_PASS */
	XDPFW_ACTION_REJECT = 3, /* dropped and answered (lib/reject.h); XDP_TX when answered */
};
#define XDPFW_ACTION_MASK 0xffu       /* the action of an xdpfw_actions or cfg_lin_action value */
#define XDPFW_ACTION_LOG (1u << 8)    /* beside it: the rule's decisions go to the log ring (`log`) */

/*
 * `reject`'s answers (lib/reject.h): one token bucket for all of them, of
 * 1,000 a second with a burst of 50 (Linux's icmp_msgs_per_sec and
 * icmp_msgs_burst), and the bytes of the offending datagram an ICMP error
 * quotes at most.
 */
#ifndef XDPFW_REJECT_COST_NS
#define XDPFW_REJECT_COST_NS 1000000ull /* 1 ms a token: 1,000 answers a second */
#endif
#ifndef XDPFW_REJECT_BURST
#define XDPFW_REJECT_BURST 50 /* tokens of a full bucket */
#endif
#ifndef XDPFW_REJECT_QUOTE
#define XDPFW_REJECT_QUOTE 128 /* IP header with options, L4 header and the first payload bytes */
#endif

/*
 * Fields. Bit i of cfg_fields enables field i; a field that no rule
 * constrains is switched off at load time and the verifier prunes its lookup.
 * XDPFW_FIELD_PROTO is always on: its vectors also hold the "rule exists" bits.
 */
enum xdpfw_field {
	XDPFW_FIELD_PROTO = 0, /* xdpfw_proto_cls[family * 256 + l4 protocol] */
	XDPFW_FIELD_SRC = 1,   /* xdpfw_src4 / xdpfw_src6 (LPM tries) or their address tables */
	XDPFW_FIELD_DST = 2,   /* xdpfw_dst4 / xdpfw_dst6 (LPM tries) or their address tables */
	XDPFW_FIELD_SPORT = 3, /* xdpfw_sport_cls[port] */
	XDPFW_FIELD_DPORT = 4, /* xdpfw_dport_cls[port] */
	XDPFW_FIELD_TCPFLAGS = 5, /* xdpfw_tcpflags_cls[flags byte] */
	XDPFW_FIELD_ICMPTYPE = 6, /* xdpfw_icmptype_cls[type], ICMP and ICMPv6 alike */
	XDPFW_FIELD_CTSTATE = 7,  /* xdpfw_ctstate_cls[enum xdpfw_ct_state]; every IP packet has one */
	XDPFW_NFIELDS = 8,
};

/* Family index used in xdpfw_proto_cls. */
enum xdpfw_family {
	XDPFW_FAMILY_IPV4 = 0,
	XDPFW_FAMILY_IPV6 = 1,
};

/*
 * Address lookups, indexed by enum xdpfw_addr_slot in the cfg_addr_* arrays.
 * XDPFW_ADDR_TRIE: the LPM trie (xdpfw_src4, …) holds every prefix.
 * XDPFW_ADDR_TABLE: the address table of that slot, which finds the longest
 * prefix containing the address (each prefix's class accounts for every
 * prefix containing it, as in the trie). Bits are counted from the address's
 * most significant bit; s = cfg_addr_shift[slot] (always 0 for IPv4).
 *   xdpfw_<slot>_l16[i / 16].cls[i % 16], i = address bits 0..15: the class
 *     of the longest prefix of length <= 16 containing the /16, with
 *     XDPFW_DEEPER set when a longer prefix lies inside that /16.
 *   xdpfw_<slot>_bkt: a bitmap of 2^24 buckets, bucket = address bits
 *     s..s+23, bit set when a prefix longer than /16 intersects the bucket
 *     (IPv4: the bucket is the /24). Every prefix longer than /16 starts with
 *     the same s bits, cfg_addr_base[slot]: an IPv6 set confined to e.g.
 *     2000::/4 then spreads over all the buckets.
 *   xdpfw_<slot>_rec: one record per marked bucket (struct xdpfw_bucket4 /
 *     xdpfw_bucket6), at the bucket's rank among the marked ones
 *     (xdpfw_<slot>_rank holds the marked buckets before each bitmap row):
 *     the class of the longest prefix of length <= s + 24 over the bucket,
 *     which /64ths of the bucket (address bits s+24..s+29) longer prefixes
 *     meet, and their lengths.
 *   xdpfw_<slot>_quick: one byte per marked bucket, at its rank, read
 *     before its record: 0xff when the bucket's class (the record's cls)
 *     is not the /16's; else bit i set when a longer prefix meets the i-th
 *     eighth of the bucket (address bits s+24..s+26). A clear bit answers
 *     with the /16's class without the record: 1.5 MiB for a million
 *     prefixes, where the records take 24 MiB no cache keeps.
 *   xdpfw_<slot>_hash: the prefixes longer than s + 24, exact match on the
 *     masked address and length (key: struct xdpfw_lpm{4,6}_key), probed
 *     only when the address's /64th is met, for the record's lengths,
 *     longest first; the first hit is the longest match. IPv4 but for the
 *     inline hosts: a /24 whose /32s include exactly one of the class most
 *     /32s of the slot have, cfg_addr_host[slot], names it in its record's
 *     lens instead (XDPFW_HOST4; a blocklist's hosts are mostly alone in
 *     their /24, and a record read is cheaper than a hash probe, as is an
 *     array row than a hash entry to load).
 * What most packets read stays within the 256 KiB /16 table and the 2 MiB
 * bitmap, whatever the set size.
 */
enum xdpfw_addr_mode {
	XDPFW_ADDR_TRIE = 0,
	XDPFW_ADDR_TABLE = 1,
};

enum xdpfw_addr_slot {
	XDPFW_ADDR_SRC4 = 0,
	XDPFW_ADDR_SRC6 = 1,
	XDPFW_ADDR_DST4 = 2,
	XDPFW_ADDR_DST6 = 3,
	XDPFW_NADDR = 4,
};

#define XDPFW_DEEPER 0x80000000u  /* in an l16 entry: longer prefixes inside this /16 */
#define XDPFW_L16_ENTRIES 65536   /* one class per /16 */
#define XDPFW_CLASS_ROW 16        /* class ids per xdpfw_class_row */
#define XDPFW_BUCKET_BITS 24      /* buckets: 2^24 bits = 2 MiB */
#define XDPFW_BUCKET_ROW_WORDS 8  /* u64 words per xdpfw_bucket_row: 512 buckets */
#define XDPFW_RANK_ROWS 2048      /* xdpfw_<slot>_rank: 16 ranks a row, one per bitmap row */
#define XDPFW_BUCKET4_ROW 4       /* records per xdpfw_bucket4_row */
#define XDPFW_BUCKET6_ROW 2       /* records per xdpfw_bucket6_row */
#define XDPFW_QUICK_ROW 64        /* quick bytes per xdpfw_quick_row */
#define XDPFW_QUICK_RECORD 0xff   /* quick byte: read the record */
#define XDPFW_HOST4 0x10000u      /* in a bucket4's lens: it holds an inline host (bits 8..15) */
#define XDPFW_HOST4_SHIFT 8
#define XDPFW_MAX_ADDR_SHIFT6 32  /* s + 30 bits stay within an IPv6 address's first 64 */

/*
 * The linear path (cfg_linear = 1). When an interface has at most
 * XDPFW_LINEAR_MAX rules and each is simple (at most one prefix per address
 * field, one protocol, one port interval per port field, one ICMP type; any
 * TCP flags), the compiler describes rule i in element i of the cfg_lin_*
 * arrays and the program tries rules 0..cfg_nrules-1 in order: the first
 * whose checks all hold decides, as with the bit vectors. For a handful of
 * rules this costs less than the class lookups (one array lookup per field
 * and a vector per class). The constants are frozen, so the verifier knows
 * every rule's checks and removes the code of those a rule does not have,
 * of the rules past cfg_nrules, and of the path not taken.
 *
 * cfg_lin_checks[i]: XDPFW_LIN_IPV4 / XDPFW_LIN_IPV6 for the families rule i
 * matches, 1 << enum xdpfw_field for each field it checks (a packet lacking
 * a checked L4 field never matches), and XDPFW_LIN_SRC_NOT / _DST_NOT for a
 * negated address match. A checked address lies in the rule's prefix when
 * (address & mask) == value, compared as the packet's bytes are loaded
 * (network order in memory): IPv4 as a __u32, IPv6 as two __u64 halves. The
 * prefix is of the only family the rule matches, so no other is compared.
 */
#define XDPFW_LINEAR_MAX 8             /* rules the linear path takes */
#define XDPFW_LIN_IPV4 (1u << 8)       /* the rule matches IPv4 packets */
#define XDPFW_LIN_IPV6 (1u << 9)       /* the rule matches IPv6 packets */
#define XDPFW_LIN_SRC_NOT (1u << 10)   /* src holds when the address is outside the prefix */
#define XDPFW_LIN_DST_NOT (1u << 11)   /* dst likewise */

/* TCP flag bits, as in the TCP header's 13th byte. */
#define XDPFW_TCP_FIN 0x01
#define XDPFW_TCP_SYN 0x02
#define XDPFW_TCP_RST 0x04
#define XDPFW_TCP_PSH 0x08
#define XDPFW_TCP_ACK 0x10
#define XDPFW_TCP_URG 0x20
#define XDPFW_TCP_ECE 0x40
#define XDPFW_TCP_CWR 0x80

/*
 * Connection tracking (docs/DESIGN.md, "Connection tracking"). A packet's
 * state, as `ct state` names it, indexes xdpfw_ctstate_cls; a rule's
 * states are the bit mask 1 << state (cfg_lin_ctstate on the linear path).
 */
enum xdpfw_ct_state {
	XDPFW_CT_NEW = 0,
	XDPFW_CT_ESTABLISHED = 1,
	XDPFW_CT_RELATED = 2,
	XDPFW_CT_INVALID = 3,
	XDPFW_CT_NSTATES = 4,
};

/* An entry's state (struct xdpfw_ct_entry.state). */
enum xdpfw_ct_entry_state {
	XDPFW_CTE_SYN_SENT = 1,    /* TCP: the host sent a SYN */
	XDPFW_CTE_SYN_RECV = 2,    /* TCP: the host answered a SYN (SYN+ACK) */
	XDPFW_CTE_ESTABLISHED = 3, /* TCP */
	XDPFW_CTE_CLOSING = 4,     /* TCP: RST, or FIN both ways */
	XDPFW_CTE_UNREPLIED = 5,   /* UDP, other protocols, ICMP echo: nothing came back yet */
	XDPFW_CTE_REPLIED = 6,
};

/*
 * Rate limits and dynamic sets (docs/DESIGN.md, "Rate limits and dynamic
 * sets"): a rule's stateful tail is checked once its stateless matches
 * held; these bound the loop over failing tails and the sets a program
 * names.
 */
#define XDPFW_MAX_TAIL_RULES 64 /* rules of an interface with a tail */
#define XDPFW_MAX_DYNSETS 64    /* dynamic sets an interface names */
#define XDPFW_DYNSET_DEFAULT_SIZE 65536 /* entries of a set whose declaration gives none */
#define XDPFW_METERS_DEFAULT_SIZE 65536 /* buckets of the host's meter table by default */
#define XDPFW_DYNSET_EXPIRED_RETRIES 4 /* expired entries one lookup deletes before it gives up */
#define XDPFW_BUCKET_RETRIES 4  /* compare-and-exchange attempts on a bucket before a packet counts as over */
/*
 * Sets, bans and buckets of at least this capacity read the coarse clock
 * (CLOCK_MONOTONIC_COARSE, a tick of 4 ms here, ~4 ns); smaller buckets the
 * fine one (~28 ns): a bucket that holds several ticks' tokens loses none
 * to a tick, one that holds less would lose what a tick brings beyond it.
 */
#define XDPFW_FINE_CLOCK_NS 20000000ull
#define XDPFW_BAN_SLACK_NS 1000000000ull /* a ban refreshes a live entry only when it moves it by more */

/* struct xdpfw_tail.flags: what a rule's tail checks, in this order. */
#define XDPFW_TAIL_SRC_SET (1u << 0) /* the source lies in dynamic set src_set */
#define XDPFW_TAIL_SRC_NOT (1u << 1) /* … negated: it does not */
#define XDPFW_TAIL_DST_SET (1u << 2) /* the destination lies in dynamic set dst_set */
#define XDPFW_TAIL_DST_NOT (1u << 3)
#define XDPFW_TAIL_LIMIT (1u << 4)   /* a token bucket (cost_ns, capacity_ns) */
#define XDPFW_TAIL_OVER (1u << 5)    /* the limit holds when no token was found */
#define XDPFW_TAIL_PER_SRC (1u << 6) /* one bucket per source prefix (per_len4 / per_len6) */
#define XDPFW_TAIL_PER_DST (1u << 7) /* one bucket per destination prefix */
#define XDPFW_TAIL_BAN (1u << 8)     /* when the rule decides, its per prefix (else the source) enters ban_set */
#define XDPFW_TAIL_AUDIT (1u << 9)   /* `audit`: when the rest holds, the packet is counted (no ban), the next rule tried */

/* xdpfw_set_stats[set * XDPFW_SETS_NSTATS + index], per CPU. */
enum xdpfw_set_stat {
	XDPFW_SETS_ADDED = 0,   /* entries a ban wrote */
	XDPFW_SETS_FULL = 1,    /* bans refused: the set was full */
	XDPFW_SETS_EXPIRED = 2, /* expired entries a lookup deleted */
	XDPFW_SETS_NSTATS = 3,
};

/*
 * `xdpfw trace` (docs/DESIGN.md, "Tracing"): decisions copied to a ring
 * buffer while a tracer has switched them on, filtered and rate-limited in
 * the program. An event carries the verdict and the frame's first bytes;
 * the tracer decodes the headers from them.
 */
#define XDPFW_TRACE_SNAPLEN 256 /* frame bytes an event carries */
#define XDPFW_TRACE_RING_BYTES (1u << 20)
#define XDPFW_TRACE_SRC (1u << 0)      /* struct xdpfw_trace_config.flags: the src filter is set */
#define XDPFW_TRACE_RULES (1u << 1)    /* only the rules in rules[] (else every rule) */
#define XDPFW_TRACE_DEFAULT (1u << 2)  /* with TRACE_RULES: also decisions no rule made */
#define XDPFW_TRACE_DST (1u << 3)      /* the dst filter is set */
#define XDPFW_TRACE_VERDICT_AUDIT 8    /* struct xdpfw_trace_config.actions: bit of the not-enforced events */

/* struct xdpfw_trace_event.flags */
#define XDPFW_EVENT_AUDIT (1u << 0) /* not enforced: an audit rule's, or `mode audit`'s would-drop (action: what it would do) */
#define XDPFW_EVENT_LOG (1u << 1)   /* the deciding rule has `log` */

/*
 * `log` (docs/DESIGN.md, "Tracing"): the decisions of rules with `log` go
 * to a ring of their own, xdpfw_log_ring, which the controller reads
 * whether or not a tracer runs; one token bucket per interface bounds them
 * to 100 a second with a burst of 200.
 */
#define XDPFW_LOG_RING_BYTES (1u << 18)
#define XDPFW_LOG_COST_NS 10000000ull /* 10 ms a token */
#define XDPFW_LOG_BURST 200

/* xdpfw_trace_stats[index], per CPU. */
enum xdpfw_trace_stat {
	XDPFW_TRACE_SENT = 0,       /* events written to the ring */
	XDPFW_TRACE_SUPPRESSED = 1, /* events over the tracer's rate */
	XDPFW_TRACE_LOST = 2,       /* events the full ring refused */
	XDPFW_TRACE_LOG_SENT = 3,         /* `log` events written to the log ring */
	XDPFW_TRACE_LOG_SUPPRESSED = 4,   /* over the log's rate */
	XDPFW_TRACE_LOG_LOST = 5,         /* refused by the full log ring (nobody reads it) */
	XDPFW_TRACE_NSTATS = 6,
};

/* struct xdpfw_ct_entry.flags */
#define XDPFW_CTF_FIN_OUT 0x1 /* the host sent a FIN */
#define XDPFW_CTF_FIN_IN 0x2  /* a FIN came in */

/* struct xdpfw_ct_config.timeout_ns[] */
enum xdpfw_ct_timeout {
	XDPFW_CT_T_SYN = 0,         /* tcp-syn: syn-sent, syn-recv */
	XDPFW_CT_T_ESTABLISHED = 1, /* tcp-established */
	XDPFW_CT_T_CLOSE = 2,       /* tcp-close: closing */
	XDPFW_CT_T_UDP = 3,         /* udp: unreplied UDP and other protocols */
	XDPFW_CT_T_UDP_STREAM = 4,  /* udp-stream: replied */
	XDPFW_CT_T_ICMP = 5,        /* icmp: echo, both states */
	XDPFW_CT_NTIMEOUTS = 6,
};

/* xdpfw_ct_stats[index], per CPU. */
enum xdpfw_ct_stat {
	XDPFW_CTS_CREATED_TCP = 0,
	XDPFW_CTS_CREATED_UDP = 1,
	XDPFW_CTS_CREATED_ICMP = 2,
	XDPFW_CTS_FLOOD_REFUSED = 3, /* half-open entries not created: the flood guard */
	XDPFW_CTS_FLOOD_SECONDS = 4, /* seconds (per CPU) in which the guard refused one */
	XDPFW_CTS_REUSED = 5,        /* creations that overwrote their key's expired (or closing) entry */
	XDPFW_CTS_NSTATS = 6,
};

#define XDPFW_CT_REFRESH_SECONDS 1 /* a deadline moves only by a second or more */
#define XDPFW_CT_FRAG_SECONDS 30   /* a first fragment's ports are kept 30 s */
#define XDPFW_CT_MIN_TABLE 1024           /* entries of ct_udp / ct_icmp at least */

/* Global counters: xdpfw_counters[index]. */
enum xdpfw_counter_index {
	XDPFW_CNT_DEFAULT = 0,   /* no rule matched; the default action applied */
	XDPFW_CNT_MALFORMED = 1, /* truncated or invalid header: always dropped */
	XDPFW_CNT_NON_IP = 2,    /* not IPv4/IPv6 (ARP, LLDP, …): always passed */
	XDPFW_CNT_FRAGMENT = 3,  /* non-first IP fragments (also counted by their rule) */
	XDPFW_CNT_REJECT_SENT = 4,       /* `reject` answered (the packet is counted by its rule too) */
	XDPFW_CNT_REJECT_SUPPRESSED = 5, /* `reject` left unanswered: rate, or not to be answered */
	XDPFW_CNT_WOULD_DROP = 6,        /* `mode audit`: dropped or rejected by the policy, passed */
	XDPFW_NCOUNTERS = 7,
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
 * LPM values are __u32 class ids: indexes into xdpfw_vectors. The address
 * tables' hashes use the LPM key structs with the host bits zero.
 */

/* Value of xdpfw_<slot>_l16 (ARRAY, XDPFW_L16_ENTRIES / XDPFW_CLASS_ROW entries). */
struct xdpfw_class_row {
	__u32 cls[XDPFW_CLASS_ROW];
};

/* Value of xdpfw_<slot>_bkt (ARRAY, 2^24 / 512 entries): bucket b is bit b % 64 of word b / 64. */
struct xdpfw_bucket_row {
	__u64 bits[XDPFW_BUCKET_ROW_WORDS];
};

/* The record of a marked IPv4 bucket (a /24). */
struct xdpfw_bucket4 {
	__u32 cls;   /* class of the longest prefix of length <= 24 containing the /24 */
	__u32 lens;  /* bit 32 - L: prefixes of length L (25..32) lie in the /24 (in the hash);
		      * XDPFW_HOST4: and the /32 whose last byte is bits 8..15, of class
		      * cfg_addr_host[slot], which is not in the hash */
	__u64 cover; /* bit i: a prefix longer than /24 meets the i-th /30 */
};

/* The record of a marked IPv6 bucket (address bits s..s+23). */
struct xdpfw_bucket6 {
	__u32 cls;     /* class of the longest prefix of length <= s + 24 over the bucket */
	__u32 pad;
	__u64 cover;   /* bit i: a prefix longer than s + 24 meets the bucket's i-th /64th */
	__u64 lens[2]; /* bit 128 - L of lens[0] (L 65..128), 64 - L of lens[1] (L 25..64) */
};

/* Values of xdpfw_<slot>_rec (ARRAY): record r is rec[r % N] of entry r / N. */
struct xdpfw_bucket4_row {
	struct xdpfw_bucket4 rec[XDPFW_BUCKET4_ROW];
};

struct xdpfw_bucket6_row {
	struct xdpfw_bucket6 rec[XDPFW_BUCKET6_ROW];
};

/* Values of xdpfw_<slot>_quick (ARRAY): the quick byte of record r is q[r % 64] of entry r / 64. */
struct xdpfw_quick_row {
	__u8 q[XDPFW_QUICK_ROW];
};

/* Value of xdpfw_vectors (BPF_MAP_TYPE_ARRAY, max_entries = number of classes). */
struct xdpfw_vector {
	__u64 summary;               /* bit w set when word[w] != 0 */
	__u64 word[XDPFW_MAX_WORDS]; /* bit r of word r/64 = rule r */
};

/* Value of xdpfw_rule_counters (PERCPU_ARRAY, one per rule) and xdpfw_counters. */
struct xdpfw_counter {
	__u64 packets;
	__u64 bytes; /* frame length as seen by XDP (data_end - data) */
};

/*
 * Key of xdpfw_ct_tcp / xdpfw_ct_udp / xdpfw_ct_icmp (LRU_HASH), from the
 * host's side: egress local = source, ingress local = destination. IPv4
 * addresses fill local[0..3] and remote[0..3], the rest zero. Ports in host
 * order; ICMP echo: lport = identifier, rport = 0; other protocols: 0, 0.
 */
struct xdpfw_ct_key {
	__u8 local[16];
	__u8 remote[16];
	__u16 lport;
	__u16 rport;
	__u8 proto;
	__u8 family; /* enum xdpfw_family */
	__u16 pad;
};

/* Value of the ct tables. Times are bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE). */
struct xdpfw_ct_entry {
	__u64 deadline; /* absent from this time on */
	__u64 created;
	__u32 state;    /* enum xdpfw_ct_entry_state */
	__u32 flags;    /* XDPFW_CTF_* */
	__u32 ifindex;  /* the interface whose egress created it */
	__u32 pad;
};

/* Key of xdpfw_ct_frag (LRU_HASH): a datagram, as its fragments carry it in. */
struct xdpfw_ct_frag_key {
	__u8 src[16];
	__u8 dst[16];
	__u32 id;    /* IPv4 identification, or the IPv6 fragment header's */
	__u8 proto;
	__u8 family;
	__u16 pad;
};

/* Value of xdpfw_ct_frag: the ports its first fragment carried. */
struct xdpfw_ct_frag {
	__u64 deadline;
	__u16 sport;
	__u16 dport;
	__u32 pad;
};

/* Value of xdpfw_ct_config (ARRAY, one entry), written by the loader. */
struct xdpfw_ct_config {
	__u64 timeout_ns[XDPFW_CT_NTIMEOUTS];
	__u64 flood_per_cpu; /* half-open entries a CPU may create a second */
};

/* Value of xdpfw_ct_flood (PERCPU_ARRAY, one entry): this CPU's current second. */
struct xdpfw_ct_flood_window {
	__u64 second; /* deadline clock / 1e9 */
	__u64 created;
};

/*
 * Value of xdpfw_tails (ARRAY, one per rule): the rule's stateful tail,
 * all zero when it has none. Sets are indexes into xdpfw_dynsets.
 */
struct xdpfw_tail {
	__u32 flags;       /* XDPFW_TAIL_* */
	__u32 limit_id;    /* the bucket's identity in xdpfw_meters */
	__u32 origin;      /* what a ban writes as its entry's origin */
	__u8 src_set;
	__u8 dst_set;
	__u8 ban_set;
	__u8 per_len4;     /* per: prefix length of an IPv4 address (32: one bucket per address) */
	__u8 per_len6;
	__u8 pad[7];
	__u64 cost_ns;     /* tokens a packet takes */
	__u64 capacity_ns; /* burst * cost_ns */
	__u64 ban_ns;      /* how long a ban lasts */
};

/*
 * Key of xdpfw_meters (LRU_HASH, host-wide): one token bucket. Without
 * per: family, prefix_len and addr zero. addr: network order, host bits
 * zero, IPv4 in the first 4 bytes.
 */
struct xdpfw_meter_key {
	__u32 limit_id;
	__u8 family;     /* enum xdpfw_family */
	__u8 prefix_len;
	__u16 pad;
	__u8 addr[16];
};

/* Value of xdpfw_meters: the time (ns) at which the bucket was, or would have been, empty. */
struct xdpfw_meter {
	__u64 empty_at;
};

/*
 * Key of a dynamic set. A set is two maps: its single addresses (/32,
 * /128) in a hash, an inner map of xdpfw_dynset_hosts, found by one exact
 * lookup; its shorter prefixes in an LPM trie, an inner map of
 * xdpfw_dynsets, whose lookup walks a node per bit that differs.
 * prefixlen = 8 + the address's prefix length, the family byte counting
 * as the first 8 bits, so an IPv4 and an IPv6 entry never contain each
 * other; in the hash it is always 8 + 32 or 8 + 128.
 */
struct xdpfw_dynset_key {
	__u32 prefixlen;
	__u8 family;  /* enum xdpfw_family */
	__u8 addr[16];
	__u8 pad[3];
};

/* Value of a dynamic set. */
struct xdpfw_dynset_entry {
	__u64 deadline;   /* CLOCK_MONOTONIC ns from which the entry is absent; ~0: never */
	__u32 origin;     /* the rule that banned it (its limit id), 0 when a user added it */
	__u32 prefix_len; /* the address's prefix length (prefixlen - 8), so a lookup can delete what it found */
};

/* Value of xdpfw_tail_scratch (PERCPU_ARRAY, one entry): what a tail check builds, off the stack. */
struct xdpfw_tail_scratch {
	__u64 now;       /* read at the first tail: the coarse clock */
	__u64 now_fine;  /* read at the first bucket smaller than XDPFW_FINE_CLOCK_NS */
	__u32 family;    /* the packet's (enum xdpfw_family) */
	__u8 src[16];    /* its addresses, IPv4 in the first 4 bytes */
	__u8 dst[16];
	__u32 pad;
	struct xdpfw_dynset_key set_key;
	struct xdpfw_dynset_entry entry;
	struct xdpfw_meter_key meter_key;
	struct xdpfw_meter meter;
	__u32 naudited;  /* audit rules that held for this packet, read and reset by the exit */
	__u16 audited[XDPFW_MAX_TAIL_RULES]; /* their indexes */
};

/* A --src/--dst filter of a tracer (XDPFW_TRACE_SRC, XDPFW_TRACE_DST). */
struct xdpfw_trace_prefix {
	__u8 family; /* enum xdpfw_family */
	__u8 len;
	__u8 pad[2];
	__u8 addr[16]; /* network order, host bits zero */
};

/*
 * Value of xdpfw_trace_cfg (ARRAY, one entry): what the tracer asks for.
 * `on` 0 (the loader's value) leaves every packet untraced.
 */
struct xdpfw_trace_config {
	__u32 on;
	__u32 owner;    /* the tracer's pid, so that a second one is refused */
	__u32 flags;    /* XDPFW_TRACE_* */
	__u32 actions;  /* 1 << XDP_* of the verdicts to trace; 0: all */
	struct xdpfw_trace_prefix src;
	struct xdpfw_trace_prefix dst;
	__u64 cost_ns;     /* the event bucket: ns of tokens an event takes */
	__u64 capacity_ns; /* burst * cost_ns */
	__u64 empty_at;    /* the bucket's word, as struct xdpfw_meter's */
	__u64 rules[XDPFW_MAX_WORDS]; /* with XDPFW_TRACE_RULES: bit r for rule r */
};

/* A record of xdpfw_trace_ring (RINGBUF): one decision. */
struct xdpfw_trace_event {
	__u64 time_ns;  /* CLOCK_MONOTONIC */
	__u32 ifindex;
	__u32 rule;     /* the deciding rule, or 0xffffffff: none (see counter) */
	__u32 counter;  /* XDPFW_CNT_* when no rule decided */
	__u32 action;   /* XDP_* returned */
	__u32 frame_len;
	__u32 captured; /* bytes of data[] that hold the frame's first bytes */
	__u32 flags;    /* XDPFW_EVENT_* */
	__u32 pad;
	__u8 data[XDPFW_TRACE_SNAPLEN];
};

/*
 * Value of xdpfw_reject_scratch (PERCPU_ARRAY, one entry): what a reject's
 * answer needs from the offending packet, read before any byte of it is
 * rewritten (lib/reject.h). A map rather than the stack: the main
 * program's frame leaves the answer's own frame little room.
 */
struct xdpfw_reject_info {
	__u32 l3;        /* offset of the IP header in the frame */
	__u32 family;    /* enum xdpfw_family */
	__u32 datagram;  /* bytes of the IP datagram, its header included */
	__u32 tcp;       /* 1: answered with a RST */
	__u32 seq;       /* TCP sequence and acknowledgment numbers, host order */
	__u32 ack;
	__u32 seq_len;   /* TCP payload + SYN + FIN */
	__u16 sport;     /* network order */
	__u16 dport;
	__u8 tcp_flags;
	__u8 pad[3];
	__u32 src[4];    /* network order; IPv4 in [0] */
	__u32 dst[4];
};

/* Value of xdpfw_actions (ARRAY, one per rule): XDPFW_ACTION_*, with XDPFW_ACTION_LOG. */
/* __u32 */

/*
 * Load-time constants (.rodata), set by the loader before load:
 *   const volatile __u32 cfg_nrules;           number of rules (0..XDPFW_MAX_RULES)
 *   const volatile __u32 cfg_nwords;           ceil(nrules / 64), at least 1
 *   const volatile __u32 cfg_fields;           1 << enum xdpfw_field, for each enabled field
 *   const volatile __u32 cfg_default_action;   XDPFW_ACTION_*
 *   const volatile __u32 cfg_absent_class[XDPFW_NFIELDS];
 *   const volatile __u32 cfg_addr_mode[XDPFW_NADDR];    XDPFW_ADDR_*
 *   const volatile __u32 cfg_addr_shift[XDPFW_NADDR];   table: bits before the bucket bits
 *   const volatile __u32 cfg_addr_base[XDPFW_NADDR];    table: their value
 *   const volatile __u32 cfg_addr_host[XDPFW_NADDR];    table, IPv4: the class of inline hosts
 *   const volatile __u32 cfg_linear;           1: the linear path, 0: the bit vectors
 *   const volatile __u32 cfg_ct;               1: rules use ct state (the tables are read)
 *   const volatile __u32 cfg_ct_given;         1: a test run: the state is xdpfw_ct_given[0], no table is read
 *   const volatile __u32 cfg_tails;            1: a rule has a stateful tail (xdpfw_tails is read)
 *   const volatile __u32 cfg_now_given;        1: "now" is xdpfw_now_given[0], not the clock (tests)
 *   const volatile __u32 cfg_reject;           1: a rule or the default rejects (lib/reject.h is kept)
 *   const volatile __u32 cfg_audit_rules;      1: a rule is `audit` (the exit counts and traces them)
 *   const volatile __u32 cfg_audit_mode;       1: `mode audit`: drops pass, counted XDPFW_CNT_WOULD_DROP
 *   const volatile __u32 cfg_log;              1: a rule has `log` (the exit reads XDPFW_ACTION_LOG)
 * and the linear path's rules, element (or pair, or quad) i for rule i:
 *   const volatile __u32 cfg_lin_checks[XDPFW_LINEAR_MAX];      see XDPFW_LIN_*
 *   const volatile __u32 cfg_lin_action[XDPFW_LINEAR_MAX];      XDPFW_ACTION_*
 *   const volatile __u32 cfg_lin_proto[XDPFW_LINEAR_MAX];       L4 protocol
 *   const volatile __u32 cfg_lin_sport[2 * XDPFW_LINEAR_MAX];   low, high (inclusive)
 *   const volatile __u32 cfg_lin_dport[2 * XDPFW_LINEAR_MAX];   low, high
 *   const volatile __u32 cfg_lin_tcpflags[2 * XDPFW_LINEAR_MAX]; mask, value
 *   const volatile __u32 cfg_lin_icmptype[XDPFW_LINEAR_MAX];    ICMP or ICMPv6 type
 *   const volatile __u32 cfg_lin_src4[2 * XDPFW_LINEAR_MAX];    value, mask
 *   const volatile __u32 cfg_lin_dst4[2 * XDPFW_LINEAR_MAX];    value, mask
 *   const volatile __u64 cfg_lin_src6[4 * XDPFW_LINEAR_MAX];    value (2 halves), mask (2 halves)
 *   const volatile __u64 cfg_lin_dst6[4 * XDPFW_LINEAR_MAX];    value, mask
 *   const volatile __u32 cfg_lin_ctstate[XDPFW_LINEAR_MAX];     1 << enum xdpfw_ct_state, each held
 * Fields a rule does not check are zero.
 */

/*
 * Maps, by the name the loader finds each by, with their key and value.
 * <slot> stands for each slot of enum xdpfw_addr_slot (src4, src6, dst4,
 * dst6) and <family> for its family, 4 or 6.
 *   map                    key                            value
 *   xdpfw_vectors          __u32                          struct xdpfw_vector
 *   xdpfw_proto_cls        __u32                          __u32
 *   xdpfw_<slot>           struct xdpfw_lpm<family>_key   __u32
 *   xdpfw_<slot>_l16       __u32                          struct xdpfw_class_row
 *   xdpfw_<slot>_bkt       __u32                          struct xdpfw_bucket_row
 *   xdpfw_<slot>_rank      __u32                          struct xdpfw_class_row
 *   xdpfw_<slot>_quick     __u32                          struct xdpfw_quick_row
 *   xdpfw_<slot>_rec       __u32                          struct xdpfw_bucket<family>_row
 *   xdpfw_<slot>_hash      struct xdpfw_lpm<family>_key   __u32
 *   xdpfw_sport_cls        __u32                          __u32
 *   xdpfw_dport_cls        __u32                          __u32
 *   xdpfw_tcpflags_cls     __u32                          __u32
 *   xdpfw_icmptype_cls     __u32                          __u32
 *   xdpfw_ctstate_cls      __u32                          __u32
 *   xdpfw_actions          __u32                          __u32
 *   xdpfw_rule_counters    __u32                          struct xdpfw_counter
 *   xdpfw_counters         __u32                          struct xdpfw_counter
 *   xdpfw_reject_scratch   __u32                          struct xdpfw_reject_info
 * and, shared by every interface of the namespace (pinned under conntrack/):
 *   xdpfw_ct_tcp           struct xdpfw_ct_key            struct xdpfw_ct_entry
 *   xdpfw_ct_udp           struct xdpfw_ct_key            struct xdpfw_ct_entry
 *   xdpfw_ct_icmp          struct xdpfw_ct_key            struct xdpfw_ct_entry
 *   xdpfw_ct_frag          struct xdpfw_ct_frag_key       struct xdpfw_ct_frag
 *   xdpfw_ct_config        __u32                          struct xdpfw_ct_config
 *   xdpfw_ct_stats         __u32                          __u64
 *   xdpfw_ct_flood         __u32                          struct xdpfw_ct_flood_window
 *   xdpfw_ct_given         __u32                          __u32
 * the rules' tails (docs/DESIGN.md, "Rate limits and dynamic sets"):
 *   xdpfw_tails            __u32                          struct xdpfw_tail
 *   xdpfw_limit_counters   __u32                          __u64
 *   xdpfw_set_stats        __u32                          __u64
 *   xdpfw_now_given        __u32                          __u64
 *   xdpfw_dynsets          __u32                          __u32
 *   xdpfw_dynset_hosts     __u32                          __u32
 *   xdpfw_tail_scratch     __u32                          struct xdpfw_tail_scratch
 * tracing:
 *   xdpfw_trace_cfg        __u32                          struct xdpfw_trace_config
 *   xdpfw_trace_stats      __u32                          __u64
 *   xdpfw_trace_scratch    __u32                          struct xdpfw_trace_event
 *   xdpfw_trace_ring       -                              -
 *   xdpfw_log_ring         -                              -
 * and, shared by the namespace (pinned under limits/ and sets/):
 *   xdpfw_meters           struct xdpfw_meter_key         struct xdpfw_meter
 * xdpfw_dynsets and xdpfw_dynset_hosts are arrays of maps: entry i is
 * the LPM trie of dynamic set i's prefixes and the hash of its single
 * addresses (key struct xdpfw_dynset_key, value struct xdpfw_dynset_entry),
 * pinned at sets/<netns-id>/<name>/prefixes and .../hosts.
 */

#endif /* XDPFW_H */
