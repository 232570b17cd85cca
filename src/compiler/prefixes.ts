/**
 * Prefix ordering and containment. The order is (family, address bytes,
 * length), which is also a pre-order walk of the binary trie: a prefix comes
 * before everything it contains.
 */
import type { Prefix } from './ir.js';

/** IPv6 sort key: 32 hex digits of the address, then 2 of the length. */
export function ipv6Key(p: Prefix): string {
  let s = '';
  for (const b of p.bytes) s += HEX[b];
  return s + HEX[p.length];
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Sorted (family, bytes, length), duplicates removed. Sorting a million IPv4 prefixes is the hot path. */
export function sortUniquePrefixes(prefixes: readonly Prefix[]): Prefix[] {
  const v4: Prefix[] = [];
  const v6: Prefix[] = [];
  for (const p of prefixes) (p.family === 4 ? v4 : v6).push(p);
  const out: Prefix[] = [];
  let last: Prefix | undefined;
  for (const i of ipv4Order(v4)) {
    const p = v4[i];
    if (!last || !samePrefix(last, p)) out.push(p);
    last = p;
  }
  last = undefined;
  for (const i of ipv6Order(v6)) {
    const p = v6[i];
    if (!last || !samePrefix(last, p)) out.push(p);
    last = p;
  }
  return out;
}

export function samePrefix(a: Prefix, b: Prefix): boolean {
  if (a === b) return true;
  if (a.family !== b.family || a.length !== b.length) return false;
  for (let i = 0; i < a.bytes.length; i++) if (a.bytes[i] !== b.bytes[i]) return false;
  return true;
}

/**
 * Indexes of IPv4 prefixes in (address, length) order, stable: an LSD radix
 * sort (length, then the address's low and high 16 bits) — linear, no
 * comparisons, no allocation per prefix.
 */
export function ipv4Order(prefixes: readonly Prefix[]): Uint32Array {
  const n = prefixes.length;
  const address = new Uint32Array(n);
  const length = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const b = prefixes[i].bytes;
    address[i] = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    length[i] = prefixes[i].length;
  }
  let order: Uint32Array = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (n < 4096) {
    // Small lists (most rules'): a comparison sort beats two 65,536-bucket passes.
    return order.sort((x, y) => address[x] - address[y] || length[x] - length[y] || x - y);
  }
  order = countingPass(order, 33, (i) => length[i]);
  order = countingPass(order, 65536, (i) => address[i] & 0xffff);
  return countingPass(order, 65536, (i) => address[i] >>> 16);
}

function countingPass(order: Uint32Array, buckets: number, key: (i: number) => number): Uint32Array {
  const counts = new Uint32Array(buckets + 1);
  for (let k = 0; k < order.length; k++) counts[key(order[k]) + 1]++;
  for (let b = 1; b <= buckets; b++) counts[b] += counts[b - 1];
  const out = new Uint32Array(order.length);
  for (let k = 0; k < order.length; k++) out[counts[key(order[k])]++] = order[k];
  return out;
}

/** Indexes of IPv6 prefixes in (address, length) order, stable. */
export function ipv6Order(prefixes: readonly Prefix[]): number[] {
  const keys = prefixes.map(ipv6Key);
  return prefixes.map((_, i) => i).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b));
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
