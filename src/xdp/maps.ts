/**
 * Map contents: fill a freshly loaded program's maps from a CompiledInterface
 * with batch updates, and read arrays back (per-CPU counters summed over
 * CPUs). Encoding lives in layout.ts; this file only moves bytes.
 */

import type { AddressSlot, CompiledInterface } from '../compiler/output.js';
import { ENOTSUPP, KernelError, check } from './errors.js';
import {
  ACTION_LOG,
  BUCKET4_ROW,
  BUCKET6_ROW,
  COUNTER_INDEX,
  MAP,
  MAP_LAYOUT,
  type MapName,
  NCOUNTERS,
  QUICK_ROW,
  SET_STAT,
} from '../contract/kernel.js';
import {
  ADDR_MAPS,
  type CounterValue,
  type EncodedEntries,
  type GlobalCounterName,
  decodePerCpuCounters,
  encodeAddressTable,
  encodePrefixes,
  encodeU32Array,
  encodeVectors,
} from './layout.js';
import * as bpf from './libbpf.js';
import type { MapRef } from './object.js';
import { INFO, OPTS, isPerCpuMapType } from './uapi.js';

const EINVAL = 22;
const ENOENT = 2;
const EOPNOTSUPP = 95;
/** Errnos that mean "this map type has no batch operation here". */
export const NO_BATCH = new Set([EINVAL, EOPNOTSUPP, ENOTSUPP]);

export interface FillProgress {
  map: string;
  /** Entries of this map written so far, and its total. */
  done: number;
  total: number;
  /** Entries of every map written so far, and the total for the interface. */
  doneAll: number;
  totalAll: number;
}

export interface FillOptions {
  onProgress?: (progress: FillProgress) => void;
  /** Entries per bpf_map_update_batch call. */
  chunkSize?: number;
}

export interface FillReport {
  entries: number;
  maps: { name: string; entries: number; method: 'batch' | 'element' }[];
}

const DEFAULT_CHUNK = 16384;

function batchOpts(): Buffer {
  const opts = Buffer.alloc(OPTS.mapBatch.size);
  opts.writeBigUInt64LE(BigInt(OPTS.mapBatch.size), 0);
  return opts;
}

/**
 * What a CompiledInterface puts in each map; maps it leaves empty are absent.
 * The linear path reads its rules from .rodata: it fills no map.
 */
export function encodeCompiled(compiled: CompiledInterface): Map<MapName, EncodedEntries> {
  const out = new Map<MapName, EncodedEntries>();
  if (compiled.constants.linear) return out;
  out.set(MAP.vectors, encodeVectors(compiled.vectors));
  out.set(MAP.protoCls, encodeU32Array(compiled.protoClass, 'protoClass'));
  const arrays: [MapName, number[] | null, string][] = [
    [MAP.sportCls, compiled.sportClass, 'sportClass'],
    [MAP.dportCls, compiled.dportClass, 'dportClass'],
    [MAP.tcpflagsCls, compiled.tcpFlagsClass, 'tcpFlagsClass'],
    [MAP.icmptypeCls, compiled.icmpTypeClass, 'icmpTypeClass'],
    [MAP.ctstateCls, compiled.ctStateClass, 'ctStateClass'],
  ];
  for (const [name, values, what] of arrays) if (values) out.set(name, encodeU32Array(values, what));
  for (const slot of Object.keys(ADDR_MAPS) as AddressSlot[]) {
    const entries = compiled[slot];
    const family = slot.endsWith('4') ? 4 : 6;
    const maps = ADDR_MAPS[slot];
    const table = compiled.addressTables[slot];
    if (compiled.constants.addressLookup[slot].mode !== 'table') {
      if (entries.prefixLength.length > 0) out.set(maps.trie, encodePrefixes(entries, family, `${slot} trie`));
      continue;
    }
    if (!table) throw new Error(`${slot} is looked up by address table, but the compiled policy has none`);
    const encoded = encodeAddressTable(table, slot);
    out.set(maps.l16, encoded.l16);
    if (table.records.count === 0) continue;
    out.set(maps.bkt, encoded.buckets);
    out.set(maps.rank, encoded.rank);
    out.set(maps.quick, encoded.quick);
    out.set(maps.rec, encoded.records);
    if (table.hashed.prefixLength.length > 0) out.set(maps.hash, encodePrefixes(table.hashed, family, `${slot} hash`));
  }
  const logged = compiled.actions.map((action, i) => action | (compiled.rules[i]?.log ? ACTION_LOG : 0));
  out.set(MAP.actions, encodeU32Array(logged, 'actions'));
  return out;
}

/** The least ring buffer: one 4 KiB page (libbpf rounds a ring up to a power of two of the host's pages). */
const PAGE_BYTES = 4096;

/**
 * max_entries of the maps whose size depends on the policy: vectors, tries,
 * actions and rule counters fit the policy, and the table of a field the
 * policy does not use shrinks to 1 entry (xdpfw.h: the verifier prunes its
 * lookup), as does every classification map on the linear path. Used tables
 * and the global counters keep the object's sizes.
 * Never 0: the kernel refuses empty arrays.
 */
export function mapSizes(compiled: CompiledInterface): Record<string, number> {
  const rules = Math.max(1, compiled.constants.nrules);
  const sizes: Record<string, number> = {
    [MAP.vectors]: Math.max(1, compiled.vectors.length),
    [MAP.actions]: rules,
    [MAP.ruleCounters]: rules,
  };
  // A slot uses its trie or its address table; the other shrinks to one entry.
  for (const slot of Object.keys(ADDR_MAPS) as AddressSlot[]) {
    const maps = ADDR_MAPS[slot];
    const table = compiled.constants.addressLookup[slot].mode === 'table' ? compiled.addressTables[slot] : null;
    sizes[maps.trie] = table ? 1 : Math.max(1, compiled[slot].prefixLength.length);
    sizes[maps.hash] = Math.max(1, table?.hashed.classId.length ?? 0);
    const perRow = slot.endsWith('4') ? BUCKET4_ROW : BUCKET6_ROW;
    sizes[maps.rec] = Math.max(1, Math.ceil((table?.records.count ?? 0) / perRow));
    sizes[maps.quick] = Math.max(1, Math.ceil((table?.records.count ?? 0) / QUICK_ROW));
    // Without entries longer than /16 nothing reads past the /16 table.
    if (!table) sizes[maps.l16] = 1;
    if (!table || table.records.count === 0) sizes[maps.bkt] = sizes[maps.rank] = 1;
  }
  const tables: [MapName, number[] | null][] = [
    [MAP.sportCls, compiled.sportClass],
    [MAP.dportCls, compiled.dportClass],
    [MAP.tcpflagsCls, compiled.tcpFlagsClass],
    [MAP.icmptypeCls, compiled.icmpTypeClass],
    [MAP.ctstateCls, compiled.ctStateClass],
  ];
  for (const [name, classes] of tables) if (classes === null) sizes[name] = 1;
  // The linear path reads none of the classification maps (only the counters).
  if (compiled.constants.linear) {
    const unread = [MAP.vectors, MAP.actions, MAP.protoCls, ...tables.map(([name]) => name)];
    for (const maps of Object.values(ADDR_MAPS)) unread.push(...Object.values(maps));
    for (const name of unread) sizes[name] = 1;
  }
  // A policy without ct reads no connection map: its stand-ins stay at one entry.
  if (!compiled.constants.ct) sizes[MAP.ctStats] = 1;
  // Tails, their counters and sets, sized for the rules and sets that have them (one entry without).
  const tailed = compiled.tails.some((t) => t !== null);
  const sets = compiled.dynamicSets.length;
  sizes[MAP.tails] = tailed ? rules : 1;
  sizes[MAP.limitCounters] = compiled.tails.some((t) => t?.limit) ? rules : 1;
  sizes[MAP.dynsets] = Math.max(1, sets);
  sizes[MAP.dynsetHosts] = Math.max(1, sets);
  sizes[MAP.setStats] = Math.max(1, sets * SET_STAT.nstats);
  // Nothing is logged without a `log` rule: the ring takes one page (its least), not its 256 KiB.
  if (!compiled.constants.log) sizes[MAP.logRing] = PAGE_BYTES;
  return sizes;
}

/** Fails when the object's map disagrees with xdpfw.h (src/contract/kernel.ts). */
export function checkMapLayout(map: MapRef, entries?: EncodedEntries): void {
  const want = MAP_LAYOUT[map.name as MapName] ?? entries;
  if (!want) return;
  if (map.keySize !== want.keySize || map.valueSize !== want.valueSize) {
    throw new Error(
      `map ${map.name}: the BPF object has ${map.keySize}-byte keys and ${map.valueSize}-byte values, ` +
        `xdpfw.h says ${want.keySize} and ${want.valueSize}: rebuild bpf/xdpfw.bpf.o`,
    );
  }
  if (entries && entries.count > map.maxEntries) {
    throw new Error(`map ${map.name}: ${entries.count} entries do not fit its max_entries ${map.maxEntries}`);
  }
}

const nextTick = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Writes `entries` into `map`: batch updates of `chunkSize`, or one update per
 * entry when the kernel has no batch update for the map type. Yields to the
 * event loop between chunks.
 */
export async function writeEntries(
  map: MapRef,
  entries: EncodedEntries,
  options: FillOptions & { progress?: (done: number) => void } = {},
): Promise<'batch' | 'element'> {
  checkMapLayout(map, entries);
  const chunk = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK);
  const opts = batchOpts();
  const count = Buffer.alloc(4);
  const { keySize, valueSize } = entries;
  for (let start = 0; start < entries.count; start += chunk) {
    const n = Math.min(chunk, entries.count - start);
    count.writeUInt32LE(n, 0);
    const r = bpf.mapUpdateBatch(
      map.fd,
      entries.keys.subarray(start * keySize, (start + n) * keySize),
      entries.values.subarray(start * valueSize, (start + n) * valueSize),
      count,
      opts,
    );
    if (r < 0) {
      if (start === 0 && count.readUInt32LE(0) === 0 && NO_BATCH.has(-r)) {
        await writeEachEntry(map, entries, options);
        return 'element';
      }
      const at = start + count.readUInt32LE(0);
      throw new KernelError(`filling map ${map.name} (entry ${at} of ${entries.count}: ${entries.describe(at)})`, -r);
    }
    options.progress?.(start + n);
    if (start + n < entries.count) await nextTick();
  }
  return 'batch';
}

async function writeEachEntry(
  map: MapRef,
  entries: EncodedEntries,
  options: FillOptions & { progress?: (done: number) => void },
): Promise<void> {
  const { keySize, valueSize } = entries;
  const chunk = Math.max(1, options.chunkSize ?? DEFAULT_CHUNK);
  for (let i = 0; i < entries.count; i++) {
    const r = bpf.mapUpdateElem(
      map.fd,
      entries.keys.subarray(i * keySize, (i + 1) * keySize),
      entries.values.subarray(i * valueSize, (i + 1) * valueSize),
    );
    check(r, () => `filling map ${map.name} (entry ${i} of ${entries.count}: ${entries.describe(i)})`);
    if ((i + 1) % chunk === 0 || i + 1 === entries.count) {
      options.progress?.(i + 1);
      if (i + 1 < entries.count) await nextTick();
    }
  }
}

/** Fills every map of `maps` that `compiled` gives content to. */
export async function fillMaps(
  maps: ReadonlyMap<string, MapRef>,
  compiled: CompiledInterface,
  options: FillOptions = {},
): Promise<FillReport> {
  const encoded = encodeCompiled(compiled);
  const totalAll = [...encoded.values()].reduce((s, e) => s + e.count, 0);
  for (const name of encoded.keys()) if (!maps.has(name)) throw new Error(`the BPF object has no map ${name}`);
  const report: FillReport = { entries: totalAll, maps: [] };
  let before = 0;
  for (const [name, entries] of encoded) {
    const base = before;
    const method = await writeEntries(maps.get(name)!, entries, {
      ...options,
      progress: (done) => options.onProgress?.({ map: name, done, total: entries.count, doneAll: base + done, totalAll }),
    });
    before += entries.count;
    report.maps.push({ name, entries: entries.count, method });
  }
  return report;
}

/** A map opened by fd (e.g. from a pin), described by the kernel. */
export function mapRefFromFd(fd: number, what: string): MapRef {
  const info = Buffer.alloc(INFO.map.size);
  check(bpf.objGetInfoByFd(fd, info), `reading the description of map ${what}`);
  const nameBytes = info.subarray(INFO.map.name, INFO.map.name + 16);
  const end = nameBytes.indexOf(0);
  return {
    name: nameBytes.toString('utf8', 0, end < 0 ? 16 : end),
    fd,
    type: info.readUInt32LE(INFO.map.type),
    keySize: info.readUInt32LE(INFO.map.keySize),
    valueSize: info.readUInt32LE(INFO.map.valueSize),
    maxEntries: info.readUInt32LE(INFO.map.maxEntries),
  };
}

/** Bytes of one entry as bpf() returns it: per-CPU maps give one 8-aligned value per possible CPU. */
function entryStride(map: MapRef, ncpus: number): number {
  return isPerCpuMapType(map.type) ? Math.ceil(map.valueSize / 8) * 8 * ncpus : map.valueSize;
}

/** Every value of an ARRAY or PERCPU_ARRAY map, entry-major, by batch lookup. */
export function readArrayValues(map: MapRef, ncpus = bpf.numPossibleCpus()): Buffer {
  const stride = entryStride(map, ncpus);
  const total = map.maxEntries;
  const values = Buffer.alloc(total * stride);
  const keys = Buffer.alloc(total * 4);
  const count = Buffer.alloc(4);
  const outBatch = Buffer.alloc(4);
  const opts = batchOpts();
  let inBatch: Buffer | null = null;
  let got = 0;
  while (got < total) {
    count.writeUInt32LE(total - got, 0);
    const r = bpf.mapLookupBatch(map.fd, inBatch, outBatch, keys.subarray(got * 4), values.subarray(got * stride), count, opts);
    got += count.readUInt32LE(0);
    if (r === -ENOENT) break; // end of the map
    if (r < 0) {
      if (got === 0 && NO_BATCH.has(-r)) return readEachValue(map, stride, values);
      throw new KernelError(`reading map ${map.name}`, -r);
    }
    inBatch = Buffer.from(outBatch);
  }
  for (let i = 0; i < got; i++) {
    if (keys.readUInt32LE(i * 4) !== i) throw new Error(`reading map ${map.name}: batch keys out of order at ${i}`);
  }
  return values;
}

function readEachValue(map: MapRef, stride: number, values: Buffer): Buffer {
  const key = Buffer.alloc(4);
  for (let i = 0; i < map.maxEntries; i++) {
    key.writeUInt32LE(i, 0);
    check(bpf.mapLookupElem(map.fd, key, values.subarray(i * stride, (i + 1) * stride)), () => {
      return `reading map ${map.name} (entry ${i})`;
    });
  }
  return values;
}

export interface Counters {
  /** Per rule, by rule index. */
  rules: CounterValue[];
  global: Record<GlobalCounterName, CounterValue>;
}

/** Reads xdpfw_rule_counters and xdpfw_counters, summed over CPUs. */
export function readCounters(ruleCounters: MapRef, counters: MapRef, nrules = ruleCounters.maxEntries): Counters {
  const ncpus = bpf.numPossibleCpus();
  for (const m of [ruleCounters, counters]) {
    if (!isPerCpuMapType(m.type)) throw new Error(`map ${m.name} is not per-CPU (type ${m.type})`);
    if (m.valueSize !== MAP_LAYOUT[MAP.counters].valueSize) {
      throw new Error(`map ${m.name}: ${m.valueSize}-byte values, xdpfw.h's struct xdpfw_counter has 16`);
    }
  }
  const rules = decodePerCpuCounters(readArrayValues(ruleCounters, ncpus), ruleCounters.maxEntries, ncpus);
  const all = decodePerCpuCounters(readArrayValues(counters, ncpus), Math.min(counters.maxEntries, NCOUNTERS), ncpus);
  const global = {} as Record<GlobalCounterName, CounterValue>;
  for (const [name, index] of Object.entries(COUNTER_INDEX) as [GlobalCounterName, number][]) {
    global[name] = all[index] ?? { packets: 0n, bytes: 0n };
  }
  return { rules: rules.slice(0, nrules), global };
}
