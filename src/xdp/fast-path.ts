/**
 * The linear path's fast path, as BPF instructions put in front of the data
 * plane's program when a policy takes the linear path (bpf/xdpfw.h).
 *
 * The C program reads each rule's checks from frozen .rodata: the verifier
 * removes the branches of checks a rule does not have, but not the loads and
 * the arithmetic that fed them, and clang keeps the parsed packet in a
 * stack struct that eight rules' checks read back. Here each rule is a few
 * compares against immediates: for one rule, the C program cost ~6 ns over a
 * bare XDP_DROP and this prefix ~1.4 (BPF_PROG_TEST_RUN; docs/DESIGN.md,
 * "Fast path").
 *
 * The prefix takes only the commonest packets: Ethernet with at most one
 * VLAN tag, then IPv4 without options and not a non-first fragment, or IPv6
 * with TCP or UDP right after its header; the datagram within the frame, a whole TCP or UDP
 * header. It classifies them as the C program would (first rule whose checks
 * hold, else the default), counts them in the same maps and returns. Any
 * other packet falls through, untouched, into the C program, whose first
 * instruction follows the prefix: r1 (the context) is never written before
 * that, so the C program starts as if alone. One program, one load: no tail
 * call, nothing more to pin.
 *
 * Which rules it tests, and how, is the compiler's plan
 * (src/compiler/passes/fast-path-plan.ts); this module lays out the packet
 * tests and emits the plan with the encoder of asm.ts. The packet tests
 * mirror parse_ethernet(), parse_ipv4(), parse_ipv6() and parse_l4() for
 * those packets, and the rule tests lin_matches();
 * tests/kernel/fast-path.test.ts compares the two paths frame by frame.
 */

import { fastPathPlan, type FastPathCheck, type FastPathRule } from '../compiler/passes/fast-path-plan.js';
import type { LinearRule } from '../compiler/output.js';
import { ACTION, COUNTER_INDEX } from '../contract/kernel.js';
import { Assembler, FP, HELPER, Label, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9 } from './asm.js';
import { asLoaded } from './layout.js';

/* Offsets in the frame: Ethernet (14), then IPv4 without options (20) or IPv6 (40), then L4. */
const ETH_TYPE = 12;
const IP = 14;
const IP_TOT_LEN = IP + 2;
const IP_FRAG_OFF = IP + 6;
const IP_PROTO = IP + 9;
const IP6_PAYLOAD_LEN = IP + 4;
const IP6_NEXTHDR = IP + 6;

/** Where a family's fields lie in the frame. */
interface Layout {
  src: number;
  dst: number;
  l4: number;
}
const LAYOUT4: Layout = { src: IP + 12, dst: IP + 16, l4: IP + 20 };
const LAYOUT6: Layout = { src: IP + 8, dst: IP + 24, l4: IP + 40 };
/** In the L4 header: the ports, and the TCP flags byte. */
const PORT_AT = { sport: 0, dport: 2 } as const;
const TCP_FLAGS_AT = 13;

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
/** The Ethertypes 0x0800, 0x86dd, 0x8100, 0x88a8 and the fragment-offset mask 0x1fff as a little-endian load sees them. */
const ETH_P_IP_LOADED = 0x0008;
const ETH_P_IPV6_LOADED = 0xdd86;
const ETH_P_8021Q_LOADED = 0x0081;
const ETH_P_8021AD_LOADED = 0xa888;
/** A VLAN tag's bytes: TCI and the next Ethertype. */
const VLAN_HLEN = 4;
const FRAG_OFFSET_LOADED = 0xff1f;

/*
 * Registers: r1 the context (kept for the C program), r2 data (past a VLAN
 * tag, if any), r3 data_end,
 * r4 scratch, r5 the bytes after the IP header as that header gives them,
 * r6 the L4 protocol, r8 the XDP action to return, r9 the frame's bytes
 * (what the counters add).
 */
/** The stack slot of the counter's key (u32). */
const KEY_SLOT = -4;

const XDP_DROP = 1;
const XDP_PASS = 2;
const toXdp = (action: number): number => (action === ACTION.pass ? XDP_PASS : XDP_DROP);

/** Jumps to `next` unless `check` holds, for a packet laid out as `layout`. */
function emitCheck(a: Assembler, check: FastPathCheck, layout: Layout, next: Label): void {
  switch (check.kind) {
    case 'protocol':
      a.jumpImm('ne', R6, check.protocol, next);
      return;
    case 'port':
      a.load('u16', R4, R2, layout.l4 + PORT_AT[check.field]);
      a.hostToBigEndian(R4, 16);
      if (check.low > 0) a.jumpImm('lt', R4, check.low, next);
      if (check.high < 0xffff) a.jumpImm('gt', R4, check.high, next);
      return;
    case 'flags':
      a.load('u8', R4, R2, layout.l4 + TCP_FLAGS_AT);
      a.and32Imm(R4, check.mask);
      a.jumpImm('ne', R4, check.value, next);
      return;
    case 'address': {
      // Outside the prefix as soon as one word differs: a plain match fails
      // there; a negated one holds there, and fails when every word agrees
      // (with one word to compare, at once).
      const offset = layout[check.field];
      const words = check.mask.flatMap((mask, i) => (mask === 0 ? [] : [i]));
      const single = check.negated && words.length === 1;
      const outside = check.negated && !single ? new Label() : next;
      for (const i of words) {
        a.load('u32', R4, R2, offset + 4 * i);
        if (check.mask[i] !== 0xffffffff) a.and32Imm(R4, asLoaded(check.mask[i]));
        a.jump32Imm(single ? 'eq' : 'ne', R4, asLoaded(check.value[i]), outside);
      }
      if (outside !== next) {
        a.jump(next);
        a.place(outside);
      }
      return;
    }
  }
}

/** count(): the packet and its bytes (r9) at key KEY_SLOT of the per-CPU `map`; then returns r8. */
function countIn(a: Assembler, map: number): void {
  const done = new Label();
  a.loadMapFd(R1, map);
  a.mov64(R2, FP);
  a.add64Imm(R2, KEY_SLOT);
  a.call(HELPER.mapLookupElem);
  a.jumpImm('eq', R0, 0, done);
  a.load('u64', R1, R0, 0);
  a.add64Imm(R1, 1);
  a.store64(R0, 0, R1);
  a.load('u64', R1, R0, 8);
  a.add64(R1, R9);
  a.store64(R0, 8, R1);
  a.place(done);
  a.mov64(R0, R8);
  a.exit();
}

export interface FastPathMaps {
  /** xdpfw_rule_counters and xdpfw_counters: their fds. */
  ruleCounters: number;
  counters: number;
  /** xdpfw_trace_cfg's fd. */
  traceCfg: number;
}

/**
 * While a tracer is on (xdpfw_trace_cfg's first word), every packet goes to
 * the C program, whose exit traces it. The context is kept in r7 across the
 * lookup and put back in r1, as the C program expects it.
 */
function skipWhileTraced(a: Assembler, traceCfg: number, slow: Label): void {
  const untraced = new Label();
  a.mov64(R7, R1);
  a.store32Imm(FP, KEY_SLOT, 0);
  a.loadMapFd(R1, traceCfg);
  a.mov64(R2, FP);
  a.add64Imm(R2, KEY_SLOT);
  a.call(HELPER.mapLookupElem);
  a.mov64(R1, R7);
  a.jumpImm('eq', R0, 0, untraced);
  a.load('u32', R0, R0, 0);
  a.jumpImm('ne', R0, 0, slow);
  a.place(untraced);
}

/**
 * The L4 header's checks, with r5 the bytes after the IP header as that
 * header gives them and r6 the protocol: the datagram within the frame, a
 * whole TCP header (data offset ≥ 5) or UDP header. The rules follow.
 */
function transport(a: Assembler, layout: Layout, slow: Label): void {
  const udp = new Label();
  const whole = new Label();
  a.mov64(R4, R3);
  a.sub64(R4, R2);
  a.add64Imm(R4, -layout.l4);
  a.jumpReg('gt', R5, R4, slow); // the datagram is cut short (or shorter than its header)
  a.jumpImm('eq', R6, IPPROTO_UDP, udp);
  a.jumpImm('ne', R6, IPPROTO_TCP, slow);
  a.jumpImm('lt', R5, 20, slow);
  within(a, layout.l4 + 20, slow);
  a.load('u8', R4, R2, layout.l4 + 12);
  a.jumpImm('lt', R4, 0x50, slow); // data offset < 5
  a.jump(whole);
  // UDP: r6 is known to be 17 from here, so the verifier never follows a
  // rule's TCP-only test (its flags, past these 8 bytes) on this path.
  a.place(udp);
  a.jumpImm('lt', R5, 8, slow);
  within(a, layout.l4 + 8, slow);
  a.place(whole);
}

/** Jumps to `slow` unless the frame holds `bytes` bytes: the bounds check the verifier wants before a read. */
function within(a: Assembler, bytes: number, slow: Label): void {
  a.mov64(R4, R2);
  a.add64Imm(R4, bytes);
  a.jumpReg('gt', R4, R3, slow);
}

/**
 * The planned rules, in order, as lin_matches() checks them: a rule that
 * holds jumps to `matched` with its action in r8 and its index as the key,
 * or, for a `reject`, to the C program, which decides the same and writes
 * the answer (lib/reject.h). Whether the code after them is reached (no
 * rule holds for every packet), and whether `matched` is.
 */
function emitRules(
  a: Assembler,
  plan: readonly FastPathRule[],
  layout: Layout,
  matched: Label,
  slow: Label,
): { falls: boolean; counts: boolean } {
  let counts = false;
  for (const rule of plan) {
    const next = new Label();
    for (const check of rule.checks) emitCheck(a, check, layout, next);
    // The C program answers a reject and logs a `log` rule's packets.
    if (rule.action === ACTION.reject || rule.log) a.jump(slow);
    else {
      a.mov64Imm(R8, toXdp(rule.action));
      a.store32Imm(FP, KEY_SLOT, rule.index);
      a.jump(matched);
      counts = true;
    }
    if (rule.checks.length === 0) return { falls: false, counts };
    a.place(next);
  }
  return { falls: true, counts };
}

/**
 * The prefix for `rules` (at most XDPFW_LINEAR_MAX, the compiler's linear
 * rules) and the default action; the C program's instructions go after it.
 */
export function fastPathInsns(rules: readonly LinearRule[], defaultAction: number, maps: FastPathMaps): Buffer {
  const a = new Assembler();
  const slow = new Label();
  const ipv6 = new Label();
  const dflt = new Label();
  const matched = new Label();
  const plans = [fastPathPlan(rules, 4), fastPathPlan(rules, 6)];

  skipWhileTraced(a, maps.traceCfg, slow);
  // The packet: as parse_ethernet(), parse_ipv4() or parse_ipv6(), and parse_l4() would find it.
  a.load('u32', R2, R1, 0); // ctx->data
  a.load('u32', R3, R1, 4); // ctx->data_end
  a.mov64(R9, R3);
  a.sub64(R9, R2); // bytes, as the C program counts them
  within(a, LAYOUT4.l4, slow); // Ethernet and an IPv4 header without options
  a.load('u16', R4, R2, ETH_TYPE);
  // One VLAN tag (802.1Q or 802.1ad): r2 moves past it, so that every offset
  // below reads the frame as if untagged. A second tag is left to the C program.
  const untagged = new Label();
  const tagged = new Label();
  a.jumpImm('eq', R4, ETH_P_8021Q_LOADED, tagged);
  a.jumpImm('ne', R4, ETH_P_8021AD_LOADED, untagged);
  a.place(tagged);
  a.add64Imm(R2, VLAN_HLEN);
  within(a, LAYOUT4.l4, slow);
  a.load('u16', R4, R2, ETH_TYPE);
  a.place(untagged);
  a.jumpImm('eq', R4, ETH_P_IPV6_LOADED, ipv6);
  a.jumpImm('ne', R4, ETH_P_IP_LOADED, slow);
  a.load('u8', R4, R2, IP);
  a.jumpImm('ne', R4, 0x45, slow); // version 4, no options
  a.load('u16', R4, R2, IP_FRAG_OFF);
  a.and32Imm(R4, FRAG_OFFSET_LOADED);
  a.jumpImm('ne', R4, 0, slow); // a non-first fragment
  a.load('u16', R5, R2, IP_TOT_LEN);
  a.hostToBigEndian(R5, 16);
  a.add64Imm(R5, -20); // below 20: wraps, and fails the next test
  a.load('u8', R6, R2, IP_PROTO);
  transport(a, LAYOUT4, slow);
  const rules4 = emitRules(a, plans[0], LAYOUT4, matched, slow);
  const default4 = rules4.falls;
  if (default4) a.jump(dflt);

  a.place(ipv6);
  within(a, LAYOUT6.l4, slow); // Ethernet and an IPv6 header
  a.load('u8', R4, R2, IP);
  a.and32Imm(R4, 0xf0);
  a.jumpImm('ne', R4, 0x60, slow); // version 6
  a.load('u16', R5, R2, IP6_PAYLOAD_LEN);
  a.hostToBigEndian(R5, 16);
  a.load('u8', R6, R2, IP6_NEXTHDR); // TCP or UDP right away: no extension header
  transport(a, LAYOUT6, slow);
  const rules6 = emitRules(a, plans[1], LAYOUT6, matched, slow);
  const default6 = rules6.falls;

  // Each map gets its own lookup: the verifier inlines a lookup only where
  // one map reaches it. It also refuses code no path reaches: each block is
  // emitted only when some path gets there.
  if (default4 || default6) {
    a.place(dflt); // IPv6 falls into it
    if (defaultAction === ACTION.reject) a.jump(slow);
    else {
      a.mov64Imm(R8, toXdp(defaultAction));
      a.store32Imm(FP, KEY_SLOT, COUNTER_INDEX.default);
      countIn(a, maps.counters);
    }
  }
  if (rules4.counts || rules6.counts) {
    a.place(matched);
    countIn(a, maps.ruleCounters);
  }
  return a.assemble(slow);
}
