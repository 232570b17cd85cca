/**
 * The linear path's IPv4 fast path, as BPF instructions put in front of the
 * data plane's program when a policy takes the linear path (bpf/xdpfw.h).
 *
 * The C program reads each rule's checks from frozen .rodata: the verifier
 * removes the branches of checks a rule does not have, but not the loads and
 * the arithmetic that fed them, and clang keeps the parsed packet in a
 * stack struct that eight rules' checks read back. Here each rule is a few
 * compares against immediates: for one rule, the C program cost ~6 ns over a
 * bare XDP_DROP and this prefix ~1.4 (BPF_PROG_TEST_RUN; docs/DESIGN.md,
 * "IPv4 fast path").
 *
 * The prefix takes only the commonest packet: untagged Ethernet, IPv4
 * without options, not a non-first fragment, carrying a whole TCP or UDP
 * header, the datagram within the frame. It classifies it as the C program
 * would (first rule whose checks hold, else the default), counts it in the
 * same maps and returns. Any other packet falls through, untouched, into the
 * C program, whose first instruction follows the prefix: r1 (the context)
 * is never written before that, so the C program starts as if alone. One
 * program, one load: no tail call, nothing more to pin.
 *
 * The packet tests mirror parse_ethernet(), parse_ipv4() and parse_l4() for
 * that case, and the rule tests lin_matches(); tests/kernel compares the two
 * paths packet by packet.
 */

import type { LinearRule } from '../compiler/output.js';
import { ACTION, asLoaded, COUNTER_INDEX } from './layout.js';

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

/* Offsets in the frame: Ethernet (14), IPv4 without options (20), then L4. */
const ETH_TYPE = 12;
const IP = 14;
const IP_TOT_LEN = IP + 2;
const IP_FRAG_OFF = IP + 6;
const IP_PROTO = IP + 9;
const IP_SRC = IP + 12;
const IP_DST = IP + 16;
const L4 = IP + 20;
const TCP_DOFF = L4 + 12;
const TCP_FLAGS = L4 + 13;
/** Bytes the prefix reads up to: a whole TCP header. */
const NEEDED = L4 + 20;

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;
/** The Ethertype 0x0800 and the fragment-offset mask 0x1fff as a little-endian load sees them. */
const ETH_P_IP_LOADED = 0x0008;
const FRAG_OFFSET_LOADED = 0xff1f;

/*
 * Registers: r1 the context (kept for the C program), r2 data, r3 data_end,
 * r4 scratch, r5 the IPv4 total length, r6 the L4 protocol, r8 the XDP
 * action to return, r9 the frame's bytes (what the counters add).
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
  | { kind: 'flags'; mask: number; value: number }
  | { kind: 'address'; offset: number; mask: number; value: number; negated: boolean };

/** A rule as the fast path tests it. */
interface PlannedRule {
  index: number;
  action: number;
  checks: Check[];
}

/**
 * The tests of a rule on an IPv4 TCP or UDP packet, or null when it can
 * never hold for one (IPv6 only, ICMP, another protocol, outside /0).
 */
function checksOf(rule: LinearRule): Check[] | null {
  if (!rule.families.ipv4 || rule.icmpType !== null) return null;
  if (rule.src?.family === 6 || rule.dst?.family === 6) return null;
  if (rule.protocol !== null && rule.protocol !== IPPROTO_TCP && rule.protocol !== IPPROTO_UDP) return null;
  if (rule.tcpFlags && rule.protocol === IPPROTO_UDP) return null;
  const checks: Check[] = [];
  // Only TCP carries flags: a flags test without a protocol implies TCP.
  const protocol = rule.protocol ?? (rule.tcpFlags ? IPPROTO_TCP : null);
  if (protocol !== null) checks.push({ kind: 'protocol', protocol });
  for (const [offset, ports] of [[L4, rule.sport], [L4 + 2, rule.dport]] as const) {
    if (ports && (ports.low > 0 || ports.high < 0xffff)) checks.push({ kind: 'port', offset, ...ports });
  }
  if (rule.tcpFlags) checks.push({ kind: 'flags', ...rule.tcpFlags });
  for (const [offset, prefix] of [[IP_SRC, rule.src], [IP_DST, rule.dst]] as const) {
    if (!prefix) continue;
    const [mask, value] = [prefix.mask[0] >>> 0, prefix.value[0] >>> 0];
    if (mask === 0 && prefix.negated) return null; // outside 0.0.0.0/0: never
    if (mask !== 0) checks.push({ kind: 'address', offset, mask, value, negated: prefix.negated });
  }
  return checks;
}

/**
 * The rules the fast path tests, in order: those that can hold for an IPv4
 * TCP or UDP packet, up to and including the first that holds for every
 * one (the rest could never decide such a packet).
 */
export function fastPathPlan(rules: readonly LinearRule[]): PlannedRule[] {
  const plan: PlannedRule[] = [];
  for (const [index, rule] of rules.entries()) {
    const checks = checksOf(rule);
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
      e.load('u8', R4, R2, TCP_FLAGS);
      e.emit(ALU32_AND_K, R4, 0, 0, check.mask);
      e.jump(JMP_K.ne, R4, check.value, next);
      return;
    case 'address':
      e.load('u32', R4, R2, check.offset);
      if (check.mask !== 0xffffffff) e.emit(ALU32_AND_K, R4, 0, 0, asLoaded(check.mask));
      // Inside a negated prefix the rule fails; outside a plain one too.
      e.jump(check.negated ? JMP32_K.eq : JMP32_K.ne, R4, asLoaded(check.value), next);
      return;
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
 * The prefix for `rules` (at most XDPFW_LINEAR_MAX, the compiler's linear
 * rules) and the default action; the C program's instructions go after it.
 */
export function fastPathInsns(rules: readonly LinearRule[], defaultAction: number, maps: FastPathMaps): Buffer {
  const e = new Emitter();
  const slow = new Label();
  const udp = new Label();
  const classify = new Label();

  // The packet: as parse_ethernet(), parse_ipv4() and parse_l4() would find it.
  e.load('u32', R2, R1, 0); // ctx->data
  e.load('u32', R3, R1, 4); // ctx->data_end
  e.emit(ALU64_MOV_X, R4, R2, 0, 0);
  e.emit(ALU64_ADD_K, R4, 0, 0, NEEDED);
  e.jump(JGT_X, R4, 0, slow, R3);
  e.load('u16', R4, R2, ETH_TYPE);
  e.jump(JMP_K.ne, R4, ETH_P_IP_LOADED, slow);
  e.load('u8', R4, R2, IP);
  e.jump(JMP_K.ne, R4, 0x45, slow); // version 4, no options
  e.load('u16', R4, R2, IP_FRAG_OFF);
  e.emit(ALU32_AND_K, R4, 0, 0, FRAG_OFFSET_LOADED);
  e.jump(JMP_K.ne, R4, 0, slow); // a non-first fragment
  e.load('u16', R5, R2, IP_TOT_LEN);
  e.emit(TO_BE, R5, 0, 0, 16);
  e.emit(ALU64_MOV_X, R4, R3, 0, 0);
  e.emit(ALU64_SUB_X, R4, R2, 0, 0);
  e.emit(ALU64_ADD_K, R4, 0, 0, -IP);
  e.jump(JGT_X, R5, 0, slow, R4); // the datagram is cut short
  e.load('u8', R6, R2, IP_PROTO);
  e.jump(JMP_K.eq, R6, IPPROTO_UDP, udp);
  e.jump(JMP_K.ne, R6, IPPROTO_TCP, slow);
  e.jump(JMP_K.lt, R5, 40, slow); // TCP: 20 + 20 bytes
  e.load('u8', R4, R2, TCP_DOFF);
  e.jump(JMP_K.lt, R4, 0x50, slow); // data offset < 5
  e.jump(JA, 0, 0, classify);
  e.at(udp);
  e.jump(JMP_K.lt, R5, 28, slow); // UDP: 20 + 8 bytes
  e.at(classify);
  e.emit(ALU64_MOV_X, R9, R3, 0, 0);
  e.emit(ALU64_SUB_X, R9, R2, 0, 0); // bytes, as the C program counts them

  // The rules, in order, as lin_matches() checks them. The verifier refuses
  // code no path reaches: nothing follows a rule without checks (the plan
  // ends there), and no rule-counter block is emitted without a rule.
  const plan = fastPathPlan(rules);
  const matched = new Label();
  for (const rule of plan) {
    const next = new Label();
    for (const check of rule.checks) emitCheck(e, check, next);
    e.emit(ALU64_MOV_K, R8, 0, 0, toXdp(rule.action));
    e.emit(ST_MEM_W, FP, 0, KEY_SLOT, rule.index);
    if (rule.checks.length === 0) break; // falls into the rule counters' block below
    e.jump(JA, 0, 0, matched);
    e.at(next);
  }
  // Each map gets its own lookup: the verifier inlines a lookup only where one map reaches it.
  if (plan.at(-1)?.checks.length !== 0) {
    e.emit(ALU64_MOV_K, R8, 0, 0, toXdp(defaultAction));
    e.emit(ST_MEM_W, FP, 0, KEY_SLOT, COUNTER_INDEX.default);
    countIn(e, maps.counters);
  }
  if (plan.length > 0) {
    e.at(matched);
    countIn(e, maps.ruleCounters);
  }
  return e.encode(slow);
}
