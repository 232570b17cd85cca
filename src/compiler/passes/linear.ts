/**
 * The linear path (bpf/xdpfw.h): an interface of at most LINEAR_MAX rules,
 * each simple, is classified by trying its rules in order with constants
 * the program reads from .rodata, instead of by class lookups and bit
 * vectors, which cost more than a few comparisons. This module decides
 * whether an interface qualifies and describes its rules as the data plane
 * compares them. Semantics are the IR's (ir.ts, evaluate.ts).
 */
import { LINEAR_MAX } from '../../contract/kernel.js';
import type { AddressConstraint, IrInterface, IrRule } from '../ir.js';
import { KERNEL_ACTION, type CompiledConstants, type LinearRule, type MaskedPrefix } from '../output.js';
import { word32 } from '../structures/prefix-list.js';

/** How an interface is classified: the compiler's choice, or forced (tests, benches). */
export type ClassifyChoice = 'auto' | 'lbvs' | 'linear';

/**
 * The interface's rules for the linear path, or null for the bit vectors:
 * 'auto' takes the linear path whenever the interface qualifies, 'lbvs'
 * never, 'linear' always (it throws when the interface does not qualify).
 */
export function linearRules(iface: IrInterface, choice: ClassifyChoice = 'auto'): LinearRule[] | null {
  if (choice === 'lbvs') return null;
  const why = whyNotLinear(iface);
  if (why === null) return iface.rules.map(linearRule);
  if (choice === 'linear') throw new Error(`interface ${iface.name} cannot take the linear path: ${why}`);
  return null;
}

/** Which path classifies a compiled interface, for people: "linear, 3 rules" or "bit vectors". */
export function classificationText(k: CompiledConstants): string {
  if (!k.linear) return 'bit vectors';
  return `linear, ${k.linear.length} rule${k.linear.length === 1 ? '' : 's'}`;
}

/**
 * Why the interface does not qualify for the linear path, or null when it
 * does. Past XDPFW_LINEAR_MAX (8) rules the bit vectors are about as fast
 * (README, Performance).
 */
export function whyNotLinear(iface: IrInterface): string | null {
  if (iface.rules.length > LINEAR_MAX) return `${iface.rules.length} rules, more than ${LINEAR_MAX}`;
  for (const rule of iface.rules) {
    const why = whyNotSimple(rule);
    if (why !== null) return `rule ${rule.index} (${rule.text}) ${why}`;
  }
  return null;
}

/**
 * Each constraint must be one value (TCP flags always are), so the program
 * compares it in one step; and stateless: the tails' loop is the bit
 * vectors' (docs/DESIGN.md, "Rate limits and dynamic sets").
 */
function whyNotSimple(r: IrRule): string | null {
  if (r.tail !== null) return 'has a stateful tail (a dynamic set, a limit or a ban)';
  if (r.audit) return "is an audit rule (the tails' loop counts it)";
  const counts: [string, number | undefined][] = [
    ['src prefixes', r.src?.prefixes.size],
    ['dst prefixes', r.dst?.prefixes.size],
    ['protocols', r.protocols?.length],
    ['sport intervals', r.sport?.length],
    ['dport intervals', r.dport?.length],
    ['ICMP types', r.icmpTypes?.length],
  ];
  for (const [what, count] of counts) if (count !== undefined && count !== 1) return `has ${count} ${what}`;
  // The program compares the address of the packet's family with the one
  // prefix: it must be of every family the rule matches (checked IR's always is).
  for (const c of [r.src, r.dst]) {
    const family = c?.prefixes.at(0).family;
    if (family !== undefined && (family === 4 ? r.families.ipv6 : r.families.ipv4)) {
      return `matches IPv${family === 4 ? 6 : 4} packets against an IPv${family} prefix`;
    }
  }
  return null;
}

function linearRule(r: IrRule): LinearRule {
  return {
    action: KERNEL_ACTION[r.action],
    ...(r.log ? { log: true as const } : {}),
    families: { ...r.families },
    protocol: r.protocols?.[0] ?? null,
    src: r.src && maskedPrefix(r.src),
    dst: r.dst && maskedPrefix(r.dst),
    sport: r.sport && { ...r.sport[0] },
    dport: r.dport && { ...r.dport[0] },
    tcpFlags: r.tcpFlags && { ...r.tcpFlags },
    icmpType: r.icmpTypes?.[0] ?? null,
    ctStates: r.ctStates,
  };
}

/** The constraint's one prefix as value and mask words. */
function maskedPrefix(c: AddressConstraint): MaskedPrefix {
  const { family, bytes, length } = c.prefixes.at(0);
  const value = Array.from({ length: bytes.length / 4 }, (_, w) => word32(bytes, w));
  const mask = value.map((_, w) => {
    const bits = Math.min(32, Math.max(0, length - 32 * w));
    return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  });
  return { family, value, mask, negated: c.negated };
}
