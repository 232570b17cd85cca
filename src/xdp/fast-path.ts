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
 * The packet tests mirror parse_ethernet(), parse_ipv4(), parse_ipv6() and
 * parse_l4() for those packets, and the rule tests lin_matches();
 * tests/kernel/fast-path.test.ts compares the two paths frame by frame.
 */

import type { LinearRule } from '../compiler/output.js';
import { ACTION, COUNTER_INDEX } from '../contract/kernel.js';
import { asLoaded } from './layout.js';

/** One instruction: struct bpf_insn. */
interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number | Label;
  imm: number;
}

/** A jump target, placed with `at`. */
class Label {
  pos = -1;
}

/* linux/bpf.h opcodes */
const LDX_MEM = { u8: 0x71, u16: 0x69, u32: 0x61, u64: 0x79 } as const;
const STX_MEM_DW = 0x7b;
const ST_MEM_W = 0x62;
const ALU64_ADD_K = 0x07;
const ALU64_ADD_X = 0x0f;
const ALU64_SUB_X = 0x1f;
const ALU64_MOV_K = 0xb7;
const ALU64_MOV_X = 0xbf;
const ALU32_AND_K = 0x54;
const TO_BE = 0xdc; /* BPF_ALU | BPF_END | BPF_TO_BE */
const JA = 0x05;
const JMP_K = { eq: 0x15, ne: 0x55, gt: 0x25, lt: 0xa5 } as const;
const JMP32_K = { eq: 0x16, ne: 0x56 } as const;
const JGT_X = 0x2d;
const CALL = 0x85;
const EXIT = 0x95;
const LD_IMM64 = 0x18;
const PSEUDO_MAP_FD = 1;
const FUNC_MAP_LOOKUP_ELEM = 1;

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
  family: 4 | 6;
  src: number;
  dst: number;
  l4: number;
}
const LAYOUT4: Layout = { family: 4, src: IP + 12, dst: IP + 16, l4: IP + 20 };
const LAYOUT6: Layout = { family: 6, src: IP + 8, dst: IP + 24, l4: IP + 40 };

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
const R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R5 = 5, R6 = 6, R8 = 8, R9 = 9, FP = 10;
/** The stack slot of the counter's key (u32). */
const KEY_SLOT = -4;

const toXdp = (action: number): number => (action === ACTION.pass ? 2 : 1);

class Emitter {
  readonly insns: Insn[] = [];

  emit(code: number, dst: number, src: number, off: number | Label, imm: number): void {
    this.insns.push({ code, dst, src, off, imm });
  }
  load(size: keyof typeof LDX_MEM, dst: number, base: number, off: number): void {
    this.emit(LDX_MEM[size], dst, base, off, 0);
  }
  jump(code: number, dst: number, imm: number, to: Label, src = 0): void {
    this.emit(code, dst, src, to, imm);
  }
  at(label: Label): void {
    label.pos = this.insns.length;
  }
  mapFd(dst: number, fd: number): void {
    this.emit(LD_IMM64, dst, PSEUDO_MAP_FD, 0, fd);
    this.emit(0, 0, 0, 0, 0);
  }

  /** struct bpf_insn[]: jumps resolved, `fallthrough` placed just past the end. */
  encode(fallthrough: Label): Buffer {
    fallthrough.pos = this.insns.length;
    const out = Buffer.alloc(this.insns.length * 8);
    this.insns.forEach((insn, i) => {
      let off = insn.off;
      if (off instanceof Label) {
        if (off.pos < 0) throw new Error('fast path: a jump to a label never placed');
        off = off.pos - i - 1;
      }
      out.writeUInt8(insn.code, i * 8);
      out.writeUInt8((insn.src << 4) | insn.dst, i * 8 + 1);
      out.writeInt16LE(off, i * 8 + 2);
      out.writeInt32LE(insn.imm | 0, i * 8 + 4);
    });
    return out;
  }
}

/** One test a rule makes of the packet; the rule holds when all of its tests pass. */
type Check =
  | { kind: 'protocol'; protocol: number }
  | { kind: 'port'; offset: number; low: number; high: number }
  | { kind: 'flags'; offset: number; mask: number; value: number }
  /** An address in a prefix: each 32-bit word at offset + 4i, masked, equals value[i] (one word for IPv4, four for IPv6). */
  | { kind: 'address'; offset: number; mask: number[]; value: number[]; negated: boolean };

/** A rule as the fast path tests it. */
interface PlannedRule {
  index: number;
  action: number;
  checks: Check[];
}

/**
 * The tests of a rule on a TCP or UDP packet of the layout's family, or
 * null when it can never hold for one (another family, ICMP, another
 * protocol, outside /0).
 */
function checksOf(rule: LinearRule, layout: Layout): Check[] | null {
  const family = layout.family;
  if (!(family === 4 ? rule.families.ipv4 : rule.families.ipv6) || rule.icmpType !== null) return null;
  if ((rule.src && rule.src.family !== family) || (rule.dst && rule.dst.family !== family)) return null;
  if (rule.protocol !== null && rule.protocol !== IPPROTO_TCP && rule.protocol !== IPPROTO_UDP) return null;
  if (rule.tcpFlags && rule.protocol === IPPROTO_UDP) return null;
  const checks: Check[] = [];
  // Only TCP carries flags: a flags test without a protocol implies TCP.
  const protocol = rule.protocol ?? (rule.tcpFlags ? IPPROTO_TCP : null);
  if (protocol !== null) checks.push({ kind: 'protocol', protocol });
  for (const [offset, ports] of [[layout.l4, rule.sport], [layout.l4 + 2, rule.dport]] as const) {
    if (ports && (ports.low > 0 || ports.high < 0xffff)) checks.push({ kind: 'port', offset, ...ports });
  }
  if (rule.tcpFlags) checks.push({ kind: 'flags', offset: layout.l4 + 13, ...rule.tcpFlags });
  for (const [offset, prefix] of [[layout.src, rule.src], [layout.dst, rule.dst]] as const) {
    if (!prefix) continue;
    const mask = prefix.mask.map((m) => m >>> 0);
    const value = prefix.value.map((v) => v >>> 0);
    const whole = mask.every((m) => m === 0);
    if (whole && prefix.negated) return null; // outside /0: never
    if (!whole) checks.push({ kind: 'address', offset, mask, value, negated: prefix.negated });
  }
  return checks;
}

/**
 * The rules the fast path tests for TCP and UDP over `family`, in order:
 * those that can hold for such a packet, up to and including the first
 * that holds for every one (the rest could never decide one).
 */
export function fastPathPlan(rules: readonly LinearRule[], family: 4 | 6): PlannedRule[] {
  const layout = family === 4 ? LAYOUT4 : LAYOUT6;
  const plan: PlannedRule[] = [];
  for (const [index, rule] of rules.entries()) {
    const checks = checksOf(rule, layout);
    if (checks === null) continue;
    plan.push({ index, action: rule.action, checks });
    if (checks.length === 0) break;
  }
  return plan;
}

/** Jumps to `next` unless `check` holds. */
function emitCheck(e: Emitter, check: Check, next: Label): void {
  switch (check.kind) {
    case 'protocol':
      e.jump(JMP_K.ne, R6, check.protocol, next);
      return;
    case 'port':
      e.load('u16', R4, R2, check.offset);
      e.emit(TO_BE, R4, 0, 0, 16);
      if (check.low > 0) e.jump(JMP_K.lt, R4, check.low, next);
      if (check.high < 0xffff) e.jump(JMP_K.gt, R4, check.high, next);
      return;
    case 'flags':
      e.load('u8', R4, R2, check.offset);
      e.emit(ALU32_AND_K, R4, 0, 0, check.mask);
      e.jump(JMP_K.ne, R4, check.value, next);
      return;
    case 'address': {
      // Outside the prefix as soon as one word differs: a plain match fails
      // there; a negated one holds there, and fails when every word agrees
      // (with one word to compare, at once).
      const words = check.mask.flatMap((mask, i) => (mask === 0 ? [] : [i]));
      const single = check.negated && words.length === 1;
      const outside = check.negated && !single ? new Label() : next;
      for (const i of words) {
        e.load('u32', R4, R2, check.offset + 4 * i);
        if (check.mask[i] !== 0xffffffff) e.emit(ALU32_AND_K, R4, 0, 0, asLoaded(check.mask[i]));
        e.jump(single ? JMP32_K.eq : JMP32_K.ne, R4, asLoaded(check.value[i]), outside);
      }
      if (outside !== next) {
        e.jump(JA, 0, 0, next);
        e.at(outside);
      }
      return;
    }
  }
}

/** count(): the packet and its bytes (r9) at key KEY_SLOT of the per-CPU `map`; then returns r8. */
function countIn(e: Emitter, map: number): void {
  const done = new Label();
  e.mapFd(R1, map);
  e.emit(ALU64_MOV_X, R2, FP, 0, 0);
  e.emit(ALU64_ADD_K, R2, 0, 0, KEY_SLOT);
  e.emit(CALL, 0, 0, 0, FUNC_MAP_LOOKUP_ELEM);
  e.jump(JMP_K.eq, R0, 0, done);
  e.load('u64', R1, R0, 0);
  e.emit(ALU64_ADD_K, R1, 0, 0, 1);
  e.emit(STX_MEM_DW, R0, R1, 0, 0);
  e.load('u64', R1, R0, 8);
  e.emit(ALU64_ADD_X, R1, R9, 0, 0);
  e.emit(STX_MEM_DW, R0, R1, 8, 0);
  e.at(done);
  e.emit(ALU64_MOV_X, R0, R8, 0, 0);
  e.emit(EXIT, 0, 0, 0, 0);
}

export interface FastPathMaps {
  /** xdpfw_rule_counters and xdpfw_counters: their fds. */
  ruleCounters: number;
  counters: number;
}

/**
 * The L4 header's checks, with r5 the bytes after the IP header as that
 * header gives them and r6 the protocol: the datagram within the frame, a
 * whole TCP header (data offset ≥ 5) or UDP header. The rules follow.
 */
function transport(e: Emitter, layout: Layout, slow: Label): void {
  const udp = new Label();
  const whole = new Label();
  e.emit(ALU64_MOV_X, R4, R3, 0, 0);
  e.emit(ALU64_SUB_X, R4, R2, 0, 0);
  e.emit(ALU64_ADD_K, R4, 0, 0, -layout.l4);
  e.jump(JGT_X, R5, 0, slow, R4); // the datagram is cut short (or shorter than its header)
  e.jump(JMP_K.eq, R6, IPPROTO_UDP, udp);
  e.jump(JMP_K.ne, R6, IPPROTO_TCP, slow);
  e.jump(JMP_K.lt, R5, 20, slow);
  within(e, layout.l4 + 20, slow);
  e.load('u8', R4, R2, layout.l4 + 12);
  e.jump(JMP_K.lt, R4, 0x50, slow); // data offset < 5
  e.jump(JA, 0, 0, whole);
  // UDP: r6 is known to be 17 from here, so the verifier never follows a
  // rule's TCP-only test (its flags, past these 8 bytes) on this path.
  e.at(udp);
  e.jump(JMP_K.lt, R5, 8, slow);
  within(e, layout.l4 + 8, slow);
  e.at(whole);
}

/** Jumps to `slow` unless the frame holds `bytes` bytes: the bounds check the verifier wants before a read. */
function within(e: Emitter, bytes: number, slow: Label): void {
  e.emit(ALU64_MOV_X, R4, R2, 0, 0);
  e.emit(ALU64_ADD_K, R4, 0, 0, bytes);
  e.jump(JGT_X, R4, 0, slow, R3);
}

/**
 * The planned rules, in order, as lin_matches() checks them: a rule that
 * holds jumps to `matched` with its action in r8 and its index as the key.
 * Whether the code after them is reached (no rule holds for every packet).
 */
function emitRules(e: Emitter, plan: readonly PlannedRule[], matched: Label): boolean {
  for (const rule of plan) {
    const next = new Label();
    for (const check of rule.checks) emitCheck(e, check, next);
    e.emit(ALU64_MOV_K, R8, 0, 0, toXdp(rule.action));
    e.emit(ST_MEM_W, FP, 0, KEY_SLOT, rule.index);
    e.jump(JA, 0, 0, matched);
    if (rule.checks.length === 0) return false;
    e.at(next);
  }
  return true;
}

/**
 * The prefix for `rules` (at most XDPFW_LINEAR_MAX, the compiler's linear
 * rules) and the default action; the C program's instructions go after it.
 */
export function fastPathInsns(rules: readonly LinearRule[], defaultAction: number, maps: FastPathMaps): Buffer {
  const e = new Emitter();
  const slow = new Label();
  const ipv6 = new Label();
  const dflt = new Label();
  const matched = new Label();
  const plans = [fastPathPlan(rules, 4), fastPathPlan(rules, 6)];

  // The packet: as parse_ethernet(), parse_ipv4() or parse_ipv6(), and parse_l4() would find it.
  e.load('u32', R2, R1, 0); // ctx->data
  e.load('u32', R3, R1, 4); // ctx->data_end
  e.emit(ALU64_MOV_X, R9, R3, 0, 0);
  e.emit(ALU64_SUB_X, R9, R2, 0, 0); // bytes, as the C program counts them
  within(e, LAYOUT4.l4, slow); // Ethernet and an IPv4 header without options
  e.load('u16', R4, R2, ETH_TYPE);
  // One VLAN tag (802.1Q or 802.1ad): r2 moves past it, so that every offset
  // below reads the frame as if untagged. A second tag is left to the C program.
  const untagged = new Label();
  const tagged = new Label();
  e.jump(JMP_K.eq, R4, ETH_P_8021Q_LOADED, tagged);
  e.jump(JMP_K.ne, R4, ETH_P_8021AD_LOADED, untagged);
  e.at(tagged);
  e.emit(ALU64_ADD_K, R2, 0, 0, VLAN_HLEN);
  within(e, LAYOUT4.l4, slow);
  e.load('u16', R4, R2, ETH_TYPE);
  e.at(untagged);
  e.jump(JMP_K.eq, R4, ETH_P_IPV6_LOADED, ipv6);
  e.jump(JMP_K.ne, R4, ETH_P_IP_LOADED, slow);
  e.load('u8', R4, R2, IP);
  e.jump(JMP_K.ne, R4, 0x45, slow); // version 4, no options
  e.load('u16', R4, R2, IP_FRAG_OFF);
  e.emit(ALU32_AND_K, R4, 0, 0, FRAG_OFFSET_LOADED);
  e.jump(JMP_K.ne, R4, 0, slow); // a non-first fragment
  e.load('u16', R5, R2, IP_TOT_LEN);
  e.emit(TO_BE, R5, 0, 0, 16);
  e.emit(ALU64_ADD_K, R5, 0, 0, -20); // below 20: wraps, and fails the next test
  e.load('u8', R6, R2, IP_PROTO);
  transport(e, LAYOUT4, slow);
  const default4 = emitRules(e, plans[0], matched);
  if (default4) e.jump(JA, 0, 0, dflt);

  e.at(ipv6);
  within(e, LAYOUT6.l4, slow); // Ethernet and an IPv6 header
  e.load('u8', R4, R2, IP);
  e.emit(ALU32_AND_K, R4, 0, 0, 0xf0);
  e.jump(JMP_K.ne, R4, 0x60, slow); // version 6
  e.load('u16', R5, R2, IP6_PAYLOAD_LEN);
  e.emit(TO_BE, R5, 0, 0, 16);
  e.load('u8', R6, R2, IP6_NEXTHDR); // TCP or UDP right away: no extension header
  transport(e, LAYOUT6, slow);
  const default6 = emitRules(e, plans[1], matched);

  // Each map gets its own lookup: the verifier inlines a lookup only where
  // one map reaches it. It also refuses code no path reaches: each block is
  // emitted only when some path gets there.
  if (default4 || default6) {
    e.at(dflt); // IPv6 falls into it
    e.emit(ALU64_MOV_K, R8, 0, 0, toXdp(defaultAction));
    e.emit(ST_MEM_W, FP, 0, KEY_SLOT, COUNTER_INDEX.default);
    countIn(e, maps.counters);
  }
  if (plans.some((plan) => plan.length > 0)) {
    e.at(matched);
    countIn(e, maps.ruleCounters);
  }
  return e.encode(slow);
}
