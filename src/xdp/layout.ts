/**
 * The kernel/user contract of bpf/xdpfw.h, mirrored: names, sizes, offsets and
 * the codecs that turn a CompiledInterface into map keys and values. Pure: no
 * kernel, no fs. tests/kernel/xdp/layout.test.ts compares every size and
 * offset here with the BTF that clang emits for xdpfw.h.
 *
 * Byte order: keys and values are host order (x86_64, arm64: little endian)
 * except LPM addresses, which are network order as the header says.
 */

import os from 'node:os';

import type { CompiledConstants, LpmEntry } from '../compiler/output.js';

if (os.endianness() !== 'LE') throw new Error('xdpfw map codecs assume a little-endian host');

export const MAX_RULES = 4096;
export const MAX_WORDS = MAX_RULES / 64;
export const NFIELDS = 7;
export const NCOUNTERS = 4;

export const ACTION = { drop: 1, pass: 2 } as const;

export const FIELD = { proto: 0, src: 1, dst: 2, sport: 3, dport: 4, tcpFlags: 5, icmpType: 6 } as const;

/** enum xdpfw_counter_index, by the names `readCounters` reports. */
export const COUNTER_INDEX = { default: 0, malformed: 1, nonIp: 2, fragment: 3 } as const;
export type GlobalCounterName = keyof typeof COUNTER_INDEX;

export const MAP = {
  vectors: 'xdpfw_vectors',
  protoCls: 'xdpfw_proto_cls',
  src4: 'xdpfw_src4',
  src6: 'xdpfw_src6',
  dst4: 'xdpfw_dst4',
  dst6: 'xdpfw_dst6',
  sportCls: 'xdpfw_sport_cls',
  dportCls: 'xdpfw_dport_cls',
  tcpFlagsCls: 'xdpfw_tcpflags_cls',
  icmpTypeCls: 'xdpfw_icmptype_cls',
  actions: 'xdpfw_actions',
  ruleCounters: 'xdpfw_rule_counters',
  counters: 'xdpfw_counters',
} as const;
export type MapName = (typeof MAP)[keyof typeof MAP];
export const MAP_NAMES: readonly MapName[] = Object.values(MAP);

/** Struct sizes and field offsets, as in xdpfw.h. */
export const STRUCT = {
  xdpfw_lpm4_key: { size: 8, fields: { prefixlen: 0, addr: 4 } },
  xdpfw_lpm6_key: { size: 20, fields: { prefixlen: 0, addr: 4 } },
  xdpfw_vector: { size: MAX_WORDS * 8, fields: { word: 0 } },
  xdpfw_counter: { size: 16, fields: { packets: 0, bytes: 8 } },
} as const;
/** Size of a class id (every *_cls and LPM value) and of an action. */
export const U32_SIZE = 4;

/** Key and value size of each map. */
export const MAP_LAYOUT: Record<MapName, { keySize: number; valueSize: number }> = {
  xdpfw_vectors: { keySize: 4, valueSize: STRUCT.xdpfw_vector.size },
  xdpfw_proto_cls: { keySize: 4, valueSize: U32_SIZE },
  xdpfw_src4: { keySize: STRUCT.xdpfw_lpm4_key.size, valueSize: U32_SIZE },
  xdpfw_dst4: { keySize: STRUCT.xdpfw_lpm4_key.size, valueSize: U32_SIZE },
  xdpfw_src6: { keySize: STRUCT.xdpfw_lpm6_key.size, valueSize: U32_SIZE },
  xdpfw_dst6: { keySize: STRUCT.xdpfw_lpm6_key.size, valueSize: U32_SIZE },
  xdpfw_sport_cls: { keySize: 4, valueSize: U32_SIZE },
  xdpfw_dport_cls: { keySize: 4, valueSize: U32_SIZE },
  xdpfw_tcpflags_cls: { keySize: 4, valueSize: U32_SIZE },
  xdpfw_icmptype_cls: { keySize: 4, valueSize: U32_SIZE },
  xdpfw_actions: { keySize: 4, valueSize: U32_SIZE },
  xdpfw_rule_counters: { keySize: 4, valueSize: STRUCT.xdpfw_counter.size },
  xdpfw_counters: { keySize: 4, valueSize: STRUCT.xdpfw_counter.size },
};

/** The `.rodata` variables and their sizes in bytes (all __u32 or __u32[]). */
export const RODATA_VARS = {
  cfg_nrules: 4,
  cfg_nwords: 4,
  cfg_fields: 4,
  cfg_default_action: 4,
  cfg_absent_class: 4 * NFIELDS,
} as const;
export type RodataName = keyof typeof RODATA_VARS;

/** Compiled constants → values of the `.rodata` variables. */
export function rodataValues(k: CompiledConstants): Record<RodataName, number | number[]> {
  if (k.absentClass.length !== NFIELDS) {
    throw new RangeError(`absentClass has ${k.absentClass.length} entries, cfg_absent_class has ${NFIELDS}`);
  }
  return {
    cfg_nrules: k.nrules,
    cfg_nwords: k.nwords,
    cfg_fields: k.fields,
    cfg_default_action: k.defaultAction,
    cfg_absent_class: k.absentClass,
  };
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

/** xdpfw_vectors: vector c at key c, words past `nwords` zero. */
export function encodeVectors(vectors: readonly (readonly bigint[])[]): EncodedEntries {
  const size = STRUCT.xdpfw_vector.size;
  const n = vectors.length;
  const keys = Buffer.alloc(n * 4);
  const vals = Buffer.alloc(n * size);
  for (let c = 0; c < n; c++) {
    keys.writeUInt32LE(c, c * 4);
    const words = vectors[c];
    if (words.length > MAX_WORDS) throw new RangeError(`vector ${c} has ${words.length} words, at most ${MAX_WORDS}`);
    for (let w = 0; w < words.length; w++) vals.writeBigUInt64LE(BigInt.asUintN(64, words[w]), c * size + w * 8);
  }
  return { count: n, keySize: 4, valueSize: size, keys, values: vals, describe: (i) => `vector ${i}` };
}

/** An LPM trie: struct xdpfw_lpm{4,6}_key → class id. */
export function encodeLpm(entries: readonly LpmEntry[], family: 4 | 6): EncodedEntries {
  const addrLength = family === 4 ? 4 : 16;
  const keySize = family === 4 ? STRUCT.xdpfw_lpm4_key.size : STRUCT.xdpfw_lpm6_key.size;
  const addrOffset = STRUCT.xdpfw_lpm4_key.fields.addr;
  const n = entries.length;
  const keys = Buffer.alloc(n * keySize);
  const vals = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    const e = entries[i];
    if (e.bytes.length !== addrLength) {
      throw new RangeError(`LPM entry ${e.text}: ${e.bytes.length} address bytes, IPv${family} needs ${addrLength}`);
    }
    if (e.prefixLength < 0 || e.prefixLength > addrLength * 8) {
      throw new RangeError(`LPM entry ${e.text}: prefix length ${e.prefixLength} out of range`);
    }
    keys.writeUInt32LE(e.prefixLength, i * keySize);
    for (let b = 0; b < addrLength; b++) keys[i * keySize + addrOffset + b] = e.bytes[b];
    vals.writeUInt32LE(u32(e.classId, `class of ${e.text}`), i * 4);
  }
  return { count: n, keySize, valueSize: 4, keys, values: vals, describe: (i) => entries[i].text };
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
