/**
 * Boxes of packets for the lockout proof: a region is, per field, a set of
 * values as sorted disjoint intervals (the product of the sets is the
 * packets it holds), or null where its packets lack the field. A rule's
 * match is a box of the same kind (ir.ts semantics: an unconstrained field
 * holds every value and also a missing one; a constrained field never holds
 * a missing one), so a region meets a rule in one box and what the rule
 * leaves of it is at most one box per field the rule constrains. The fields
 * are the classifier's (passes/classify.ts), plus the connection state.
 */
import type { AddressConstraint, IrRule, PortInterval } from '../ir.js';
import { ctStateBit, CT_STATE_NAMES } from '../syntax/names.js';
import { addressIntervals } from './address-sets.js';

export type Value = number | bigint;

/** Sorted, disjoint, inclusive intervals [starts[i], ends[i]]. */
export interface Ranges {
  starts: ArrayLike<Value>;
  ends: ArrayLike<Value>;
}

export const FIELDS = ['protocol', 'src', 'dst', 'sport', 'dport', 'tcpFlags', 'icmpType', 'ctState'] as const;
export type FieldName = (typeof FIELDS)[number];

/** Every combination of its fields' values; a null field: its packets lack the field. */
export interface Region {
  family: 4 | 6;
  fields: Record<FieldName, Ranges | null>;
}

/** A rule's condition on one field: the values it accepts, or (negated) those it refuses. */
export interface FieldCondition {
  ranges: Ranges;
  negated: boolean;
}

type Conditions = Partial<Record<FieldName, FieldCondition>>;

const range = (low: Value, high: Value): Ranges => ({ starts: [low], ends: [high] });
const ADDRESSES: Record<4 | 6, Ranges> = { 4: range(0, 2 ** 32 - 1), 6: range(0n, (1n << 128n) - 1n) };
const ALL_CT_STATES = range(0, CT_STATE_NAMES.length - 1);
/** IPv6 next headers the parser skips as extension headers (docs/DESIGN.md): never a packet's protocol. */
const IPV6_EXTENSION_HEADERS = [0, 43, 44, 51, 60];

export const icmpProtocolOf = (family: 4 | 6): number => (family === 4 ? 1 : 58);

/**
 * The whole header space of a family in four regions: TCP with ports and
 * flags, UDP with ports, ICMP (ICMPv6) with a type, and packets without L4
 * fields (any protocol: non-first fragments of TCP, UDP and ICMP too).
 */
export function familySpace(family: 4 | 6): Region[] {
  const base = { src: ADDRESSES[family], dst: ADDRESSES[family], ctState: ALL_CT_STATES };
  const none = { sport: null, dport: null, tcpFlags: null, icmpType: null };
  const ports = { sport: range(0, 65535), dport: range(0, 65535) };
  const protocols = family === 4 ? range(0, 255) : fromValues(range0to255().filter((p) => !IPV6_EXTENSION_HEADERS.includes(p)));
  // Packets with L4 fields first: a counterexample is then a whole packet rather than a fragment when both exist.
  return [
    { family, fields: { ...base, ...none, ...ports, protocol: range(6, 6), tcpFlags: range(0, 255) } },
    { family, fields: { ...base, ...none, ...ports, protocol: range(17, 17) } },
    { family, fields: { ...base, ...none, protocol: range(icmpProtocolOf(family), icmpProtocolOf(family)), icmpType: range(0, 255) } },
    { family, fields: { ...base, ...none, protocol: protocols } },
  ];
}

function range0to255(): number[] {
  return Array.from({ length: 256 }, (_, i) => i);
}

/** Sorted distinct integers as ranges. */
export function fromValues(values: readonly number[]): Ranges {
  const starts: number[] = [];
  const ends: number[] = [];
  for (const v of values) {
    if (ends.length > 0 && ends[ends.length - 1] === v - 1) ends[ends.length - 1] = v;
    else {
      starts.push(v);
      ends.push(v);
    }
  }
  return { starts, ends };
}

const memo = new WeakMap<IrRule, Map<4 | 6, Conditions | null>>();

/** The rule's conditions on packets of `family`, or null when it matches none of them. */
export function conditionsOf(rule: IrRule, family: 4 | 6): Conditions | null {
  let perFamily = memo.get(rule);
  if (!perFamily) memo.set(rule, (perFamily = new Map()));
  if (!perFamily.has(family)) perFamily.set(family, buildConditions(rule, family));
  return perFamily.get(family)!;
}

function buildConditions(rule: IrRule, family: 4 | 6): Conditions | null {
  if (!(family === 4 ? rule.families.ipv4 : rule.families.ipv6)) return null;
  const out: Conditions = {};
  const accept = (ranges: Ranges): FieldCondition => ({ ranges, negated: false });
  if (rule.protocols) out.protocol = accept(fromValues([...rule.protocols].sort((a, b) => a - b)));
  const address = (c: AddressConstraint): FieldCondition => ({ ranges: addressIntervals(c, family), negated: c.negated });
  if (rule.src) out.src = address(rule.src);
  if (rule.dst) out.dst = address(rule.dst);
  const ports = (intervals: PortInterval[]): FieldCondition =>
    accept({ starts: intervals.map((i) => i.low), ends: intervals.map((i) => i.high) });
  if (rule.sport) out.sport = ports(rule.sport);
  if (rule.dport) out.dport = ports(rule.dport);
  const flags = rule.tcpFlags;
  if (flags) out.tcpFlags = accept(fromValues(range0to255().filter((v) => (v & flags.mask) === flags.value)));
  if (rule.icmpTypes) out.icmpType = accept(fromValues(rule.icmpTypes));
  const states = rule.ctStates;
  if (states !== null)
    out.ctState = accept(fromValues(CT_STATE_NAMES.map((_, i) => i).filter((i) => (states & ctStateBit(CT_STATE_NAMES[i])!) !== 0)));
  return out;
}

/**
 * A quick test before intersectRule, for walks that try far more rules on
 * a region than meet it: false when the rule matches no packet of
 * `region`; true when it may (a negated condition whose prefixes abut is
 * not merged here).
 */
export function mayMeetRule(region: Region, rule: IrRule): boolean {
  const conditions = conditionsOf(rule, region.family);
  if (!conditions) return false;
  for (const name of FIELDS) {
    const condition = conditions[name];
    if (!condition) continue;
    const values = region.fields[name];
    if (values === null) return false;
    if (!(condition.negated ? notWithin(values, condition.ranges) : overlaps(values, condition.ranges))) return false;
  }
  return true;
}

/** Whether a and b have a value in common. */
function overlaps(a: Ranges, b: Ranges): boolean {
  for (let i = 0; i < a.starts.length; i++) {
    const j = firstEndingFrom(b, a.starts[i]);
    if (j < b.starts.length && b.starts[j] <= a.ends[i]) return true;
  }
  return false;
}

/** Whether a has a value outside b. */
function notWithin(a: Ranges, b: Ranges): boolean {
  for (let i = 0; i < a.starts.length; i++) {
    const j = firstEndingFrom(b, a.starts[i]);
    // The interval is within b only if one interval of b holds it whole.
    if (j >= b.starts.length || b.starts[j] > a.starts[i] || b.ends[j] < a.ends[i]) return true;
  }
  return false;
}

/** The packets of `region` the rule matches (its stateless part), or null when there are none. */
export function intersectRule(region: Region, rule: IrRule): Region | null {
  const conditions = conditionsOf(rule, region.family);
  if (!conditions) return null;
  const fields = { ...region.fields };
  for (const name of FIELDS) {
    const condition = conditions[name];
    if (!condition) continue;
    const values = region.fields[name];
    if (values === null) return null; // a constrained field never holds a missing one
    const kept = condition.negated ? subtract(values, condition.ranges) : intersect(values, condition.ranges);
    if (isEmpty(kept)) return null;
    fields[name] = kept;
  }
  return { family: region.family, fields };
}

/**
 * The packets of `region` the rule does not match, as disjoint regions:
 * the k-th holds the packets that meet the rule's first k - 1 conditions
 * and fail the k-th. Call only when intersectRule found a part in common.
 */
export function subtractRule(region: Region, rule: IrRule): Region[] {
  const conditions = conditionsOf(rule, region.family);
  if (!conditions) return [region];
  const out: Region[] = [];
  const fields = { ...region.fields };
  for (const name of FIELDS) {
    const condition = conditions[name];
    const values = fields[name];
    if (!condition || values === null) continue;
    const outside = condition.negated ? intersect(values, condition.ranges) : subtract(values, condition.ranges);
    if (!isEmpty(outside)) out.push({ family: region.family, fields: { ...fields, [name]: outside } });
    fields[name] = condition.negated ? subtract(values, condition.ranges) : intersect(values, condition.ranges);
  }
  return out;
}

export function isEmpty(r: Ranges): boolean {
  return r.starts.length === 0;
}

/** The index of the first interval of `r` ending at or after `x`. */
function firstEndingFrom(r: Ranges, x: Value): number {
  let low = 0;
  let high = r.ends.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (r.ends[mid] < x) low = mid + 1;
    else high = mid;
  }
  return low;
}

const next = (x: Value): Value => (typeof x === 'bigint' ? x + 1n : x + 1);
const previous = (x: Value): Value => (typeof x === 'bigint' ? x - 1n : x - 1);
const max = (a: Value, b: Value): Value => (a > b ? a : b);
const min = (a: Value, b: Value): Value => (a < b ? a : b);

/** a ∩ b; each interval of `a` (the region's, usually few) looks up the part of `b` it overlaps. */
export function intersect(a: Ranges, b: Ranges): Ranges {
  const starts: Value[] = [];
  const ends: Value[] = [];
  for (let i = 0; i < a.starts.length; i++) {
    for (let j = firstEndingFrom(b, a.starts[i]); j < b.starts.length && b.starts[j] <= a.ends[i]; j++) {
      starts.push(max(a.starts[i], b.starts[j]));
      ends.push(min(a.ends[i], b.ends[j]));
    }
  }
  return { starts, ends };
}

/** a \ b */
export function subtract(a: Ranges, b: Ranges): Ranges {
  const starts: Value[] = [];
  const ends: Value[] = [];
  for (let i = 0; i < a.starts.length; i++) {
    let from = a.starts[i];
    const end = a.ends[i];
    for (let j = firstEndingFrom(b, from); j < b.starts.length && b.starts[j] <= end && from <= end; j++) {
      if (b.starts[j] > from) {
        starts.push(from);
        ends.push(previous(b.starts[j]));
      }
      from = next(b.ends[j]);
    }
    if (from <= end) {
      starts.push(from);
      ends.push(end);
    }
  }
  return { starts, ends };
}
