/**
 * An address constraint's prefixes of one family as a sorted list of
 * disjoint, non-adjacent address intervals, built lazily and memoised per
 * constraint (a million-prefix set is folded once). Containment, subset,
 * disjointness and coverage questions then cost a binary search each: the
 * shadowed-rule check and the IR evaluator ask them.
 */
import type { AddressConstraint } from '../ir.js';
import { word32, type PrefixList } from './prefix-list.js';

/** Intervals of addresses: IPv4 as numbers, IPv6 as bigints. */
export interface Intervals {
  family: 4 | 6;
  starts: ArrayLike<number | bigint>;
  ends: ArrayLike<number | bigint>;
}

const memo = new WeakMap<AddressConstraint, Map<4 | 6, Intervals>>();

export function addressIntervals(constraint: AddressConstraint, family: 4 | 6): Intervals {
  let perFamily = memo.get(constraint);
  if (!perFamily) memo.set(constraint, (perFamily = new Map()));
  let intervals = perFamily.get(family);
  if (!intervals) {
    intervals = build(constraint, family);
    perFamily.set(family, intervals);
  }
  return intervals;
}

function build(constraint: AddressConstraint, family: 4 | 6): Intervals {
  if (family === 4) return build4(constraint);
  const starts: bigint[] = [];
  const ends: bigint[] = [];
  const { words, length } = constraint.prefixes.v6;
  // Prefixes are sorted by (address, length): starts ascend, so one pass merges.
  for (let i = 0; i < length.length; i++) {
    let start = 0n;
    for (let w = 0; w < 4; w++) start = (start << 32n) | BigInt(words[4 * i + w]);
    const end = start + (1n << BigInt(128 - length[i])) - 1n;
    const last = ends.length - 1;
    if (last >= 0 && start <= ends[last] + 1n) {
      if (end > ends[last]) ends[last] = end;
    } else {
      starts.push(start);
      ends.push(end);
    }
  }
  return { family: 6, starts, ends };
}

/** HOSTS[n]: addresses in an IPv4 /n, minus one. */
const HOSTS = Array.from({ length: 33 }, (_, n) => 2 ** (32 - n) - 1);

/** IPv4 in typed arrays: a million-prefix set folds in one tight loop. */
function build4(constraint: AddressConstraint): Intervals {
  const { address, length } = constraint.prefixes.v4;
  const starts = new Uint32Array(address.length); // IPv4 addresses fit: half the memory of Float64Array
  const ends = new Uint32Array(address.length);
  let n = 0;
  for (let i = 0; i < address.length; i++) {
    const start = address[i];
    const end = start + HOSTS[length[i]];
    if (n > 0 && start <= ends[n - 1] + 1) {
      if (end > ends[n - 1]) ends[n - 1] = end;
    } else {
      starts[n] = start;
      ends[n++] = end;
    }
  }
  return { family: 4, starts: starts.subarray(0, n), ends: ends.subarray(0, n) };
}

/** How many point questions about a constraint are answered by scanning its prefixes before its intervals are built. */
const SCANNED_QUERIES = 16;
const pointQueries = new WeakMap<AddressConstraint, number>();

/**
 * Whether the constraint's prefixes of `family` hold the address (its
 * negation not applied). The first questions about a constraint scan its
 * prefixes: a check that asks six about a 100,000-prefix IPv6 set (nd-dropped)
 * should not fold it into bigint intervals first (~60 ms); a caller that
 * keeps asking gets the intervals and a binary search.
 */
export function prefixesContain(constraint: AddressConstraint, family: 4 | 6, bytes: readonly number[]): boolean {
  let intervals = memo.get(constraint)?.get(family);
  if (!intervals) {
    const asked = (pointQueries.get(constraint) ?? 0) + 1;
    pointQueries.set(constraint, asked);
    if (asked <= SCANNED_QUERIES) return scanContains(constraint.prefixes, family, bytes);
    intervals = addressIntervals(constraint, family);
  }
  return containsValue(intervals, addressValue(family, bytes));
}

/** The same answer by testing every prefix of the family: no allocation. */
export function scanContains(prefixes: PrefixList, family: 4 | 6, bytes: readonly number[]): boolean {
  const width = family === 4 ? 1 : 4;
  const words = family === 4 ? prefixes.v4.address : prefixes.v6.words;
  const lengths = family === 4 ? prefixes.v4.length : prefixes.v6.length;
  const x = Array.from({ length: width }, (_, w) => word32(bytes, w));
  for (let i = 0; i < lengths.length; i++) {
    let left = lengths[i];
    let w = 0;
    for (; left > 0; w++, left -= 32) {
      const bits = Math.min(32, left);
      if ((words[i * width + w] ^ x[w]) >>> (32 - bits) !== 0) break;
    }
    if (left <= 0) return true;
  }
  return false;
}

function range4(bytes: readonly number[], length: number): [number, number] {
  const start = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  return [start, start + 2 ** (32 - length) - 1];
}

function range6(bytes: readonly number[], length: number): [bigint, bigint] {
  let start = 0n;
  for (const b of bytes) start = (start << 8n) | BigInt(b);
  return [start, start + (1n << BigInt(128 - length)) - 1n];
}

function successor(x: number | bigint): number | bigint {
  return typeof x === 'bigint' ? x + 1n : x + 1;
}

export function addressValue(family: 4 | 6, bytes: readonly number[]): number | bigint {
  return family === 4 ? range4(bytes, 32)[0] : range6(bytes, 128)[0];
}

/** Index of the last interval starting at or before `x`, or -1. */
function floorIndex(iv: Intervals, x: number | bigint): number {
  let low = 0;
  let high = iv.starts.length - 1;
  let found = -1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (iv.starts[mid] <= x) {
      found = mid;
      low = mid + 1;
    } else high = mid - 1;
  }
  return found;
}

export function containsValue(iv: Intervals, x: number | bigint): boolean {
  const i = floorIndex(iv, x);
  return i >= 0 && x <= iv.ends[i];
}

/** a ⊆ b */
export function isSubset(a: Intervals, b: Intervals): boolean {
  for (let k = 0; k < a.starts.length; k++) {
    const i = floorIndex(b, a.starts[k]);
    if (i < 0 || a.ends[k] > b.ends[i]) return false;
  }
  return true;
}

/** a ∩ b = ∅ */
export function isDisjoint(a: Intervals, b: Intervals): boolean {
  const [small, large] = a.starts.length <= b.starts.length ? [a, b] : [b, a];
  for (let k = 0; k < small.starts.length; k++) {
    const i = floorIndex(large, small.ends[k]);
    if (i >= 0 && large.ends[i] >= small.starts[k]) return false;
  }
  return true;
}

export function isEmpty(iv: Intervals): boolean {
  return iv.starts.length === 0;
}

/** Whether a ∪ b is the family's whole address space: every gap of the smaller lies in the larger. */
export function coversAll(a: Intervals, b?: Intervals): boolean {
  if (!b) return a.starts.length === 1 && isZero(a.starts[0]) && a.ends[0] === maxAddress(a.family);
  const [small, large] = a.starts.length <= b.starts.length ? [a, b] : [b, a];
  const max = maxAddress(a.family);
  // The gaps of `small`: before its first interval, between intervals, after its last.
  let gapStart: number | bigint = a.family === 4 ? 0 : 0n;
  for (let k = 0; k <= small.starts.length; k++) {
    const gapEnd = k < small.starts.length ? predecessor(small.starts[k]) : max;
    const empty = k < small.starts.length ? small.starts[k] === gapStart : gapStart > max;
    if (!empty) {
      const i = floorIndex(large, gapStart);
      if (i < 0 || large.ends[i] < gapEnd) return false;
    }
    if (k < small.starts.length) gapStart = successor(small.ends[k]);
  }
  return true;
}

function isZero(x: number | bigint): boolean {
  return x === 0 || x === 0n;
}

function maxAddress(family: 4 | 6): number | bigint {
  return family === 4 ? 2 ** 32 - 1 : (1n << 128n) - 1n;
}

function predecessor(x: number | bigint): number | bigint {
  return typeof x === 'bigint' ? x - 1n : x - 1;
}
