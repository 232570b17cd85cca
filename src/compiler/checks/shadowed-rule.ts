/**
 * `shadowed-rule` (warning): an earlier rule matches every packet this rule
 * matches, so this one never decides. Containment is decided field by field
 * on the IR: families, protocols, addresses (negation included, exactly, per
 * family), ports, TCP flags, ICMP types. Only single earlier rules are
 * considered (a rule covered by the union of several is not reported), and
 * only stateless ones: a rule with a dynamic set or a limit lets packets
 * through to later rules when its tail fails. (A ban alone decides nothing.)
 */
import type { Diagnostic } from '../../policy/diagnostic.js';
import { addressIntervals, coversAll, isDisjoint, isEmpty, isSubset } from '../structures/address-sets.js';
import { diagnostic, lineRef } from '../codes.js';
import type { IrCheck } from '../context.js';
import { dependsOnState } from '../evaluate.js';
import type { AddressConstraint, IrRule, PortInterval } from '../ir.js';

export const checkShadowedRules: IrCheck = (ir) => {
  const out: Diagnostic[] = [];
  for (const iface of ir.interfaces) {
    const { rules } = iface;
    const hulls = ruleHulls(rules);
    const signatures = rules.map(quickSignature);
    const index = new BlockIndex(hulls);
    for (const later of rules) {
      let earlier: IrRule | undefined;
      const need = signatures[later.index];
      for (const candidates of index.candidates(later.index)) {
        for (let i = 0; i < candidates.length; i++) {
          const rule = rules[candidates[i]];
          if (earlier && rule.index >= earlier.index) break;
          if (dependsOnState(rule) || rule.audit) continue; // neither surely decides what it matches
          const has = signatures[rule.index];
          if ((has.mask & ~need.mask) !== 0 || (has.protocol >= 0 && has.protocol !== need.protocol)) continue;
          if (hullsCover(hulls, rule.index, later.index) && covers(rule, later)) {
            earlier = rule;
            break;
          }
        }
      }
      index.add(later.index);
      if (!earlier) continue;
      const who = earlier.name !== undefined ? `rule "${earlier.name}"` : `the rule`;
      const where = `${who} at ${lineRef(earlier.span, later.span)} (${earlier.text})`;
      out.push(
        diagnostic(
          'shadowed-rule',
          later.span,
          `this rule never matches: ${where} matches every packet it matches`,
          earlier.action === later.action
            ? 'remove it, or make it more specific'
            : `if it is an exception to the earlier rule, move it above ${lineRef(earlier.span, later.span)}`,
        ),
      );
    }
  }
  return out;
};

/**
 * mask: the fields a rule constrains that only a constrained field can
 * satisfy (protocol, ports, flags, types, ct states), and the families it does *not*
 * match — so a can cover b only if a's mask ⊆ b's. protocol: the rule's
 * single protocol, or -1.
 */
function quickSignature(r: IrRule): { mask: number; protocol: number } {
  const mask =
    (r.protocols ? 1 : 0) |
    (r.sport ? 2 : 0) |
    (r.dport ? 4 : 0) |
    (r.tcpFlags ? 8 : 0) |
    (r.icmpTypes ? 16 : 0) |
    (r.families.ipv4 ? 0 : 32) |
    (r.families.ipv6 ? 0 : 64) |
    (r.ctStates !== null ? 128 : 0);
  return { mask, protocol: r.protocols?.length === 1 ? r.protocols[0] : -1 };
}

/**
 * Per rule, the hull [low, high] of its IPv4 source, IPv4 destination,
 * source ports and destination ports (the whole range when unconstrained or negated):
 * `a` can only cover `b` if each hull of `a` contains `b`'s. Comparing numbers
 * in one typed array first keeps the exact test off most of the n² pairs.
 */
const HULLS = 4;
function ruleHulls(rules: readonly IrRule[]): Float64Array {
  const hulls = new Float64Array(rules.length * HULLS * 2);
  rules.forEach((r, i) => {
    // Addresses first: they rule out most pairs, ports are often the whole range.
    hulls.set([...ipv4Hull(r, r.src), ...ipv4Hull(r, r.dst), ...portHull(r.sport), ...portHull(r.dport)], i * HULLS * 2);
  });
  return hulls;
}

function portHull(ports: PortInterval[] | null): [number, number] {
  return ports === null || ports.length === 0 ? [0, 65535] : [ports[0].low, ports[ports.length - 1].high];
}

const EMPTY: [number, number] = [Infinity, -Infinity]; // every hull contains it, it contains none
const IPV4_MAX = 2 ** 32 - 1;

/** The exact hull of the IPv4 addresses the rule's constraint lets through (for `!`, of the complement). */
function ipv4Hull(rule: IrRule, address: AddressConstraint | null): [number, number] {
  if (!rule.families.ipv4) return EMPTY;
  if (address === null) return [0, IPV4_MAX];
  if (!address.negated) {
    // From the sorted prefixes themselves: most rules' intervals are then never built.
    const { address: starts, length } = address.prefixes.v4;
    if (starts.length === 0) return EMPTY;
    let high = 0;
    for (let i = 0; i < starts.length; i++) high = Math.max(high, starts[i] + 2 ** (32 - length[i]) - 1);
    return [starts[0], high];
  }
  const { starts, ends } = addressIntervals(address, 4);
  const n = starts.length;
  if (n === 0) return [0, IPV4_MAX];
  const low = Number(starts[0]) > 0 ? 0 : Number(ends[0]) + 1;
  const high = Number(ends[n - 1]) < IPV4_MAX ? IPV4_MAX : Number(starts[n - 1]) - 1;
  return low > high ? EMPTY : [low, high];
}

function hullsCover(hulls: Float64Array, a: number, b: number): boolean {
  const pa = a * HULLS * 2;
  const pb = b * HULLS * 2;
  for (let k = 0; k < HULLS * 2; k += 2) {
    if (hulls[pa + k] > hulls[pb + k] || hulls[pa + k + 1] < hulls[pb + k + 1]) return false;
  }
  return true;
}

/** Hull k of rule i is [hulls[i*8 + 2k], hulls[i*8 + 2k + 1]]: IPv4 source (k = 0), IPv4 destination (k = 1). */
const ADDRESS_HULLS = [0, 1];

/**
 * Earlier rules by the smallest aligned IPv4 block holding each address
 * hull (k = 0, 1). A rule whose hull contains b's has its block on the path
 * from /0 to b's block, so b's candidates are the ≤ 33 lists on that path
 * (of whichever field has fewer). A rule with an empty hull (no IPv4, or a
 * negation of everything) contains no other hull, so it can only cover rules
 * with an empty hull; those are compared with every earlier rule.
 */
class BlockIndex {
  private readonly byBlock = ADDRESS_HULLS.map(() => new Map<number, number[]>());
  private readonly all: number[] = [];

  constructor(private readonly hulls: Float64Array) {}

  add(rule: number): void {
    this.all.push(rule);
    if (this.emptyHull(rule)) return; // in `all` only
    const at = rule * HULLS * 2;
    for (const k of ADDRESS_HULLS) {
      const [length, address] = block(this.hulls[at + 2 * k], this.hulls[at + 2 * k + 1]);
      const key = blockKey(length, address);
      const list = this.byBlock[k].get(key);
      if (list) list.push(rule);
      else this.byBlock[k].set(key, [rule]);
    }
  }

  /** Lists of earlier rules, each in rule order, that hold every earlier rule whose hulls may contain `rule`'s. */
  candidates(rule: number): number[][] {
    if (this.emptyHull(rule)) return [this.all];
    const at = rule * HULLS * 2;
    let best: number[][] = [];
    let bestCount = Infinity;
    for (const k of ADDRESS_HULLS) {
      const [length, address] = block(this.hulls[at + 2 * k], this.hulls[at + 2 * k + 1]);
      const lists: number[][] = [];
      let count = 0;
      for (let l = 0; l <= length; l++) {
        const list = this.byBlock[k].get(blockKey(l, l === 0 ? 0 : (address & (0xffffffff << (32 - l))) >>> 0));
        if (list) {
          lists.push(list);
          count += list.length;
        }
      }
      if (count < bestCount) {
        best = lists;
        bestCount = count;
      }
    }
    return best;
  }

  private emptyHull(rule: number): boolean {
    const at = rule * HULLS * 2;
    return ADDRESS_HULLS.some((k) => this.hulls[at + 2 * k] > this.hulls[at + 2 * k + 1]);
  }
}

/** The smallest aligned block [address, address + 2^(32 - length)) holding [low, high]. */
function block(low: number, high: number): [number, number] {
  const length = Math.clz32((low ^ high) >>> 0);
  return [length, length === 0 ? 0 : (low & (0xffffffff << (32 - length))) >>> 0];
}

function blockKey(length: number, address: number): number {
  return length * 2 ** 32 + address;
}

/** Whether every packet matching `b` matches `a`. */
export function covers(a: IrRule, b: IrRule): boolean {
  if ((b.families.ipv4 && !a.families.ipv4) || (b.families.ipv6 && !a.families.ipv6)) return false;
  if (a.protocols !== null && (b.protocols === null || !isSubsetOf(b.protocols, a.protocols))) return false;
  if (!portsCover(a.sport, b.sport) || !portsCover(a.dport, b.dport)) return false;
  if (a.tcpFlags !== null) {
    if (b.tcpFlags === null) return false;
    const { mask, value } = a.tcpFlags;
    // b pins the bits of b.mask; a holds for all of them iff a's mask ⊆ b's and b's pinned values agree.
    if ((mask & b.tcpFlags.mask) !== mask || (b.tcpFlags.value & mask) !== value) return false;
  }
  if (a.icmpTypes !== null && (b.icmpTypes === null || !isSubsetOf(b.icmpTypes, a.icmpTypes))) return false;
  if (a.ctStates !== null && (b.ctStates === null || (b.ctStates & ~a.ctStates) !== 0)) return false;
  if (b.families.ipv4 && !(addressCovers(a.src, b.src, 4) && addressCovers(a.dst, b.dst, 4))) return false;
  return !b.families.ipv6 || (addressCovers(a.src, b.src, 6) && addressCovers(a.dst, b.dst, 6));
}

function isSubsetOf(small: readonly number[], large: readonly number[]): boolean {
  for (const x of small) if (!large.includes(x)) return false;
  return true;
}

/** Intervals are sorted and merged, so each interval of b must lie inside one of a. */
function portsCover(a: PortInterval[] | null, b: PortInterval[] | null): boolean {
  if (a === null) return true;
  if (b === null) return false;
  let i = 0;
  for (const x of b) {
    while (i < a.length && a[i].high < x.low) i++;
    if (i === a.length || a[i].low > x.low || a[i].high < x.high) return false;
  }
  return true;
}

/** Whether, for packets of `family`, every address matching `b` matches `a` (null = any address). */
function addressCovers(a: AddressConstraint | null, b: AddressConstraint | null, family: 4 | 6): boolean {
  if (a === null) return true;
  const ua = addressIntervals(a, family);
  if (b === null) return a.negated ? isEmpty(ua) : coversAll(ua);
  const ub = addressIntervals(b, family);
  if (!a.negated && !b.negated) return isSubset(ub, ua);
  if (a.negated && b.negated) return isSubset(ua, ub);
  if (a.negated) return isDisjoint(ua, ub);
  return coversAll(ua, ub);
}
