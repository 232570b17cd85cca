/**
 * LPM trie entries of one address field (src or dst) and one family.
 *
 * Entries: every prefix of that family in any rule's constraint on the field,
 * plus /0. The vector of prefix P holds, among the rules that can match the
 * family: the non-negated rules with a prefix ⊇ P, the negated rules with no
 * prefix ⊇ P, and the rules that do not constrain the field. (Rules that
 * cannot match the family get 0: the protocol vector excludes them anyway.)
 *
 * Scale: a million-prefix set must not cost a million vector computations.
 * The prefixes are sorted into trie pre-order and walked with a stack of
 * ancestors; the set of rules "having a prefix ⊇ P" is interned from its
 * parent's set and P's own rules, so prefixes that share it (typically every
 * entry of a big set) share one set id, and vectors are built per set id.
 */
import { makePrefix } from './address.js';
import { bitsOf, or, type Bits, type VectorTable } from './bits.js';
import type { IrRule, Prefix } from './ir.js';
import type { LpmEntry } from './output.js';
import { ipv4Order, ipv6Order, prefixContains, samePrefix } from './prefixes.js';

export function buildLpmEntries(
  rules: readonly IrRule[],
  field: 'src' | 'dst',
  family: 4 | 6,
  size: number,
  table: VectorTable,
): LpmEntry[] {
  const inFamily = (r: IrRule) => (family === 4 ? r.families.ipv4 : r.families.ipv6);
  // base: rules of the family that hold when no prefix contains the address.
  const base = bitsOf(size, rules.filter((r) => inFamily(r) && (r[field] === null || r[field]!.negated)).map((r) => r.index));
  const familyRules = bitsOf(size, rules.filter(inFamily).map((r) => r.index));

  // Interned "rules having a prefix ⊇ P" sets: parent set id + own rules.
  const setIds = new Map<string | number, number>();
  const setBits: Bits[] = [];
  const setClass: number[] = [];
  const internSet = (parent: number, own: number[]): number => {
    const key = own.length === 1 && parent >= 0 ? parent * 1048576 + own[0] : `${parent}:${own.join(',')}`;
    let id = setIds.get(key);
    if (id === undefined) {
      id = setBits.length;
      setIds.set(key, id);
      const bits = parent >= 0 ? or(setBits[parent], bitsOf(size, own)) : bitsOf(size, own);
      setBits.push(bits);
      const vector = new Uint32Array(size);
      for (let i = 0; i < size; i++) vector[i] = base[i] ^ (bits[i] & familyRules[i]);
      setClass.push(table.intern(vector));
    }
    return id;
  };

  const { prefixes, owners, order } = collect(rules, field, family);
  const entries: LpmEntry[] = [];
  const root = makePrefix(family, new Array<number>(family === 4 ? 4 : 16).fill(0), 0);
  const stackPrefix: Prefix[] = [];
  const stackSet: number[] = [];
  let k = 0;
  if (order.length === 0 || prefixes[order[0]].length !== 0) {
    // No rule holds /0 itself: the root entry carries the "no prefix contains it" vector.
    stackPrefix.push(root);
    stackSet.push(internSet(-1, []));
    entries.push(entry(root, setClass[stackSet[0]]));
  }
  const own: number[] = []; // reused: internSet copies what it keeps
  while (k < order.length) {
    const prefix = prefixes[order[k]];
    own.length = 0;
    // Equal prefixes are adjacent, their owners ascending.
    for (; k < order.length && samePrefix(prefixes[order[k]], prefix); k++) {
      const owner = owners[order[k]];
      if (own[own.length - 1] !== owner) own.push(owner);
    }
    while (stackPrefix.length > 0 && !prefixContains(stackPrefix[stackPrefix.length - 1], prefix)) {
      stackPrefix.pop();
      stackSet.pop();
    }
    const set = internSet(stackSet.length > 0 ? stackSet[stackSet.length - 1] : -1, own);
    stackPrefix.push(prefix);
    stackSet.push(set);
    entries.push(entry(prefix, setClass[set]));
  }
  return entries;
}

function entry(prefix: Prefix, classId: number): LpmEntry {
  return { bytes: prefix.bytes, prefixLength: prefix.length, text: prefix.text, classId };
}

/** Every (prefix, owning rule) of the family, and their order: trie pre-order, owners ascending. */
function collect(rules: readonly IrRule[], field: 'src' | 'dst', family: 4 | 6) {
  const prefixes: Prefix[] = [];
  const owners: number[] = [];
  for (const rule of rules) {
    const constraint = rule[field];
    if (!constraint) continue;
    for (const p of constraint.prefixes) {
      if (p.family !== family) continue;
      prefixes.push(p);
      owners.push(rule.index);
    }
  }
  // Both orders are stable and pairs were collected in rule order, so equal prefixes keep owners ascending.
  const order: ArrayLike<number> = family === 4 ? ipv4Order(prefixes) : ipv6Order(prefixes);
  return { prefixes, owners, order };
}
