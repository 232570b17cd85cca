/**
 * The IR's meaning on one packet, field by field (ir.ts semantics): which
 * rules match, which decides. Used by IR checks (nd-dropped) and by tests as
 * the oracle for the bit vectors. Not the data plane: no classes, no tables,
 * and no state: whether a rule's tail (a dynamic set, a limit) holds is asked
 * of a TailOracle the caller gives; without one, reaching a rule whose tail
 * has a condition throws, so no caller takes a limited rule as always
 * matching by accident.
 */
import { prefixesContain } from './structures/address-sets.js';
import type { Action, AddressConstraint, IrInterface, IrRule, PortInterval } from './ir.js';
import { ctStateBit, type CtStateName } from './syntax/names.js';

/** A packet as the classifier sees it: absent fields are undefined. */
export interface FieldPacket {
  family: 4 | 6;
  protocol: number;
  /** Network-order address bytes of the packet's family. */
  src: number[];
  dst: number[];
  sport?: number;
  dport?: number;
  tcpFlags?: number;
  icmpType?: number;
  /** The connection state the data plane computed; undefined is `new` (a packet no entry knows). */
  ctState?: CtStateName;
}

export function familyMatches(rule: IrRule, family: 4 | 6): boolean {
  return family === 4 ? rule.families.ipv4 : rule.families.ipv6;
}

export function protocolMatches(rule: IrRule, protocol: number): boolean {
  return rule.protocols === null || rule.protocols.includes(protocol);
}

export function addressMatches(constraint: AddressConstraint | null, family: 4 | 6, bytes: readonly number[]): boolean {
  if (constraint === null) return true;
  const inside = prefixesContain(constraint, family, bytes);
  return constraint.negated ? !inside : inside;
}

export function portMatches(intervals: PortInterval[] | null, port: number | undefined): boolean {
  if (intervals === null) return true;
  return port !== undefined && intervals.some((i) => port >= i.low && port <= i.high);
}

export function tcpFlagsMatch(rule: IrRule, flags: number | undefined): boolean {
  if (rule.tcpFlags === null) return true;
  return flags !== undefined && (flags & rule.tcpFlags.mask) === rule.tcpFlags.value;
}

export function icmpTypeMatches(rule: IrRule, type: number | undefined): boolean {
  if (rule.icmpTypes === null) return true;
  return type !== undefined && rule.icmpTypes.includes(type);
}

export function ctStateMatches(rule: IrRule, state: CtStateName = 'new'): boolean {
  return rule.ctStates === null || (rule.ctStates & ctStateBit(state)!) !== 0;
}

export function ruleMatches(rule: IrRule, p: FieldPacket): boolean {
  return (
    familyMatches(rule, p.family) &&
    protocolMatches(rule, p.protocol) &&
    addressMatches(rule.src, p.family, p.src) &&
    addressMatches(rule.dst, p.family, p.dst) &&
    portMatches(rule.sport, p.sport) &&
    portMatches(rule.dport, p.dport) &&
    tcpFlagsMatch(rule, p.tcpFlags) &&
    icmpTypeMatches(rule, p.icmpType) &&
    ctStateMatches(rule, p.ctState)
  );
}

export interface IrVerdict {
  /** What the policy decides; in `mode audit` a drop or reject is not enforced (see enforcedAction). */
  action: Action;
  /** The deciding rule; undefined when the default decided. */
  rule?: IrRule;
  /** The `audit` rules before it that would have decided the packet, in order: each counts it. */
  audited: IrRule[];
}

/** What happens to the packet: the verdict, or `allow` where `mode audit` passes a drop or reject. */
export function enforcedAction(iface: Pick<IrInterface, 'auditMode'>, verdict: Pick<IrVerdict, 'action'>): Action {
  return iface.auditMode ? 'allow' : verdict.action;
}

/**
 * Whether the tail of `rule` (whose stateless matches held for `p`) holds:
 * its dynamic-set memberships and its limit (docs/DESIGN.md, "Rate limits
 * and dynamic sets"). Asked only of rules whose tail has a condition.
 */
export type TailOracle = (rule: IrRule, p: FieldPacket) => boolean;

/** Whether a rule's tail has a condition (a ban alone conditions nothing). */
export function dependsOnState(rule: IrRule): boolean {
  const tail = rule.tail;
  return tail !== null && (tail.srcSet !== null || tail.dstSet !== null || tail.limit !== null);
}

/** Refuses to decide a rule whose tail depends on state: the default of evaluate. */
const NO_TAIL_ORACLE: TailOracle = (rule) => {
  throw new Error(`rule ${rule.index} (${rule.text}) depends on state (a dynamic set or a limit): evaluate needs a tail oracle`);
};

export function evaluate(iface: IrInterface, p: FieldPacket, tails: TailOracle = NO_TAIL_ORACLE): IrVerdict {
  const audited: IrRule[] = [];
  for (const rule of iface.rules) {
    if (!ruleMatches(rule, p) || (dependsOnState(rule) && !tails(rule, p))) continue;
    if (!rule.audit) return { action: rule.action, rule, audited };
    audited.push(rule);
  }
  return { action: iface.defaultAction, audited };
}
