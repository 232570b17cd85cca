/**
 * Prefix ordering and containment. The order is (family, address bytes,
 * length), which is also a pre-order walk of the binary trie: a prefix comes
 * before everything it contains.
 */
import type { Prefix } from './ir.js';

/**
 * Sorted (family, bytes, length), duplicates removed. Sorting a million IPv4
 * prefixes is the hot path; input that is already sorted and unique (a
 * maintained blocklist usually is) comes back as it is.
 */
export function sortUniquePrefixes(prefixes: readonly Prefix[]): Prefix[] {
  let v4 = prefixes as Prefix[];
  let v6: Prefix[] = [];
  if (prefixes.some((p) => p.family === 6)) {
    v4 = prefixes.filter((p) => p.family === 4);
    v6 = prefixes.filter((p) => p.family === 6);
  }
  const keys = ipv4Keys(v4);
  if (v6.length === 0 && isStrictlyAscending(keys)) {
    keyCache.set(v4, keys);
    return v4;
  }
  const out: Prefix[] = [];
  const order = ipv4Order(v4, keys);
  const kept = new Uint32Array(order.length);
  let last = -1;
  for (const i of order) {
    if (last < 0 || keys.address[i] !== keys.address[last] || keys.length[i] !== keys.length[last]) {
      kept[out.length] = i;
      out.push(v4[i]);
    }
    last = i;
  }
  const sortedKeys: Ipv4Keys = { address: new Uint32Array(out.length), length: new Uint8Array(out.length) };
  for (let k = 0; k < out.length; k++) {
    sortedKeys.address[k] = keys.address[kept[k]];
    sortedKeys.length[k] = keys.length[kept[k]];
  }
  let previous: Prefix | undefined;
  for (const i of ipv6Order(v6)) {
    const p = v6[i];
    if (!previous || !samePrefix(previous, p)) out.push(p);
    previous = p;
  }
  keyCache.set(out, sortedKeys);
  return out;
}

/** Keys of the sorted lists this module produced: later passes over a million prefixes read these, not the objects. */
const keyCache = new WeakMap<readonly Prefix[], Ipv4Keys>();

/** The keys of a sorted list's IPv4 part (its leading prefixes), memoised per list. */
export function sortedIpv4Keys(sorted: readonly Prefix[]): Ipv4Keys {
  let keys = keyCache.get(sorted);
  if (!keys) {
    let v4 = 0;
    while (v4 < sorted.length && sorted[v4].family === 4) v4++;
    keys = ipv4Keys(v4 === sorted.length ? sorted : sorted.slice(0, v4));
    keyCache.set(sorted, keys);
  }
  return keys;
}

export function samePrefix(a: Prefix, b: Prefix): boolean {
  if (a === b) return true;
  if (a.family !== b.family || a.length !== b.length) return false;
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return false;
  return true;
}

/** IPv4 prefixes as parallel typed arrays: address (u32) and length. */
export interface Ipv4Keys {
  address: Uint32Array;
  length: Uint8Array;
}

/** Bytes 4w..4w+3 of an address as an unsigned 32-bit number (w = 0 for IPv4). */
export function word32(bytes: readonly number[], w = 0): number {
  const i = 4 * w;
  return ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
}

export function ipv4Keys(prefixes: readonly Prefix[]): Ipv4Keys {
  const n = prefixes.length;
  const address = new Uint32Array(n);
  const length = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    address[i] = word32(prefixes[i].bytes);
    length[i] = prefixes[i].length;
  }
  return { address, length };
}

/**
 * Indexes of IPv4 prefixes in (address, length) order, stable: an LSD radix
 * sort (length, then the address's low and high 16 bits) — linear, no
 * comparisons, no allocation per prefix.
 */
export function ipv4Order(prefixes: readonly Prefix[], keys: Ipv4Keys = ipv4Keys(prefixes)): Uint32Array {
  const { address, length } = keys;
  const n = prefixes.length;
  let order: Uint32Array = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n < 4096) {
    // Small lists (most rules'): a comparison sort beats two 65,536-bucket passes.
    return order.sort((x, y) => address[x] - address[y] || length[x] - length[y] || x - y);
  }
  // Stable LSD passes: length, then the address's low and high 16 bits.
  order = countingPass(order, length, 0, 0xff, 33);
  order = countingPass(order, address, 0, 0xffff, 65536);
  return countingPass(order, address, 16, 0xffff, 65536);
}

function countingPass(
  order: Uint32Array,
  values: Uint32Array | Uint8Array,
  shift: number,
  mask: number,
  buckets: number,
): Uint32Array {
  const counts = new Uint32Array(buckets + 1);
  for (let k = 0; k < order.length; k++) counts[((values[order[k]] >>> shift) & mask) + 1]++;
  for (let b = 1; b <= buckets; b++) counts[b] += counts[b - 1];
  const out = new Uint32Array(order.length);
  for (let k = 0; k < order.length; k++) out[counts[(values[order[k]] >>> shift) & mask]++] = order[k];
  return out;
}

/** Whether the keys ascend strictly: sorted by (address, length) and free of duplicates. */
export function isStrictlyAscending({ address, length }: Ipv4Keys, from = 0, to = address.length): boolean {
  for (let i = from + 1; i < to; i++) {
    if (address[i] < address[i - 1] || (address[i] === address[i - 1] && length[i] <= length[i - 1])) return false;
  }
  return true;
}

/** Indexes of IPv6 prefixes in (address, length) order, stable; compared on 32-bit words, not strings. */
export function ipv6Order(prefixes: readonly Prefix[]): Uint32Array {
  const n = prefixes.length;
  const words = new Uint32Array(4 * n);
  for (let i = 0; i < n; i++) for (let w = 0; w < 4; w++) words[4 * i + w] = word32(prefixes[i].bytes, w);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  return order.sort((a, b) => {
    for (let w = 0; w < 4; w++) {
      const d = words[4 * a + w] - words[4 * b + w];
      if (d !== 0) return d;
    }
    return prefixes[a].length - prefixes[b].length || a - b;
  });
}

/** Whether prefix `outer` contains prefix `inner` (same family, shorter or equal, same leading bits). */
export function prefixContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.length > inner.length) return false;
  return bytesInPrefix(inner.bytes, outer);
}

/** Whether an address (network-order bytes of the prefix's family) lies in the prefix. */
export function bytesInPrefix(address: readonly number[], prefix: Prefix): boolean {
  const full = prefix.length >> 3;
  for (let i = 0; i < full; i++) if (address[i] !== prefix.bytes[i]) return false;
  const rest = prefix.length & 7;
  if (rest === 0) return true;
  const mask = (0xff00 >> rest) & 0xff;
  return (address[full] & mask) === prefix.bytes[full];
}
