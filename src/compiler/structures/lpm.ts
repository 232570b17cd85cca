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
import { bitsOf, clearBit, setBit, type VectorTable } from './bits.js';
import type { IrRule } from '../ir.js';
import type { PrefixClasses } from '../output.js';
import { emptyPrefixClasses, truncatePrefixClasses } from './prefix-classes.js';
import { ipv6Order, type Ipv4Keys, type Ipv6Keys } from './prefix-list.js';

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
  const base = bitsOf(
    size,
    rules.filter((r) => inFamily(r) && (r[field] === null || r[field]!.negated)).map((r) => r.index),
  );
  // A set's vector is base ^ (set ∩ family): its parent's vector with the bit
  // of each own rule of the family set (cleared for a negated match).
  const effect = new Int8Array(rules.length);
  for (const r of rules) if (inFamily(r) && r[field] !== null) effect[r.index] = r[field]!.negated ? CLEAR : SET;
  const vector = new Uint32Array(size); // reused: the table copies what it keeps
  const sets = new RuleSets((parentClass, own) => {
    vector.set(parentClass >= 0 ? table.vectors[parentClass] : base);
    for (const rule of own) {
      if (effect[rule] === SET) setBit(vector, rule);
      else if (effect[rule] === CLEAR) clearBit(vector, rule);
    }
    return table.intern(vector);
  });

  const { length, owners, order, same, contains, word } = family === 4 ? collect4(rules, field) : collect6(rules, field);
  const entries = emptyPrefixClasses(family, order.length);
  const width = family === 4 ? 1 : 4;
  let n = 0;
  const stackIndex: number[] = [];
  const stackSet: number[] = [];
  const own: number[] = []; // reused: RuleSets copies what it keeps
  for (let k = 0; k < order.length;) {
    const first = order[k];
    let owned = 0;
    for (; k < order.length && same(order[k], first); k++) {
      const owner = owners[order[k]];
      if (owner !== ROOT) own[owned++] = owner;
    }
    // Nearly every entry has one owner, as the one before it: setting the length only when it changes saves a builtin call per entry (28 ms of a million).
    if (own.length !== owned) own.length = owned;
    if (owned > 1) canonical(own);
    while (stackIndex.length > 0 && !contains(stackIndex[stackIndex.length - 1], first)) {
      stackIndex.pop();
      stackSet.pop();
    }
    const set = sets.intern(stackSet.length > 0 ? stackSet[stackSet.length - 1] : -1, own);
    stackIndex.push(first);
    stackSet.push(set);
    entries.prefixLength[n] = length[first];
    entries.classId[n] = sets.classOf(set);
    for (let w = 0; w < width; w++) entries.words[n * width + w] = word(first, w);
    n++;
  }
  return truncatePrefixClasses(entries, family, n);
}

const SET = 1;
const CLEAR = -1;

/**
 * Interned sets of rules, each its parent's set plus some own rules, and the
 * class of each set's vector (made from the parent's class and the own
 * rules). Consecutive prefixes usually add the same rule to the same parent,
 * so a one-entry cache answers most lookups.
 */
class RuleSets {
  private readonly ids = new Map<string, number>();
  private readonly classes: number[] = [];
  private lastParent = -2;
  private lastOwner = -1;
  private lastId = -1;

  constructor(private readonly classify: (parentClass: number, own: readonly number[]) => number) {}

  intern(parent: number, own: readonly number[]): number {
    const single = own.length === 1;
    if (single && this.lastParent === parent && this.lastOwner === own[0]) return this.lastId;
    const key = `${parent}:${own.join(',')}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.classes.length;
      this.ids.set(key, id);
      this.classes.push(this.classify(parent >= 0 ? this.classes[parent] : -1, own));
    }
    if (single) {
      this.lastParent = parent;
      this.lastOwner = own[0];
      this.lastId = id;
    }
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
 * Every (prefix, owning rule) of the family plus the /0 root, in columns:
 * their order (trie pre-order, equal prefixes adjacent) and comparisons by
 * index. The largest rule list comes first: it is already sorted (IR
 * prefixes are), so only the others are sorted and then merged into it.
 */
function collect4(rules: readonly IrRule[], field: 'src' | 'dst') {
  const lists = rules.map((r) => r[field]?.prefixes.v4);
  const big = largest(lists.map((l) => l?.address.length ?? 0));
  const n = lists.reduce((sum, l) => sum + (l?.address.length ?? 0), 1);
  const keys: Ipv4Keys = { address: new Uint32Array(n), length: new Uint8Array(n) };
  const { address, length } = keys;
  const owners = new Int32Array(n);
  let at = 0;
  const rest = [...lists.keys()].filter((i) => i !== big);
  for (const i of big < 0 ? rest : [big, ...rest]) {
    const list = lists[i];
    if (!list) continue;
    address.set(list.address, at);
    length.set(list.length, at);
    owners.fill(rules[i].index, at, at + list.address.length);
    at += list.address.length;
  }
  owners[at] = ROOT; // the /0 root: address and length 0
  const bigEnd = big < 0 ? 0 : lists[big]!.address.length;
  return {
    length,
    owners,
    order: mergeOrder(keys, bigEnd),
    same: (i: number, j: number) => address[i] === address[j] && length[i] === length[j],
    contains: (outer: number, inner: number) =>
      length[outer] === 0 || (length[outer] <= length[inner] && (address[outer] ^ address[inner]) >>> (32 - length[outer]) === 0),
    word: (i: number) => address[i],
  };
}

function collect6(rules: readonly IrRule[], field: 'src' | 'dst') {
  const lists = rules.map((r) => r[field]?.prefixes.v6);
  const n = lists.reduce((sum, l) => sum + (l?.length.length ?? 0), 1);
  const keys: Ipv6Keys = { words: new Uint32Array(4 * n), length: new Uint8Array(n) };
  const { words, length } = keys;
  const owners = new Int32Array(n);
  let at = 0;
  lists.forEach((list, i) => {
    if (!list) return;
    words.set(list.words, 4 * at);
    length.set(list.length, at);
    owners.fill(rules[i].index, at, at + list.length.length);
    at += list.length.length;
  });
  owners[at] = ROOT;
  const same = (i: number, j: number) =>
    length[i] === length[j] &&
    words[4 * i] === words[4 * j] &&
    words[4 * i + 1] === words[4 * j + 1] &&
    words[4 * i + 2] === words[4 * j + 2] &&
    words[4 * i + 3] === words[4 * j + 3];
  const contains = (outer: number, inner: number) => {
    if (length[outer] > length[inner]) return false;
    for (let w = 0; w < 4; w++) {
      const bits = Math.max(0, Math.min(32, length[outer] - 32 * w));
      if (bits === 0) return true;
      if ((words[4 * outer + w] ^ words[4 * inner + w]) >>> (32 - bits) !== 0) return false;
    }
    return true;
  };
  return { length, owners, order: ipv6Order(keys), same, contains, word: (i: number, w: number) => words[4 * i + w] };
}

/** Index of the longest list (the first of equals), or -1 when all are empty. */
function largest(sizes: readonly number[]): number {
  let big = -1;
  sizes.forEach((size, i) => {
    if (size > (big < 0 ? 0 : sizes[big])) big = i;
  });
  return big;
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
