/**
 * The tests' oracle: whether an IR rule's field matches hold for a packet,
 * computed the naive way from ir.ts's semantics (a scan of the prefixes, of
 * the intervals), sharing no code with the compiler.
 */
import type { FieldPacket } from '../../../src/compiler/evaluate.js';
import type { AddressConstraint, IrRule, PortInterval, Prefix } from '../../../src/compiler/ir.js';
import { toValue } from '../../support/generate.js';

export function addressHolds(c: AddressConstraint | null, family: 4 | 6, address: readonly number[]): boolean {
  if (c === null) return true;
  const inside = c.prefixes.size > 64 ? inPrefixSet(c, family, address) : c.prefixes.toArray().some((p) => inPrefix(p, family, address));
  return c.negated ? !inside : inside;
}

function inPrefix(p: Prefix, family: 4 | 6, address: readonly number[]): boolean {
  const host = BigInt(address.length * 8 - p.length);
  return p.family === family && toValue(address) >> host === toValue(p.bytes) >> host;
}

/** For big sets: the address truncated to every length, looked up among the prefixes' texts. */
const prefixSets = new WeakMap<AddressConstraint, Set<string>>();
function inPrefixSet(c: AddressConstraint, family: 4 | 6, address: readonly number[]): boolean {
  let set = prefixSets.get(c);
  if (!set) prefixSets.set(c, (set = new Set(c.prefixes.toArray().map((p) => `${p.family}/${p.length}/${p.bytes.join('.')}`))));
  const bits = address.length * 8;
  for (let length = 0; length <= bits; length++) {
    const masked = address.map((b, i) => b & ((0xff00 >> Math.max(0, Math.min(8, length - 8 * i))) & 0xff));
    if (set.has(`${family}/${length}/${masked.join('.')}`)) return true;
  }
  return false;
}

export const familyHolds = (r: IrRule, family: 4 | 6) => (family === 4 ? r.families.ipv4 : r.families.ipv6);
export const protocolHolds = (r: IrRule, protocol: number) => r.protocols === null || r.protocols.includes(protocol);
export const portHolds = (intervals: PortInterval[] | null, port: number | undefined) =>
  intervals === null || (port !== undefined && intervals.some((i) => i.low <= port && port <= i.high));
export const flagsHold = (r: IrRule, flags: number | undefined) =>
  r.tcpFlags === null || (flags !== undefined && (flags & r.tcpFlags.mask) === r.tcpFlags.value);
export const typeHolds = (r: IrRule, type: number | undefined) =>
  r.icmpTypes === null || (type !== undefined && r.icmpTypes.includes(type));
/** Every packet has a state; none given is new (state 0). */
export const ctStateHolds = (r: IrRule, state: number) => r.ctStates === null || ((r.ctStates >> state) & 1) === 1;
export const CT_STATE_NUMBERS = { new: 0, established: 1, related: 2, invalid: 3 } as const;

export function ruleHolds(r: IrRule, p: FieldPacket): boolean {
  return (
    familyHolds(r, p.family) &&
    protocolHolds(r, p.protocol) &&
    addressHolds(r.src, p.family, p.src) &&
    addressHolds(r.dst, p.family, p.dst) &&
    portHolds(r.sport, p.sport) &&
    portHolds(r.dport, p.dport) &&
    flagsHold(r, p.tcpFlags) &&
    typeHolds(r, p.icmpType) &&
    ctStateHolds(r, CT_STATE_NUMBERS[p.ctState ?? 'new'])
  );
}

/** The first rule whose matches all hold, or undefined (the default decides). */
export function firstHolding(rules: readonly IrRule[], p: FieldPacket): IrRule | undefined {
  return rules.find((r) => ruleHolds(r, p));
}
