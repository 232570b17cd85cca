/**
 * The codecs that turn a CompiledInterface into the map keys and values and
 * the .rodata of bpf/xdpfw.h, whose names, sizes and offsets come from
 * src/contract/kernel.ts (generated from the header). Pure: no kernel, no
 * fs. tests/kernel/xdp/layout.test.ts holds the contract to the BTF that
 * clang emits for xdpfw.h.
 *
 * Byte order: keys and values are host order (x86_64, arm64: little endian)
 * except LPM addresses, which are network order as the header says.
 */

import os from 'node:os';

import type { AddressSlot, AddressTable, CompiledConstants, LinearRule, PrefixClasses } from '../compiler/output.js';
import {
  ACTION_LOG,
  ADDR_MODE,
  ADDR_SLOT,
  BUCKET4_ROW,
  BUCKET6_ROW,
  BUCKET_BITS,
  BUCKET_ROW_WORDS,
  CLASS_ROW,
  COUNTER_INDEX,
  FIELD,
  L16_ENTRIES,
  LIN_DST_NOT,
  LIN_IPV4,
  LIN_IPV6,
  LIN_SRC_NOT,
  LINEAR_MAX,
  MAP,
  MAX_WORDS,
  NADDR,
  NFIELDS,
  QUICK_ROW,
  RANK_ROWS,
  RODATA_VARS,
  STRUCT,
  type MapName,
  type RodataName,
} from '../contract/kernel.js';

if (os.endianness() !== 'LE') throw new Error('xdpfw map codecs assume a little-endian host');

/** Rows of the /16 class table, and of the bucket bitmap (XDPFW_BUCKET_ROWS in the program). */
export const L16_ROWS = L16_ENTRIES / CLASS_ROW;
export const BUCKET_ROW_BYTES = STRUCT.xdpfw_bucket_row.size;
export const BUCKET_ROWS = 2 ** BUCKET_BITS / (64 * BUCKET_ROW_WORDS);

/** enum xdpfw_counter_index, by the names `readCounters` reports. */
export type GlobalCounterName = keyof typeof COUNTER_INDEX;

/** The maps of each slot: its trie and those of its address table. */
export interface AddressMaps {
  trie: MapName;
  l16: MapName;
  bkt: MapName;
  rank: MapName;
  quick: MapName;
  rec: MapName;
  hash: MapName;
}
const slotMaps = (slot: AddressSlot): AddressMaps => ({
  trie: MAP[slot],
  l16: MAP[`${slot}L16`],
  bkt: MAP[`${slot}Bkt`],
  rank: MAP[`${slot}Rank`],
  quick: MAP[`${slot}Quick`],
  rec: MAP[`${slot}Rec`],
  hash: MAP[`${slot}Hash`],
});
export const ADDR_MAPS: Record<AddressSlot, AddressMaps> = {
  src4: slotMaps('src4'),
  src6: slotMaps('src6'),
  dst4: slotMaps('dst4'),
  dst6: slotMaps('dst6'),
};

type LinearArray = Extract<RodataName, `cfg_lin_${string}`>;

/** Compiled constants → values of the `.rodata` variables. */
export function rodataValues(k: CompiledConstants): Record<RodataName, number | number[]> {
  if (k.absentClass.length !== NFIELDS) {
    throw new RangeError(`absentClass has ${k.absentClass.length} entries, cfg_absent_class has ${NFIELDS}`);
  }
  const mode = new Array<number>(NADDR).fill(ADDR_MODE.trie);
  const shift = new Array<number>(NADDR).fill(0);
  const base = new Array<number>(NADDR).fill(0);
  const host = new Array<number>(NADDR).fill(0);
  for (const [slot, i] of Object.entries(ADDR_SLOT) as [AddressSlot, number][]) {
    const a = k.addressLookup[slot];
    mode[i] = ADDR_MODE[a.mode];
    shift[i] = a.shift;
    base[i] = a.base;
    host[i] = a.host;
  }
  return {
    cfg_nrules: k.nrules,
    cfg_nwords: k.nwords,
    cfg_fields: k.fields,
    cfg_default_action: k.defaultAction,
    cfg_absent_class: k.absentClass,
    cfg_addr_mode: mode,
    cfg_addr_shift: shift,
    cfg_addr_base: base,
    cfg_addr_host: host,
    cfg_linear: k.linear ? 1 : 0,
    cfg_ct: k.ct ? 1 : 0,
    cfg_ct_given: 0,
    cfg_tails: 0,
    cfg_now_given: 0,
    cfg_reject: k.reject ? 1 : 0,
    cfg_audit_rules: k.auditRules ? 1 : 0,
    cfg_audit_mode: k.auditMode ? 1 : 0,
    cfg_log: k.log ? 1 : 0,
    ...linearArrays(k.linear ?? []),
  };
}

/** The linear path's rules → the cfg_lin_* arrays (xdpfw.h): rule i at element, pair or quad i; zero where unchecked. */
function linearArrays(rules: readonly LinearRule[]): Record<LinearArray, number[]> {
  if (rules.length > LINEAR_MAX) throw new RangeError(`${rules.length} rules for the linear path, at most ${LINEAR_MAX}`);
  // In u32 words: cfg_lin_src6 and cfg_lin_dst6, __u64 arrays, are written as u32 halves.
  const out = Object.fromEntries(
    Object.entries(RODATA_VARS)
      .filter(([name]) => name.startsWith('cfg_lin_'))
      .map(([name, size]) => [name, new Array<number>(size / 4).fill(0)]),
  ) as Record<LinearArray, number[]>;
  const put = (name: LinearArray, i: number, words: number[]) => out[name].splice(i * words.length, words.length, ...words);
  rules.forEach((r, i) => {
    put('cfg_lin_checks', i, [linearChecks(r)]);
    put('cfg_lin_action', i, [r.action | (r.log ? ACTION_LOG : 0)]);
    if (r.protocol !== null) put('cfg_lin_proto', i, [r.protocol]);
    if (r.sport) put('cfg_lin_sport', i, [r.sport.low, r.sport.high]);
    if (r.dport) put('cfg_lin_dport', i, [r.dport.low, r.dport.high]);
    if (r.tcpFlags) put('cfg_lin_tcpflags', i, [r.tcpFlags.mask, r.tcpFlags.value]);
    if (r.icmpType !== null) put('cfg_lin_icmptype', i, [r.icmpType]);
    if (r.ctStates !== null) put('cfg_lin_ctstate', i, [r.ctStates]);
    // Compared as loaded from the packet: the words' network-order bytes in memory.
    if (r.src) put(r.src.family === 4 ? 'cfg_lin_src4' : 'cfg_lin_src6', i, [...r.src.value, ...r.src.mask].map(asLoaded));
    if (r.dst) put(r.dst.family === 4 ? 'cfg_lin_dst4' : 'cfg_lin_dst6', i, [...r.dst.value, ...r.dst.mask].map(asLoaded));
  });
  return out;
}

/** cfg_lin_checks[i]: the rule's families (XDPFW_LIN_IPV4/6), 1 << FIELD.* for each field it checks, its negations. */
function linearChecks(r: LinearRule): number {
  const checked: [number, unknown][] = [
    [FIELD.proto, r.protocol],
    [FIELD.src, r.src],
    [FIELD.dst, r.dst],
    [FIELD.sport, r.sport],
    [FIELD.dport, r.dport],
    [FIELD.tcpflags, r.tcpFlags],
    [FIELD.icmptype, r.icmpType],
    [FIELD.ctstate, r.ctStates],
  ];
  let checks = (r.families.ipv4 ? LIN_IPV4 : 0) | (r.families.ipv6 ? LIN_IPV6 : 0);
  for (const [field, value] of checked) if (value !== null) checks |= 1 << field;
  if (r.src?.negated) checks |= LIN_SRC_NOT;
  if (r.dst?.negated) checks |= LIN_DST_NOT;
  return checks;
}

/** The u32 a little-endian load of `word`'s network-order bytes gives. */
export function asLoaded(word: number): number {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(word);
  return bytes.readUInt32LE();
}

/** Keys and values laid out back to back, as bpf_map_update_batch takes them. */
export interface EncodedEntries {
  count: number;
  keySize: number;
  valueSize: number;
  keys: Buffer;
  values: Buffer;
  /** Human-readable key of entry i, for error messages. */
  describe(i: number): string;
}

function u32(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${what}: ${value} is not a u32`);
  }
  return value;
}

/** An ARRAY map's entries 0..n-1 with u32 values (class ids, actions). */
export function encodeU32Array(values: readonly number[], what: string): EncodedEntries {
  const n = values.length;
  const keys = Buffer.alloc(n * 4);
  const vals = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    keys.writeUInt32LE(i, i * 4);
    vals.writeUInt32LE(u32(values[i], `${what}[${i}]`), i * 4);
  }
  return { count: n, keySize: 4, valueSize: 4, keys, values: vals, describe: (i) => `${what}[${i}]` };
}

/** xdpfw_vectors: vector c at key c, its summary (bit w: word w nonzero), words past `nwords` zero. */
export function encodeVectors(vectors: readonly BigUint64Array[]): EncodedEntries {
  const size = STRUCT.xdpfw_vector.size;
  const wordAt = STRUCT.xdpfw_vector.fields.word;
  const summaryAt = STRUCT.xdpfw_vector.fields.summary;
  const n = vectors.length;
  const keys = Buffer.alloc(n * 4);
  const vals = Buffer.alloc(n * size);
  for (let c = 0; c < n; c++) {
    keys.writeUInt32LE(c, c * 4);
    const words = vectors[c];
    if (words.length > MAX_WORDS) throw new RangeError(`vector ${c} has ${words.length} words, at most ${MAX_WORDS}`);
    // The host is little-endian (checked above): the words' bytes are the map's.
    const halves = new Uint32Array(words.buffer, words.byteOffset, 2 * words.length);
    vals.set(new Uint8Array(halves.buffer, halves.byteOffset, halves.byteLength), c * size + wordAt);
    const summary = [0, 0];
    for (let w = 0; w < words.length; w++) if ((halves[2 * w] | halves[2 * w + 1]) !== 0) summary[w >>> 5] |= 1 << (w & 31);
    vals.writeUInt32LE(summary[0] >>> 0, c * size + summaryAt);
    vals.writeUInt32LE(summary[1] >>> 0, c * size + summaryAt + 4);
  }
  return { count: n, keySize: 4, valueSize: size, keys, values: vals, describe: (i) => `vector ${i}` };
}

/** The ARRAY maps of an address table, as rows: /16 classes, bucket bitmap, ranks, quick bytes, bucket records. */
export interface EncodedAddressTable {
  l16: EncodedEntries;
  buckets: EncodedEntries;
  rank: EncodedEntries;
  quick: EncodedEntries;
  records: EncodedEntries;
}

export function encodeAddressTable(table: AddressTable, slot: AddressSlot): EncodedAddressTable {
  if (table.l16.length !== L16_ROWS * CLASS_ROW || table.buckets.length !== BUCKET_ROWS * BUCKET_ROW_BYTES) {
    const want = `${L16_ROWS * CLASS_ROW} classes and ${BUCKET_ROWS * BUCKET_ROW_BYTES} bitmap bytes`;
    throw new RangeError(`${slot}: an address table has ${want}`);
  }
  if (table.rank.length !== RANK_ROWS * CLASS_ROW) {
    throw new RangeError(`${slot}: ${table.rank.length} ranks, not ${RANK_ROWS * CLASS_ROW}`);
  }
  const rows = (values: Buffer, valueSize: number, what: string): EncodedEntries => {
    const count = values.length / valueSize;
    const keys = Buffer.alloc(count * 4);
    for (let i = 0; i < count; i++) keys.writeUInt32LE(i, i * 4);
    return { count, keySize: 4, valueSize, keys, values, describe: (i) => `${slot} ${what} row ${i}` };
  };
  // The maps are freshly created, so zero: rows of zeros need no write (a small policy's bitmap is nearly all zeros).
  const nonZeroRows = (values: Buffer, valueSize: number, what: string): EncodedEntries => {
    const kept: number[] = [];
    for (let row = 0, at = 0; at < values.length; row++, at += valueSize) {
      for (let b = at; b < at + valueSize; b++) {
        if (values[b] !== 0) {
          kept.push(row);
          break;
        }
      }
    }
    if (kept.length === values.length / valueSize) return rows(values, valueSize, what);
    const keys = Buffer.alloc(kept.length * 4);
    const out = Buffer.alloc(kept.length * valueSize);
    kept.forEach((row, i) => {
      keys.writeUInt32LE(row, i * 4);
      values.copy(out, i * valueSize, row * valueSize, (row + 1) * valueSize);
    });
    return { count: kept.length, keySize: 4, valueSize, keys, values: out, describe: (i) => `${slot} ${what} row ${kept[i]}` };
  };
  const bytes = (a: Uint32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const v4 = slot.endsWith('4');
  const record = v4 ? STRUCT.xdpfw_bucket4 : STRUCT.xdpfw_bucket6;
  const perRow = v4 ? BUCKET4_ROW : BUCKET6_ROW;
  const { count, words } = table.records;
  if (table.quick.length !== count) {
    throw new RangeError(`${slot}: ${table.quick.length} quick bytes for ${count} bucket records`);
  }
  const quick = Buffer.alloc(Math.max(1, Math.ceil(count / QUICK_ROW)) * QUICK_ROW);
  quick.set(table.quick);
  // The compiler lays records out as the struct (a layout test holds RECORD to the BTF): its words are the map's rows.
  const rowsOfRecords = Math.max(1, Math.ceil(count / perRow));
  if (words.byteLength !== rowsOfRecords * perRow * record.size) {
    throw new RangeError(
      `${slot}: ${words.byteLength} bytes of bucket records for ${count} records, not ${rowsOfRecords} rows of ${perRow * record.size}`,
    );
  }
  return {
    l16: nonZeroRows(bytes(table.l16), STRUCT.xdpfw_class_row.size, '/16'),
    buckets: nonZeroRows(bytes(table.buckets), BUCKET_ROW_BYTES, 'bucket'),
    rank: nonZeroRows(bytes(table.rank), STRUCT.xdpfw_class_row.size, 'rank'),
    quick: rows(quick, QUICK_ROW, 'quick byte'),
    records: rows(bytes(words), record.size * perRow, 'bucket record'),
  };
}

/**
 * Prefixes → struct xdpfw_lpm{4,6}_key (host bits zero) and class id: the
 * entries of an LPM trie, or of an address table's exact-match hash.
 */
export function encodePrefixes(p: PrefixClasses, family: 4 | 6, what: string): EncodedEntries {
  const width = family === 4 ? 1 : 4;
  const keySize = family === 4 ? STRUCT.xdpfw_lpm4_key.size : STRUCT.xdpfw_lpm6_key.size;
  const addrOffset = STRUCT.xdpfw_lpm4_key.fields.addr;
  const n = p.prefixLength.length;
  if (p.words.length !== n * width || p.classId.length !== n) {
    throw new RangeError(`${what}: ${n} prefixes but ${p.words.length} address words and ${p.classId.length} classes (IPv${family})`);
  }
  const keys = Buffer.alloc(n * keySize);
  const view = new DataView(keys.buffer, keys.byteOffset, keys.length);
  for (let i = 0; i < n; i++) {
    if (p.prefixLength[i] > width * 32) throw new RangeError(`${what}: prefix length ${p.prefixLength[i]} out of range for IPv${family}`);
    view.setUint32(i * keySize, p.prefixLength[i], true);
    for (let w = 0; w < width; w++) view.setUint32(i * keySize + addrOffset + 4 * w, p.words[i * width + w], false);
  }
  const values = Buffer.from(p.classId.buffer, p.classId.byteOffset, p.classId.byteLength);
  const describe = (i: number) => {
    const words = [...p.words.subarray(i * width, (i + 1) * width)];
    const text =
      family === 4
        ? [24, 16, 8, 0].map((s) => (words[0] >>> s) & 255).join('.')
        : words.map((w) => w.toString(16).padStart(8, '0')).join('');
    return `${what} prefix ${text}/${p.prefixLength[i]}`;
  };
  return { count: n, keySize, valueSize: 4, keys, values, describe };
}

export interface CounterValue {
  packets: bigint;
  bytes: bigint;
}

/**
 * Per-CPU struct xdpfw_counter values as bpf() returns them (entry-major,
 * each entry `ncpus` values of round_up(16, 8) bytes), summed over CPUs.
 */
export function decodePerCpuCounters(values: Buffer, count: number, ncpus: number): CounterValue[] {
  const stride = STRUCT.xdpfw_counter.size;
  const out: CounterValue[] = [];
  for (let i = 0; i < count; i++) {
    let packets = 0n;
    let bytes = 0n;
    for (let cpu = 0; cpu < ncpus; cpu++) {
      const at = (i * ncpus + cpu) * stride;
      packets += values.readBigUInt64LE(at + STRUCT.xdpfw_counter.fields.packets);
      bytes += values.readBigUInt64LE(at + STRUCT.xdpfw_counter.fields.bytes);
    }
    out.push({ packets, bytes });
  }
  return out;
}
