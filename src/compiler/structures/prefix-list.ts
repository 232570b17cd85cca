/**
 * A sorted, duplicate-free list of prefixes in columns: IPv4 (address as a
 * u32, length) first, then IPv6 (four u32 words, length), each in (address,
 * length) order — which is also a pre-order walk of the binary trie: a
 * prefix comes before everything it contains. A million-entry set lives here
 * from the moment its file is parsed to the LPM entries, without a million
 * objects (they cost seconds of garbage collection); Prefix objects are made
 * only when one is asked for.
 */
import ipaddr from 'ipaddr.js';
import type { Prefix } from '../ir.js';

/** IPv4 prefixes as parallel typed arrays: address (u32) and length. */
export interface Ipv4Keys {
  address: Uint32Array;
  length: Uint8Array;
}

/** IPv6 prefixes: four u32 words per address (most significant first) and the length. */
export interface Ipv6Keys {
  words: Uint32Array;
  length: Uint8Array;
}

export class PrefixList {
  /** Use PrefixList.build (or PrefixBuilder): it sorts and deduplicates. */
  private constructor(
    readonly v4: Ipv4Keys,
    readonly v6: Ipv6Keys,
  ) {}

  static readonly EMPTY = new PrefixList(
    { address: new Uint32Array(0), length: new Uint8Array(0) },
    { words: new Uint32Array(0), length: new Uint8Array(0) },
  );

  /** Sorts and deduplicates columns (which it may reorder in place). */
  static build(v4: Ipv4Keys, v6: Ipv6Keys): PrefixList {
    return new PrefixList(sortUnique4(v4), sortUnique6(v6));
  }

  static of(prefixes: Iterable<Prefix>): PrefixList {
    const builder = new PrefixBuilder();
    for (const p of prefixes) builder.addPrefix(p);
    return builder.build();
  }

  /** One prefix (most address values are one literal): no builder, no sort. */
  static single(p: Prefix): PrefixList {
    if (p.family === 4)
      return new PrefixList({ address: Uint32Array.of(word32(p.bytes)), length: Uint8Array.of(p.length) }, PrefixList.EMPTY.v6);
    const words = Uint32Array.of(word32(p.bytes, 0), word32(p.bytes, 1), word32(p.bytes, 2), word32(p.bytes, 3));
    return new PrefixList(PrefixList.EMPTY.v4, { words, length: Uint8Array.of(p.length) });
  }

  /** The union of several lists (one list comes back as it is). */
  static union(lists: readonly PrefixList[]): PrefixList {
    // A list named twice (`{ @big, @big }`, a define used in many places) is merged once.
    const nonEmpty = [...new Set(lists)].filter((l) => l.size > 0);
    if (nonEmpty.length === 0) return PrefixList.EMPTY;
    if (nonEmpty.length === 1) return nonEmpty[0];
    const builder = new PrefixBuilder();
    for (const l of nonEmpty) builder.addList(l);
    return builder.build();
  }

  get count4(): number {
    return this.v4.length.length;
  }

  get count6(): number {
    return this.v6.length.length;
  }

  get size(): number {
    return this.count4 + this.count6;
  }

  /** Prefix i (IPv4 ones first), made on request. */
  at(i: number): Prefix {
    if (i < this.count4) {
      const bytes = wordBytes(this.v4.address, i, 1);
      return { family: 4, bytes, length: this.v4.length[i], text: `${bytes.join('.')}/${this.v4.length[i]}` };
    }
    const j = i - this.count4;
    const bytes = wordBytes(this.v6.words, 4 * j, 4);
    return { family: 6, bytes, length: this.v6.length[j], text: `${ipaddr.fromByteArray(bytes).toString()}/${this.v6.length[j]}` };
  }

  *[Symbol.iterator](): Iterator<Prefix> {
    for (let i = 0; i < this.size; i++) yield this.at(i);
  }

  toArray(): Prefix[] {
    return [...this];
  }

  /** As JSON: the prefixes (the IR's golden files show them). */
  toJSON(): Prefix[] {
    return this.toArray();
  }
}

const EMPTY32 = new Uint32Array(0);
const EMPTY8 = new Uint8Array(0);

/** Collects prefixes into growable columns; build() sorts and deduplicates. */
export class PrefixBuilder {
  private n4 = 0;
  private n6 = 0;
  private address = EMPTY32;
  private length4 = EMPTY8;
  private words = EMPTY32;
  private length6 = EMPTY8;

  /**
   * Room for `n` prefixes of each family at once (a set file's entry count):
   * doubling up to a million touched twice the memory. Pages of the family
   * that gets fewer are never touched, so they cost nothing.
   */
  reserve(n: number): void {
    if (n > this.length4.length) {
      this.length4 = grow(this.length4.subarray(0, this.n4), n);
      this.address = grow(this.address.subarray(0, this.n4), n);
    }
    if (n > this.length6.length) {
      this.length6 = grow(this.length6.subarray(0, this.n6), n);
      this.words = grow(this.words.subarray(0, 4 * this.n6), 4 * n);
    }
  }

  add4(address: number, length: number): void {
    if (this.n4 === this.length4.length) {
      this.length4 = grow(this.length4, 2 * this.n4);
      this.address = grow(this.address, this.length4.length);
    }
    this.address[this.n4] = address;
    this.length4[this.n4++] = length;
  }

  /** words[from..from+3]: the address, most significant word first. */
  add6(words: ArrayLike<number>, from: number, length: number): void {
    if (this.n6 === this.length6.length) {
      this.length6 = grow(this.length6, 2 * this.n6);
      this.words = grow(this.words, 4 * this.length6.length);
    }
    for (let w = 0; w < 4; w++) this.words[4 * this.n6 + w] = words[from + w];
    this.length6[this.n6++] = length;
  }

  addPrefix(p: Prefix): void {
    if (p.family === 4) this.add4(word32(p.bytes), p.length);
    else this.add6([word32(p.bytes, 0), word32(p.bytes, 1), word32(p.bytes, 2), word32(p.bytes, 3)], 0, p.length);
  }

  addList(l: PrefixList): void {
    for (let i = 0; i < l.count4; i++) this.add4(l.v4.address[i], l.v4.length[i]);
    for (let i = 0; i < l.count6; i++) this.add6(l.v6.words, 4 * i, l.v6.length[i]);
  }

  build(): PrefixList {
    return PrefixList.build(
      { address: this.address.subarray(0, this.n4), length: this.length4.subarray(0, this.n4) },
      { words: this.words.subarray(0, 4 * this.n6), length: this.length6.subarray(0, this.n6) },
    );
  }
}

function grow<T extends Uint32Array | Uint8Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(Math.max(size, 16));
  b.set(a);
  return b;
}

/** Bytes 4w..4w+3 of an address as an unsigned 32-bit number (w = 0 for IPv4). */
export function word32(bytes: readonly number[], w = 0): number {
  const i = 4 * w;
  return ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
}

/** Network-order bytes of `count` words from words[from] (the inverse of word32). */
export function wordBytes(words: ArrayLike<number>, from: number, count: number): number[] {
  const bytes: number[] = [];
  for (let w = from; w < from + count; w++) bytes.push(words[w] >>> 24, (words[w] >>> 16) & 255, (words[w] >>> 8) & 255, words[w] & 255);
  return bytes;
}

/** Whether the keys ascend strictly: sorted by (address, length) and free of duplicates. */
function isStrictlyAscending({ address, length }: Ipv4Keys): boolean {
  for (let i = 1; i < address.length; i++) {
    if (address[i] < address[i - 1] || (address[i] === address[i - 1] && length[i] <= length[i - 1])) return false;
  }
  return true;
}

/** Sorted and unique; input that already is (a maintained blocklist usually is) comes back as it is. */
function sortUnique4(keys: Ipv4Keys): Ipv4Keys {
  if (isStrictlyAscending(keys)) return keys;
  const { address, length } = ipv4Sorted(keys);
  let n = 0;
  for (let i = 0; i < address.length; i++) {
    if (n > 0 && address[i] === address[n - 1] && length[i] === length[n - 1]) continue;
    address[n] = address[i];
    length[n++] = length[i];
  }
  return { address: address.subarray(0, n), length: length.subarray(0, n) };
}

function sortUnique6(keys: Ipv6Keys): Ipv6Keys {
  const n = keys.length.length;
  if (n <= 1) return keys; // most address lists are one literal, or hold no IPv6
  const order = ipv6Order(keys);
  const words = new Uint32Array(4 * n);
  const length = new Uint8Array(n);
  let k = 0;
  for (const i of order) {
    if (k > 0 && compare6(keys, i, words, length, k - 1) === 0) continue;
    words.set(keys.words.subarray(4 * i, 4 * i + 4), 4 * k);
    length[k++] = keys.length[i];
  }
  return { words: words.subarray(0, 4 * k), length: length.subarray(0, k) };
}

/** Prefix i of `a` against prefix j of (words, length), by address then length. */
function compare6(a: Ipv6Keys, i: number, words: Uint32Array, length: Uint8Array, j: number): number {
  for (let w = 0; w < 4; w++) {
    const d = a.words[4 * i + w] - words[4 * j + w];
    if (d !== 0) return d;
  }
  return a.length[i] - length[j];
}

/**
 * IPv4 prefixes in (address, length) order, in new columns or in `keys`'
 * own: an LSD radix sort (length, then the address's low and high 16 bits)
 * that moves the keys themselves, reading each pass's input in order. The
 * earlier version sorted an index array and gathered keys through it: three
 * passes of random reads over a million keys, and 21 MB of arrays against 5.
 */
function ipv4Sorted(keys: Ipv4Keys): Ipv4Keys {
  const n = keys.address.length;
  if (n < 4096) {
    // Small lists (most rules'): a comparison sort beats two 65,536-bucket passes.
    const { address, length } = keys;
    const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => address[x] - address[y] || length[x] - length[y]);
    return { address: Uint32Array.from(order, (i) => address[i]), length: Uint8Array.from(order, (i) => length[i]) };
  }
  const spare: Ipv4Keys = { address: new Uint32Array(n), length: new Uint8Array(n) };
  radixPass(keys, spare, LENGTH_DIGIT);
  radixPass(spare, keys, 0);
  radixPass(keys, spare, 16);
  return spare;
}

/** radixPass's digit for the prefix length instead of 16 bits of the address. */
const LENGTH_DIGIT = -1;

/** One stable counting pass from `from` into `to` by 16 address bits at `shift`, or by length. */
function radixPass(from: Ipv4Keys, to: Ipv4Keys, shift: number): void {
  const byLength = shift === LENGTH_DIGIT;
  const counts = new Uint32Array((byLength ? 33 : 65536) + 1);
  const { address, length } = from;
  const n = address.length;
  for (let i = 0; i < n; i++) counts[(byLength ? length[i] : (address[i] >>> shift) & 0xffff) + 1]++;
  for (let b = 1; b < counts.length; b++) counts[b] += counts[b - 1];
  for (let i = 0; i < n; i++) {
    const at = counts[byLength ? length[i] : (address[i] >>> shift) & 0xffff]++;
    to.address[at] = address[i];
    to.length[at] = length[i];
  }
}

/**
 * Indexes of IPv6 prefixes in (address, length) order, stable. Input already
 * in order (an LPM field's entries come from sorted lists) is returned as it
 * is: 100,000 sorted prefixes took the comparator sort ~29 ms. (An LSD radix
 * sort of the indexes, 9 passes of 16 bits, was 15 ms warm but 53-72 ms on
 * its first call, against 38-48 for the sort: a CLI runs it once, cold.)
 */
export function ipv6Order(keys: Ipv6Keys): Uint32Array {
  const n = keys.length.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let ascending = true;
  for (let i = 1; i < n && ascending; i++) ascending = compare6(keys, i - 1, keys.words, keys.length, i) <= 0;
  return ascending ? order : order.sort((a, b) => compare6(keys, a, keys.words, keys.length, b) || a - b);
}
