/**
 * Reading the namespace's connection tables (conntrack.ts pins them): the
 * live entries for `xdpfw ct list`, the summary for `xdpfw stats` and the
 * daemon's metrics. A table of a million entries is read in batches of a few
 * thousand (BPF_MAP_LOOKUP_BATCH, one syscall each) rather than with a
 * get_next_key and a lookup per entry, and the summary can be taken a batch
 * at a time, yielding to the event loop in between.
 */

import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';

import ipaddr from 'ipaddr.js';

import { CTF_FIN_IN, CTF_FIN_OUT, CT_ENTRY_STATE, CT_STAT, MAP, STRUCT } from '../contract/kernel.js';
import { TABLE_PIN, conntrackDir, openConntrackTables } from './conntrack.js';
import { KernelError, check } from './errors.js';
import * as bpf from './libbpf.js';
import { closeFd } from './libbpf.js';
import { mapInfo } from './limits.js';
import { NO_BATCH } from './maps.js';
import { openPinned, type PinOptions } from './pins.js';
import { OPTS } from './uapi.js';

const ENOENT = 2;
const ENOSPC = 28;

/** Entries one batch lookup asks for: 288 KiB of keys and values, well under a millisecond of copying. */
export const BATCH_ENTRIES = 4096;

/** `count` entries of a table, keys and values back to back. */
export interface TableBatch {
  keys: Buffer;
  values: Buffer;
  count: number;
}

export interface BatchOptions {
  /** Entries a batch at most. */
  entries?: number;
  /** Walk with get_next_key and a lookup per entry even where batch lookups work (to compare them). */
  perEntry?: boolean;
}

/**
 * Every entry of the hash table `fd`, a batch at a time; the next batch
 * reuses the buffers, so copy what must outlive one. Batch lookups where the
 * kernel has them for the map type (hash maps since Linux 5.6), else
 * get_next_key and a lookup per entry. An entry the programs write during
 * the walk may be seen or not, as with any walk of a live hash table.
 */
export function* tableBatches(fd: number, keySize: number, valueSize: number, options: BatchOptions = {}): Generator<TableBatch> {
  let entries = Math.max(1, options.entries ?? BATCH_ENTRIES);
  if (options.perEntry) return yield* entryByEntry(fd, keySize, valueSize, entries);
  const opts = Buffer.alloc(OPTS.mapBatch.size);
  opts.writeBigUInt64LE(BigInt(OPTS.mapBatch.size), 0);
  const count = Buffer.alloc(4);
  // The hash table's batch position is its bucket index (a u32).
  let inBatch: Buffer | null = null;
  let outBatch: Buffer = Buffer.alloc(4);
  let keys = Buffer.alloc(entries * keySize);
  let values = Buffer.alloc(entries * valueSize);
  for (let first = true; ; first = false) {
    count.writeUInt32LE(entries, 0);
    const r = bpf.mapLookupBatch(fd, inBatch, outBatch, keys, values, count, opts);
    const got = count.readUInt32LE(0);
    if (r < 0 && r !== -ENOENT) {
      if (first && got === 0 && NO_BATCH.has(-r)) return yield* entryByEntry(fd, keySize, valueSize, entries);
      if (r === -ENOSPC && got === 0) {
        // One bucket holds more entries than a batch: ask again for that bucket with room for them.
        entries *= 2;
        keys = Buffer.alloc(entries * keySize);
        values = Buffer.alloc(entries * valueSize);
        continue;
      }
      throw new KernelError('reading a connection table', -r);
    }
    if (got > 0) yield { keys, values, count: got };
    if (r === -ENOENT) return; // past the last bucket
    [inBatch, outBatch] = [outBatch, inBatch ?? Buffer.alloc(4)];
  }
}

function* entryByEntry(fd: number, keySize: number, valueSize: number, entries: number): Generator<TableBatch> {
  const keys = Buffer.alloc(entries * keySize);
  const values = Buffer.alloc(entries * valueSize);
  let previous: Buffer | null = null;
  let next: Buffer = Buffer.alloc(keySize);
  let count = 0;
  while (bpf.mapGetNextKey(fd, previous, next) === 0) {
    if (bpf.mapLookupElem(fd, next, values.subarray(count * valueSize, (count + 1) * valueSize)) === 0) {
      next.copy(keys, count * keySize);
      count++;
    } // else evicted meanwhile
    [previous, next] = [next, previous ?? Buffer.alloc(keySize)];
    if (count === entries) {
      yield { keys, values, count };
      count = 0;
    }
  }
  if (count > 0) yield { keys, values, count };
}

const TABLES = [
  [MAP.ctTcp, 'tcp'],
  [MAP.ctUdp, 'udp'],
  [MAP.ctIcmp, 'icmp'],
] as const;
export type ConntrackTable = (typeof TABLES)[number][1];

/** The batches of the TCP, UDP and ICMP tables among `tables` (map name → fd), expired entries too. */
function* conntrackBatches(tables: ReadonlyMap<string, number>, options: BatchOptions): Generator<[ConntrackTable, TableBatch]> {
  for (const [name, table] of TABLES) {
    const fd = tables.get(name);
    if (fd === undefined) continue;
    for (const batch of tableBatches(fd, STRUCT.xdpfw_ct_key.size, STRUCT.xdpfw_ct_entry.size, options)) yield [table, batch];
  }
}

const closeAll = (tables: ReadonlyMap<string, number>) => tables.forEach((fd) => closeFd(fd));

/* ---- entries -------------------------------------------------------------- */

const ENTRY_STATE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(CT_ENTRY_STATE).map(([name, value]) => [value, name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)]),
);

/** One live entry, from the host's side. */
export interface ConntrackEntry {
  protocol: number;
  family: 4 | 6;
  local: string;
  remote: string;
  localPort: number;
  remotePort: number;
  /** syn-sent, syn-recv, established, closing, unreplied, replied. */
  state: string;
  finOut: boolean;
  finIn: boolean;
  ageSeconds: number;
  expiresInSeconds: number;
  /** The interface whose egress created it. */
  ifindex: number;
}

function address(bytes: Buffer, family: 4 | 6): string {
  return ipaddr.fromByteArray([...bytes.subarray(0, family === 4 ? 4 : 16)]).toString();
}

function decodeEntry(k: Buffer, v: Buffer, nowNs: bigint, deadline: bigint): ConntrackEntry {
  const key = STRUCT.xdpfw_ct_key.fields;
  const value = STRUCT.xdpfw_ct_entry.fields;
  const family = k[key.family] === 0 ? 4 : 6;
  const flags = v.readUInt32LE(value.flags);
  return {
    protocol: k[key.proto],
    family,
    local: address(k.subarray(key.local, key.local + 16), family),
    remote: address(k.subarray(key.remote, key.remote + 16), family),
    localPort: k.readUInt16LE(key.lport),
    remotePort: k.readUInt16LE(key.rport),
    state: ENTRY_STATE_NAMES[v.readUInt32LE(value.state)] ?? 'unknown',
    finOut: (flags & CTF_FIN_OUT) !== 0,
    finIn: (flags & CTF_FIN_IN) !== 0,
    ageSeconds: Number(nowNs - v.readBigUInt64LE(value.created)) / 1e9,
    expiresInSeconds: Number(deadline - nowNs) / 1e9,
    ifindex: v.readUInt32LE(value.ifindex),
  };
}

/**
 * Every live entry of the namespace's tables (an entry past its deadline is
 * absent, whatever the LRU keeps); `nowNs` on the programs' clock
 * (CLOCK_MONOTONIC, which process.hrtime reads). Null when no policy of
 * this namespace uses ct.
 */
export function readConntrackEntries(nowNs: bigint, o: PinOptions = {}, options: BatchOptions = {}): ConntrackEntry[] | null {
  const tables = openConntrackTables(o);
  try {
    if (!tables.has(MAP.ctTcp)) return null;
    const entries: ConntrackEntry[] = [];
    const ks = STRUCT.xdpfw_ct_key.size;
    const vs = STRUCT.xdpfw_ct_entry.size;
    for (const [, { keys, values, count }] of conntrackBatches(tables, options)) {
      for (let i = 0; i < count; i++) {
        const v = values.subarray(i * vs, (i + 1) * vs);
        const deadline = v.readBigUInt64LE(STRUCT.xdpfw_ct_entry.fields.deadline);
        if (deadline > nowNs) entries.push(decodeEntry(keys.subarray(i * ks, (i + 1) * ks), v, nowNs, deadline));
      }
    }
    return entries;
  } finally {
    closeAll(tables);
  }
}

/* ---- statistics and summary ----------------------------------------------- */

export type ConntrackStats = Record<Exclude<keyof typeof CT_STAT, 'nstats'>, bigint>;

/** The tables' statistics summed over the CPUs; null when no policy of this namespace uses ct. */
export function readConntrackStats(o: PinOptions = {}): ConntrackStats | null {
  const fd = openPinned(path.join(conntrackDir(o), TABLE_PIN[MAP.ctStats]), 'connection-tracking statistics');
  if (fd === null) return null;
  try {
    const cpus = bpf.numPossibleCpus();
    const values = Buffer.alloc(8 * cpus);
    const stats = {} as ConntrackStats;
    for (const [name, index] of Object.entries(CT_STAT) as [keyof typeof CT_STAT, number][]) {
      if (name === 'nstats') continue;
      const k = Buffer.alloc(4);
      k.writeUInt32LE(index);
      check(bpf.mapLookupElem(fd, k, values), 'reading the connection-tracking statistics');
      let sum = 0n;
      for (let c = 0; c < cpus; c++) sum += values.readBigUInt64LE(8 * c);
      stats[name] = sum;
    }
    return stats;
  } finally {
    closeFd(fd);
  }
}

/** What `xdpfw stats` and the metrics say of the tables. */
export interface ConntrackSummary {
  /** Live entries per table. */
  entries: Record<ConntrackTable, number>;
  /** Entries each table holds at most (fixed when it was created): what `entries` fills. */
  size: Record<ConntrackTable, number>;
  created: Record<ConntrackTable, bigint>;
  /** Entries the LRU pushed out before their deadline, or after it but before their key came back. */
  evicted: bigint;
  floodRefused: bigint;
  floodSeconds: bigint;
}

/**
 * The summary, one step a batch: the caller drives it all at once or yields
 * between steps. A batch's deadlines are compared as two 32-bit halves: no
 * BigInt per entry.
 */
function* summarize(nowNs: bigint, o: PinOptions, options: BatchOptions): Generator<void, ConntrackSummary | null> {
  const stats = readConntrackStats(o);
  if (stats === null) return null;
  const entries: Record<ConntrackTable, number> = { tcp: 0, udp: 0, icmp: 0 };
  const size: Record<ConntrackTable, number> = { tcp: 0, udp: 0, icmp: 0 };
  const nowHigh = Number(nowNs >> 32n);
  const nowLow = Number(nowNs & 0xffffffffn);
  const stride = STRUCT.xdpfw_ct_entry.size;
  let stored = 0;
  const tables = openConntrackTables(o);
  try {
    for (const [name, table] of TABLES) {
      const fd = tables.get(name);
      if (fd !== undefined) size[table] = mapInfo(fd, `connection-tracking map ${name}`).maxEntries;
    }
    for (const [table, { values, count }] of conntrackBatches(tables, options)) {
      let live = 0;
      for (let at = STRUCT.xdpfw_ct_entry.fields.deadline, end = at + count * stride; at < end; at += stride) {
        const high = values.readUInt32LE(at + 4);
        if (high > nowHigh || (high === nowHigh && values.readUInt32LE(at) > nowLow)) live++;
      }
      entries[table] += live;
      stored += count;
      yield;
    }
  } finally {
    closeAll(tables);
  }
  const created = { tcp: stats.createdTcp, udp: stats.createdUdp, icmp: stats.createdIcmp };
  const evicted = created.tcp + created.udp + created.icmp - stats.reused - BigInt(stored);
  return {
    entries,
    size,
    created,
    evicted: evicted > 0n ? evicted : 0n,
    floodRefused: stats.floodRefused,
    floodSeconds: stats.floodSeconds,
  };
}

/** The summary, read at once (`xdpfw stats`); null when no policy of this namespace uses ct. */
export function readConntrackSummary(nowNs: bigint, o: PinOptions = {}, options: BatchOptions = {}): ConntrackSummary | null {
  const steps = summarize(nowNs, o, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * The summary, read a batch per turn of the event loop, so that the
 * daemon's other work (health checks, signals, file events) waits for one
 * batch at most, never for the whole table.
 */
export async function readConntrackSummaryInTurns(
  nowNs: bigint,
  o: PinOptions = {},
  options: BatchOptions = {},
): Promise<ConntrackSummary | null> {
  const steps = summarize(nowNs, o, options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await nextTurn();
  }
}
