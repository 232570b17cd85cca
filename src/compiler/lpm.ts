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
import type { PrefixClasses } from './output.js';
import { emptyPrefixClasses, truncatePrefixClasses } from './prefix-classes.js';
import { ipv4Keys, ipv4Order, ipv6Order, isStrictlyAscending, prefixContains, samePrefix, sortedIpv4Keys, word32, type Ipv4Keys } from './prefixes.js';

/** Marks the /0 root that is always added: it belongs to no rule. */
const ROOT = -1;

export function buildLpmEntries(
  rules: readonly IrRule[],
  field: 'src' | 'dst',
  family: 4 | 6,
  size: number,
  table: VectorTable,
): PrefixClasses {
  const inFamily = (r: IrRule) => (family === 4 ? r.families.ipv4 : r.families.ipv6);
  // base: rules of the family that hold when no prefix contains the address.
  const base = bitsOf(size, rules.filter((r) => inFamily(r) && (r[field] === null || r[field]!.negated)).map((r) => r.index));
  const familyRules = bitsOf(size, rules.filter(inFamily).map((r) => r.index));
  const sets = new RuleSets(size, (bits) => {
    const vector = new Uint32Array(size);
    for (let i = 0; i < size; i++) vector[i] = base[i] ^ (bits[i] & familyRules[i]);
    return table.intern(vector);
  });

  const { prefixes, owners, order, same, contains, word } = collect(rules, field, family);
  const entries = emptyPrefixClasses(family, order.length);
  const width = family === 4 ? 1 : 4;
  let n = 0;
  const stackIndex: number[] = [];
  const stackSet: number[] = [];
  const own: number[] = []; // reused: RuleSets copies what it keeps
  for (let k = 0; k < order.length; ) {
    const first = order[k];
    own.length = 0;
    for (; k < order.length && same(order[k], first); k++) {
      const owner = owners[order[k]];
      if (owner !== ROOT) own.push(owner);
    }
    if (own.length > 1) canonical(own);
    while (stackIndex.length > 0 && !contains(stackIndex[stackIndex.length - 1], first)) {
      stackIndex.pop();
      stackSet.pop();
    }
    const set = sets.intern(stackSet.length > 0 ? stackSet[stackSet.length - 1] : -1, own);
    stackIndex.push(first);
    stackSet.push(set);
    entries.prefixLength[n] = prefixes[first].length;
    entries.classId[n] = sets.classOf(set);
    for (let w = 0; w < width; w++) entries.words[n * width + w] = word(first, w);
    n++;
  }
  return truncatePrefixClasses(entries, family, n);
}

/**
 * Interned sets of rules, each its parent's set plus some own rules, and the
 * class of each set's vector. Consecutive prefixes usually add the same rule
 * to the same parent, so a one-entry cache answers most lookups.
 */
class RuleSets {
  private readonly ids = new Map<string, number>();
  private readonly bits: Bits[] = [];
  private readonly classes: number[] = [];
  private last = { parent: -2, owner: -1, id: -1 };

  constructor(
    private readonly size: number,
    private readonly classify: (bits: Bits) => number,
  ) {}

  intern(parent: number, own: readonly number[]): number {
    const single = own.length === 1;
    if (single && this.last.parent === parent && this.last.owner === own[0]) return this.last.id;
    const key = `${parent}:${own.join(',')}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.bits.length;
      this.ids.set(key, id);
      const bits = parent >= 0 ? or(this.bits[parent], bitsOf(this.size, own)) : bitsOf(this.size, own);
      this.bits.push(bits);
      this.classes.push(this.classify(bits));
    }
    if (single) this.last = { parent, owner: own[0], id };
    return id;
  }

  classOf(id: number): number {
    return this.classes[id];
  }
}

/** Sorts and deduplicates a short list of rule indexes in place. */
function canonical(own: number[]): void {
  own.sort((x, y) => x - y);
  let n = 1;
  for (let i = 1; i < own.length; i++) if (own[i] !== own[n - 1]) own[n++] = own[i];
  own.length = n;
}

/**
 * Every (prefix, owning rule) of the family plus the /0 root, their order
 * (trie pre-order, equal prefixes adjacent) and prefix comparisons by index —
 * on integers for IPv4, where a set has a million. The largest rule list
 * comes first: it is already sorted (IR prefixes are), so only the others
 * are sorted and then merged into it.
 */
function collect(rules: readonly IrRule[], field: 'src' | 'dst', family: 4 | 6) {
  const slices = rules.map((rule) => familySlice(rule[field]?.prefixes ?? [], family));
  let big = -1;
  slices.forEach(([from, to], i) => {
    if (to - from > (big < 0 ? 0 : slices[big][1] - slices[big][0])) big = i;
  });
  // The big list is copied in bulk (and for IPv4 its keys too); the others one by one.
  const bigList = big >= 0 ? rules[big][field]!.prefixes : [];
  const [bigFrom, bigTo] = big >= 0 ? slices[big] : [0, 0];
  const prefixes: Prefix[] = bigList.slice(bigFrom, bigTo);
  const bigEnd = prefixes.length; // IPv4 slices start at 0, so bigList's keys line up
  const owners: number[] = new Array<number>(prefixes.length).fill(big >= 0 ? rules[big].index : ROOT);
  slices.forEach(([from, to], i) => {
    if (i === big) return;
    const list = rules[i][field]?.prefixes ?? [];
    for (let k = from; k < to; k++) {
      prefixes.push(list[k]);
      owners.push(rules[i].index);
    }
  });
  prefixes.push(makePrefix(family, new Array<number>(family === 4 ? 4 : 16).fill(0), 0));
  owners.push(ROOT);
  if (family === 6) {
    return {
      prefixes,
      owners,
      order: ipv6Order(prefixes),
      same: (i: number, j: number) => samePrefix(prefixes[i], prefixes[j]),
      contains: (outer: number, inner: number) => prefixContains(prefixes[outer], prefixes[inner]),
      word: (i: number, w: number) => word32(prefixes[i].bytes, w),
    };
  }
  const keys: Ipv4Keys = { address: new Uint32Array(prefixes.length), length: new Uint8Array(prefixes.length) };
  const { address, length } = keys;
  if (big >= 0) {
    const bigKeys = sortedIpv4Keys(bigList);
    address.set(bigKeys.address.subarray(0, bigEnd));
    length.set(bigKeys.length.subarray(0, bigEnd));
  }
  const restKeys = ipv4Keys(prefixes.slice(bigEnd));
  address.set(restKeys.address, bigEnd);
  length.set(restKeys.length, bigEnd);
  const order = isStrictlyAscending(keys, 0, bigEnd) ? mergeOrder(keys, bigEnd) : ipv4Order(prefixes, keys);
  return {
    prefixes,
    owners,
    order,
    same: (i: number, j: number) => address[i] === address[j] && length[i] === length[j],
    contains: (outer: number, inner: number) =>
      length[outer] === 0 ||
      (length[outer] <= length[inner] && (address[outer] ^ address[inner]) >>> (32 - length[outer]) === 0),
    word: (i: number) => address[i],
  };
}

/** [from, to) of the family's prefixes in a list sorted by family (IPv4 first). */
function familySlice(prefixes: readonly Prefix[], family: 4 | 6): [number, number] {
  let low = 0;
  let high = prefixes.length;
  while (low < high) {
    const mid = (low + high) >> 1;
    if (prefixes[mid].family === 4) low = mid + 1;
    else high = mid;
  }
  return family === 4 ? [0, low] : [low, prefixes.length];
}

/** Order of all keys when [0, sortedEnd) is already sorted: sort the rest, then merge. */
function mergeOrder({ address, length }: Ipv4Keys, sortedEnd: number): Uint32Array {
  const before = (x: number, y: number) => address[x] < address[y] || (address[x] === address[y] && length[x] < length[y]);
  const rest = Array.from({ length: address.length - sortedEnd }, (_, i) => sortedEnd + i);
  rest.sort((x, y) => address[x] - address[y] || length[x] - length[y]);
  const order = new Uint32Array(address.length);
  let i = 0;
  let j = 0;
  for (let k = 0; k < order.length; k++) {
    order[k] = j >= rest.length || (i < sortedEnd && !before(rest[j], i)) ? i++ : rest[j++];
  }
  return order;
}
