/**
 * The conjunction of two conditions, field by field, for inlining a chain:
 * a packet reaches a rule of the jumped-to chain only if it matched the
 * jumping rule. Either the conjunction is one condition, or no packet meets
 * both ('empty': the inlined rule is dropped), or one xdpfw rule cannot say
 * it (a reason, refused).
 *
 * The stateful parts: a static set's prefixes conjoin like any address
 * list (the set's name is kept only while the prefixes are unchanged). A
 * jump's limit takes one token before the chain's rules are tried, and a
 * jump's recent --set adds the source whether or not a rule of the chain
 * decides; inlined, each rule would test its own bucket after its own
 * matches, or ban only when it decides: inexpressible, unless the chain's
 * rule has no condition of its own (for a limit). A chain's rule's limit,
 * dynamic-set match and ban carry over; two limits or two dynamic-set
 * matches do not fit one rule.
 */
import { contains, intersectCidrs, cidrText } from './iptables-addresses.js';
import type { AddressMatch, Condition, Interval } from './iptables-conditions.js';

export type Conjunction = { condition: Condition } | { empty: true } | { inexpressible: string };

export function conjoin(outer: Condition, inner: Condition): Conjunction {
  const out: Condition = {};
  let empty = false;
  let inexpressible: string | undefined;

  const same = <T>(a: T | undefined, b: T | undefined): T | undefined => {
    if (a !== undefined && b !== undefined && a !== b) empty = true;
    return a ?? b;
  };
  const assign = <K extends keyof Condition>(field: K, value: Condition[K] | undefined) => {
    if (value !== undefined) out[field] = value;
  };

  assign('iface', same(outer.iface, inner.iface));
  const outerFamily = impliedFamily(outer);
  const innerFamily = impliedFamily(inner);
  if (outerFamily !== undefined && innerFamily !== undefined && outerFamily !== innerFamily) empty = true;
  assign('family', outer.family ?? inner.family);
  assign('protocol', same(outer.protocol, inner.protocol));
  for (const field of ['src', 'dst'] as const) {
    const result = conjoinAddresses(outer[field], inner[field]);
    if (result === 'empty') empty = true;
    else if (typeof result === 'string') inexpressible = `${field}: ${result}`;
    else assign(field, result);
  }
  for (const field of ['sport', 'dport'] as const) {
    const result = both(outer[field], inner[field], intersectIntervals);
    if (result?.length === 0) empty = true;
    assign(field, result);
  }
  const types = both(outer.icmpTypes, inner.icmpTypes, (a, b) => a.filter((t) => b.includes(t)));
  if (types?.length === 0) empty = true;
  assign('icmpTypes', types);
  const states = both(outer.ctStates, inner.ctStates, (a, b) => a.filter((s) => b.includes(s)));
  if (states?.length === 0) empty = true;
  assign('ctStates', states);
  const flags = both(outer.tcpFlags, inner.tcpFlags, conjoinFlags);
  if (flags === null) empty = true;
  else assign('tcpFlags', flags);

  const stateful = conjoinStateful(outer, inner);
  if (typeof stateful === 'string') inexpressible ??= stateful;
  else Object.assign(out, stateful);

  if (empty) return { empty: true };
  if (inexpressible !== undefined) return { inexpressible };
  return { condition: out };
}

function conjoinStateful(outer: Condition, inner: Condition): Pick<Condition, 'limit' | 'dynamicSet' | 'ban' | 'banSeconds'> | string {
  if (outer.ban !== undefined) {
    return `the jump adds the source to recent list '${outer.ban}' whether or not a rule of the chain decides; an xdpfw ban goes with a deciding rule`;
  }
  if (outer.limit && inner.limit) return 'a jump with a limit reaches a rule with its own limit: a rule has at most one';
  if (outer.limit && Object.keys(inner).length > 0) {
    return "the jump's limit takes a token before the chain's rules are tried; inlined, each rule would keep its own bucket and take from it after its own matches";
  }
  if (outer.dynamicSet && inner.dynamicSet)
    return 'a jump with a recent match reaches a rule with its own: two dynamic-set matches in one rule';
  const out: Pick<Condition, 'limit' | 'dynamicSet' | 'ban' | 'banSeconds'> = {};
  const limit = outer.limit ?? inner.limit;
  const dynamicSet = outer.dynamicSet ?? inner.dynamicSet;
  if (limit) out.limit = limit;
  if (dynamicSet) out.dynamicSet = dynamicSet;
  if (inner.ban !== undefined) out.ban = inner.ban;
  if (inner.banSeconds !== undefined) out.banSeconds = inner.banSeconds;
  return out;
}

/** The one family a condition's packets can have, by its family match, its addresses or its ICMP type. */
export function impliedFamily(c: Condition): 4 | 6 | undefined {
  if (c.family !== undefined) return c.family;
  const cidr = c.src?.cidrs[0] ?? c.dst?.cidrs[0];
  if (cidr !== undefined) return cidr.family;
  // An ICMP type is of ICMP over IPv4 or ICMPv6 over IPv6; protocol 1 or 58 alone is a number either family may carry.
  if (c.protocol === 1 && c.icmpTypes) return 4;
  if (c.protocol === 58 && c.icmpTypes) return 6;
  return undefined;
}

function both<T, R>(a: T | undefined, b: T | undefined, combine: (a: T, b: T) => R): T | R | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return combine(a, b);
}

function intersectIntervals(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [al, ah] of a) {
    for (const [bl, bh] of b) {
      const low = Math.max(al, bl);
      const high = Math.min(ah, bh);
      if (low <= high) out.push([low, high]);
    }
  }
  return out.sort((x, y) => x[0] - y[0]);
}

/** Both masks' flags; null when they disagree on a flag both look at. */
function conjoinFlags(a: { set: string[]; mask: string[] }, b: { set: string[]; mask: string[] }) {
  for (const flag of a.mask) {
    if (b.mask.includes(flag) && a.set.includes(flag) !== b.set.includes(flag)) return null;
  }
  return { set: [...new Set([...a.set, ...b.set])], mask: [...new Set([...a.mask, ...b.mask])] };
}

/**
 * Positive with positive: the prefixes in both. Negated with negated: not
 * in either, one negated list. Positive with negated: the positive prefixes
 * that lie wholly outside the negated ones, and none that lie inside; a
 * positive prefix that holds a negated one would need a set difference.
 */
function conjoinAddresses(a: AddressMatch | undefined, b: AddressMatch | undefined): AddressMatch | 'empty' | string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (!a.negated && !b.negated) {
    const cidrs = intersectCidrs(a.cidrs, b.cidrs);
    return cidrs.length === 0 ? 'empty' : { cidrs, negated: false };
  }
  if (a.negated && b.negated) return { cidrs: [...a.cidrs, ...b.cidrs], negated: true };
  const positive = a.negated ? b : a;
  const negative = a.negated ? a : b;
  // A /0 is every address of its family, which `src ! X` already means.
  if (positive.cidrs.every((p) => p.length === 0)) return negative;
  const kept = [];
  for (const p of positive.cidrs) {
    if (negative.cidrs.some((n) => contains(n, p))) continue;
    const inside = negative.cidrs.find((n) => contains(p, n));
    if (inside) return `${cidrText(p)} except ${cidrText(inside)} needs a set difference, which one rule cannot hold`;
    kept.push(p);
  }
  return kept.length === 0 ? 'empty' : { cidrs: kept, negated: false };
}
