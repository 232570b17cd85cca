/**
 * Counter carry-over across a program swap. Every program has its own per-CPU
 * counter maps (rules', global, its limits' over-limit packets, its dynamic
 * sets' stats), so a reload would reset them all; the caller
 * (src/app/enforce.ts) keeps them with three steps around `replace`:
 *
 *   1. snapshot the old maps (`PinnedCounters.snapshot`) and write the
 *      snapshot's per-CPU values into the new, not yet attached, program's
 *      maps at their new indexes (`seedCounters`): nothing else writes
 *      there yet, so the copy is exact;
 *   2. swap the programs;
 *   3. wait until no old program run is in flight (`waitForOldRuns`) and
 *      snapshot the old maps again: the difference is what the old program
 *      counted between the copy and the swap, which the caller keeps as a
 *      base offset (it never writes into a map a running program updates).
 *
 * Which old index goes to which new index is the caller's business.
 */

import { COUNTER_INDEX, MAP, NCOUNTERS, SET_STAT } from '../contract/kernel.js';
import { type CounterValue, decodePerCpuCounters } from './layout.js';
import * as bpf from './libbpf.js';
import { openLiveCounterMaps } from './live-maps.js';
import { readArrayValues, writeEntries } from './maps.js';
import type { MapRef } from './object.js';
import type { PinOptions } from './pins.js';
import { setCountersOf, type SetCounters } from './tail-counters.js';

/** Raw per-CPU values of one array map, entry-major as bpf() returns them. */
export interface PerCpuValues {
  values: Buffer;
  entries: number;
  /** Bytes of one entry: its value, 8-byte aligned, for every CPU. */
  stride: number;
}

/** The counter maps of a program: rules', global, and its tails' (null in a program without them). */
export interface CounterSnapshot {
  ncpus: number;
  rules: PerCpuValues;
  global: PerCpuValues;
  overLimit: PerCpuValues | null;
  setStats: PerCpuValues | null;
}

function readPerCpu(map: MapRef, ncpus: number, entries = map.maxEntries): PerCpuValues {
  return {
    values: readArrayValues(map, ncpus),
    entries: Math.min(entries, map.maxEntries),
    stride: Math.ceil(map.valueSize / 8) * 8 * ncpus,
  };
}

export function snapshotMaps(
  maps: { rules: MapRef; global: MapRef; overLimit: MapRef | null; setStats: MapRef | null },
  ncpus = bpf.numPossibleCpus(),
): CounterSnapshot {
  return {
    ncpus,
    rules: readPerCpu(maps.rules, ncpus),
    global: readPerCpu(maps.global, ncpus, NCOUNTERS),
    overLimit: maps.overLimit && readPerCpu(maps.overLimit, ncpus),
    setStats: maps.setStats && readPerCpu(maps.setStats, ncpus),
  };
}

/** Sums over CPUs of each u64 entry. */
function u64Sums(s: PerCpuValues | null, ncpus: number): bigint[] {
  if (!s) return [];
  return Array.from({ length: s.entries }, (_, i) => {
    let sum = 0n;
    for (let cpu = 0; cpu < ncpus; cpu++) sum += s.values.readBigUInt64LE(i * s.stride + cpu * 8);
    return sum;
  });
}

export interface SnapshotTotals {
  rules: CounterValue[];
  global: CounterValue[];
  /** Per rule, the packets its limit found over the rate. */
  overLimit: { overLimit: bigint }[];
  /** Per dynamic set, by its index in the program. */
  sets: SetCounters[];
}

/** Per-entry totals (summed over CPUs) of a snapshot. */
export function snapshotTotals(s: CounterSnapshot): SnapshotTotals {
  const stats = u64Sums(s.setStats, s.ncpus);
  return {
    rules: decodePerCpuCounters(s.rules.values, s.rules.entries, s.ncpus),
    global: decodePerCpuCounters(s.global.values, s.global.entries, s.ncpus),
    overLimit: u64Sums(s.overLimit, s.ncpus).map((overLimit) => ({ overLimit })),
    sets: setCountersOf(stats, Math.floor(stats.length / SET_STAT.nstats)),
  };
}

/** The counter maps of the program attached to an interface, opened from their pins. */
export interface PinnedCounters {
  snapshot(): CounterSnapshot;
  close(): void;
}

/** Opens the counter maps of the program on an interface's pinned link; null when there is none. */
export function openPinnedCounters(ifname: string, o: PinOptions = {}): PinnedCounters | null {
  const live = openLiveCounterMaps(ifname, o);
  if (live === null) return null;
  return { snapshot: () => snapshotMaps(live), close: live.close };
}

function entriesFrom(snapshot: PerCpuValues, pairs: readonly (readonly [number, number])[], what: string) {
  const size = snapshot.stride;
  const keys = Buffer.alloc(pairs.length * 4);
  const values = Buffer.alloc(pairs.length * size);
  pairs.forEach(([from, to], i) => {
    keys.writeUInt32LE(to, i * 4);
    snapshot.values.copy(values, i * size, from * size, (from + 1) * size);
  });
  return {
    count: pairs.length,
    keySize: 4,
    valueSize: size,
    keys,
    values,
    describe: (i: number) => `${what}[${pairs[i][1]}] (from old ${pairs[i][0]})`,
  };
}

/** [old index, new index] pairs, by the index each counter has in its map. */
export interface CarriedPairs {
  rules: readonly (readonly [number, number])[];
  /** Rules whose limit's over-limit count is kept. */
  overLimit?: readonly (readonly [number, number])[];
  /** Dynamic sets, by their index in each program: each of a set's stats goes with it. */
  sets?: readonly (readonly [number, number])[];
}

/**
 * Writes old per-CPU counter values into the counter maps of `maps` (a
 * loaded program that is not attached yet): entry `from` of the snapshot
 * becomes entry `to`; every global counter is copied as it is.
 */
export async function seedCounters(maps: ReadonlyMap<string, MapRef>, snapshot: CounterSnapshot, pairs: CarriedPairs): Promise<void> {
  const globals = Object.values(COUNTER_INDEX).map((i) => [i, i] as const);
  const statPairs = (pairs.sets ?? []).flatMap(([from, to]) =>
    Array.from({ length: SET_STAT.nstats }, (_, k) => [from * SET_STAT.nstats + k, to * SET_STAT.nstats + k] as const),
  );
  const seeds = [
    { name: MAP.ruleCounters, old: snapshot.rules, pairs: pairs.rules, clip: false },
    // Whichever global counters both programs have: an older program may count fewer.
    { name: MAP.counters, old: snapshot.global, pairs: globals, clip: true },
    { name: MAP.limitCounters, old: snapshot.overLimit, pairs: pairs.overLimit ?? [], clip: false },
    { name: MAP.setStats, old: snapshot.setStats, pairs: statPairs, clip: false },
  ];
  for (const { name, old, pairs: wanted, clip } of seeds) {
    if (wanted.length === 0) continue;
    const map = maps.get(name);
    if (!map || !old) throw new Error(`carrying ${name}: the BPF object or the old program has no such map`);
    const inRange = clip ? wanted.filter(([from, to]) => from < old.entries && to < map.maxEntries) : wanted;
    for (const [from, to] of inRange) {
      if (from >= old.entries || to >= map.maxEntries) {
        throw new RangeError(`carrying ${name} ${from} → ${to}: out of range (${old.entries} → ${map.maxEntries})`);
      }
    }
    await writeEntries(map, entriesFrom(old, inRange, name));
  }
}

/**
 * Returns once every run of a program that was replaced before the call has
 * finished: XDP runs inside an RCU read-side section, and membarrier's
 * global command waits for a grace period. Where that is refused (nohz_full
 * kernels, unknown architectures) it waits `fallbackMs` instead, far longer
 * than an XDP run takes.
 */
export async function waitForOldRuns(fallbackMs = 50): Promise<'rcu' | 'sleep'> {
  if (bpf.membarrierGlobal() === 0) return 'rcu';
  await new Promise((resolve) => setTimeout(resolve, fallbackMs));
  return 'sleep';
}
