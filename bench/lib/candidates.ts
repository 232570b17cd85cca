/**
 * Candidate structures for a large IPv4 address set (bench/bpf/addr-*.bpf.c),
 * filled with the same set: the kernel's LPM trie (what xdpfw uses now), one
 * hash probe per prefix length, and a packed DIR-24-8. Each program answers
 * only "in the set or not" and counts it, so the figures compare the lookups
 * alone, and the counts check every answer.
 */
import { KernelError } from '../../src/xdp/errors.js';
import * as bpf from '../../src/xdp/libbpf.js';
import type { LoadedObject } from '../../src/xdp/object.js';
import type { AddressSet, Prefix4 } from './policy-gen.js';
import { fillBatch, loadBenchObject } from './programs.js';

export type CandidateName =
  'kernel LPM trie' | 'hash probe per prefix length' | 'DIR-24 + hash probe per length > 24' | 'DIR-24 + one 64-byte line per /24';

export interface Candidate {
  name: CandidateName;
  obj: LoadedObject;
  /** Misses and hits counted so far (summed over CPUs). */
  counts(): { miss: number; hit: number };
  close(): void;
}

function mapFd(obj: LoadedObject, name: string): number {
  const m = obj.maps.get(name);
  if (!m) throw new Error(`${obj.path} has no map ${name}`);
  return m.fd;
}

function hitCounter(obj: LoadedObject): () => { miss: number; hit: number } {
  const fd = mapFd(obj, 'bench_hits');
  const ncpus = bpf.numPossibleCpus();
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(8 * ncpus);
  const read = (slot: number) => {
    key.writeUInt32LE(slot, 0);
    const r = bpf.mapLookupElem(fd, key, value);
    if (r < 0) throw new KernelError('reading bench_hits', -r);
    let sum = 0;
    for (let c = 0; c < ncpus; c++) sum += Number(value.readBigUInt64LE(c * 8));
    return sum;
  };
  return () => ({ miss: read(0), hit: read(1) });
}

function candidate(name: CandidateName, obj: LoadedObject): Candidate {
  return { name, obj, counts: hitCounter(obj), close: () => obj.close() };
}

/** Keys of the one-map-for-every-length hashes: length << 32 | masked address, little-endian u64. */
function lengthKeys(entries: { addr: number; len: number }[]): Buffer {
  const keys = Buffer.alloc(entries.length * 8);
  entries.forEach((p, i) => {
    keys.writeUInt32LE(p.addr, i * 8);
    keys.writeUInt32LE(p.len, i * 8 + 4);
  });
  return keys;
}

const ones = (n: number) => {
  const b = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) b.writeUInt32LE(1, i * 4);
  return b;
};

function trie(set: AddressSet): Candidate {
  const v4 = set.v4;
  const obj = loadBenchObject('addr-trie', { maxEntries: { bench_trie: v4.length } });
  const keys = Buffer.alloc(v4.length * 8);
  v4.forEach((p, i) => {
    keys.writeUInt32LE(p.len, i * 8);
    keys.writeUInt32BE(p.addr, i * 8 + 4);
  });
  fillBatch(mapFd(obj, 'bench_trie'), keys, ones(v4.length), 8, 4, 'bench_trie');
  return candidate('kernel LPM trie', obj);
}

function hashes(set: AddressSet): Candidate {
  const v4 = set.v4;
  const lengths = [...new Set(v4.map((p) => p.len))].sort((a, b) => b - a);
  const obj = loadBenchObject('addr-hashes', {
    rodata: { cfg_nlengths: lengths.length, cfg_lengths: [...lengths, ...Array(33 - lengths.length).fill(0)] },
    maxEntries: { bench_prefixes: v4.length },
  });
  fillBatch(mapFd(obj, 'bench_prefixes'), lengthKeys(v4), ones(v4.length), 8, 4, 'bench_prefixes');
  return candidate('hash probe per prefix length', obj);
}

const DIR24_LONGER = 0x8000;
const DIR24_SLOTS = 32;

/** The /24 table: class 1 under a set prefix of /24 or shorter, DIR24_LONGER where longer prefixes lie. */
function table24(set: AddressSet): Uint16Array {
  const short = set.v4.filter((p) => p.len <= 24).sort((a, b) => a.len - b.len);
  const table = new Uint16Array(1 << 24);
  for (const p of short) table.fill(1, p.addr >>> 8, (p.addr >>> 8) + 2 ** (24 - p.len)); // longer prefixes last: they win
  for (const p of set.v4) if (p.len > 24) table[p.addr >>> 8] |= DIR24_LONGER;
  return table;
}

function fillTable24(obj: LoadedObject, table: Uint16Array): void {
  const blocks = (1 << 24) / DIR24_SLOTS;
  const keys = Buffer.alloc(blocks * 4);
  for (let i = 0; i < blocks; i++) keys.writeUInt32LE(i, i * 4);
  const values = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
  fillBatch(mapFd(obj, 'bench_dir24'), keys, values, 4, DIR24_SLOTS * 2, 'bench_dir24');
}

function dir24(set: AddressSet): Candidate {
  const long = set.v4.filter((p) => p.len > 24);
  const lengths = [...new Set(long.map((p) => p.len))].sort((a, b) => b - a);
  if (lengths.length > 8) throw new Error('the DIR-24-8 prototype takes at most 8 lengths above /24');
  const table = table24(set);
  const obj = loadBenchObject('addr-dir24', {
    rodata: { cfg_nlong: lengths.length, cfg_long_lengths: [...lengths, ...Array(8 - lengths.length).fill(0)] },
    maxEntries: { bench_long: Math.max(1, long.length) },
  });
  fillTable24(obj, table);
  if (long.length > 0) fillBatch(mapFd(obj, 'bench_long'), lengthKeys(long), ones(long.length), 8, 4, 'bench_long');
  return candidate('DIR-24 + hash probe per length > 24', obj);
}

const LINE_ENTRIES = 7;
const LINE_BYTES = 64;
const LINE_VALID = 0x80000000;
const MAX_PROBES = 16;

/** DIR-24 with the prefixes longer than /24 in 64-byte lines, open-addressed by their /24. */
function dir24Lines(set: AddressSet): Candidate {
  const byBlock = new Map<number, Prefix4[]>();
  for (const p of set.v4) {
    if (p.len <= 24) continue;
    const list = byBlock.get(p.addr >>> 8);
    if (list) list.push(p);
    else byBlock.set(p.addr >>> 8, [p]);
  }
  let lines = 0;
  for (const list of byBlock.values()) lines += Math.ceil(list.length / LINE_ENTRIES);
  const bits = Math.max(1, Math.ceil(Math.log2(lines * 2))); // load factor ≤ 1/2
  const size = 2 ** bits;
  const buf = Buffer.alloc(size * LINE_BYTES);
  const used = new Uint8Array(size);
  for (const [block, list] of byBlock) {
    list.sort((a, b) => b.len - a.len);
    const key = (LINE_VALID | block) >>> 0;
    const h = Math.imul(key, 2654435761) >>> (32 - bits);
    let probe = 0;
    for (let start = 0; start < list.length; start += LINE_ENTRIES) {
      while (used[(h + probe) & (size - 1)]) probe++;
      if (probe >= MAX_PROBES) throw new Error('the line table is too crowded: a bug in the prototype');
      const at = ((h + probe) & (size - 1)) * LINE_BYTES;
      used[(h + probe) & (size - 1)] = 1;
      const chunk = list.slice(start, start + LINE_ENTRIES);
      buf.writeUInt32LE(key, at);
      buf.writeUInt32LE(chunk.length, at + 4);
      chunk.forEach((p, i) => {
        buf.writeUInt32LE(p.addr, at + 8 + i * 8);
        buf.writeUInt32LE(((p.len << 16) | 1) >>> 0, at + 12 + i * 8);
      });
    }
  }
  const obj = loadBenchObject('addr-dir24x', { rodata: { cfg_line_bits: bits }, maxEntries: { bench_lines: size } });
  try {
    fillTable24(obj, table24(set));
    const keys = Buffer.alloc(size * 4);
    for (let i = 0; i < size; i++) keys.writeUInt32LE(i, i * 4);
    fillBatch(mapFd(obj, 'bench_lines'), keys, buf, 4, LINE_BYTES, 'bench_lines');
  } catch (err) {
    obj.close();
    throw err;
  }
  return candidate('DIR-24 + one 64-byte line per /24', obj);
}

/** Loads every candidate with the IPv4 entries of `set`. */
export function loadCandidates(set: AddressSet): Candidate[] {
  const loaded: Candidate[] = [];
  try {
    for (const make of [trie, hashes, dir24, dir24Lines]) loaded.push(make(set));
    return loaded;
  } catch (err) {
    for (const c of loaded) c.close();
    throw err;
  }
}
