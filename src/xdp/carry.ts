/**
 * Counter carry-over across a program swap. Every program has its own per-CPU
 * counter maps, so a reload would reset every rule's counters; the caller
 * (src/app/enforce.ts) keeps them with three steps around `replace`:
 *
 *   1. snapshot the old maps (`PinnedCounters.snapshot`) and write the
 *      snapshot's per-CPU values into the new, not yet attached, program's
 *      maps at the rules' new indexes (`seedCounters`): nothing else writes
 *      there yet, so the copy is exact;
 *   2. swap the programs;
 *   3. wait until no old program run is in flight (`waitForOldRuns`) and
 *      snapshot the old maps again: the difference is what the old program
 *      counted between the copy and the swap, which the caller keeps as a
 *      base offset (it never writes into a map a running program updates).
 *
 * Which old index goes to which new index is the caller's business.
 */

import { COUNTER_INDEX, MAP, NCOUNTERS, STRUCT } from '../contract/kernel.js';
import { type CounterValue, decodePerCpuCounters } from './layout.js';
import * as bpf from './libbpf.js';
import { openLiveCounterMaps } from './live-maps.js';
import { readArrayValues, writeEntries } from './maps.js';
import type { MapRef } from './object.js';
import type { PinOptions } from './pins.js';

/** Raw per-CPU values of both counter maps, entry-major as bpf() returns them. */
export interface CounterSnapshot {
  ncpus: number;
  rules: Buffer;
  nrules: number;
  global: Buffer;
  nglobal: number;
}

/** Bytes of one entry of a per-CPU counter map as bpf() lays it out. */
const stride = (ncpus: number): number => Math.ceil(STRUCT.xdpfw_counter.size / 8) * 8 * ncpus;

export function snapshotMaps(rules: MapRef, global: MapRef, ncpus = bpf.numPossibleCpus()): CounterSnapshot {
  return {
    ncpus,
    rules: readArrayValues(rules, ncpus),
    nrules: rules.maxEntries,
    global: readArrayValues(global, ncpus),
    nglobal: Math.min(global.maxEntries, NCOUNTERS),
  };
}

/** Per-entry totals (summed over CPUs) of a snapshot. */
export function snapshotTotals(s: CounterSnapshot): { rules: CounterValue[]; global: CounterValue[] } {
  return {
    rules: decodePerCpuCounters(s.rules, s.nrules, s.ncpus),
    global: decodePerCpuCounters(s.global, s.nglobal, s.ncpus),
  };
}

/** The counter maps of the program attached to an interface, opened from their pins. */
export interface PinnedCounters {
  rules: MapRef;
  global: MapRef;
  snapshot(): CounterSnapshot;
  close(): void;
}

/** Opens an interface's pinned counter maps; null when either pin is missing. */
export function openPinnedCounters(ifname: string, o: PinOptions = {}): PinnedCounters | null {
  const live = openLiveCounterMaps(ifname, o);
  if (live === null) return null;
  return { rules: live.rules, global: live.global, snapshot: () => snapshotMaps(live.rules, live.global), close: live.close };
}

function entriesFrom(snapshot: Buffer, ncpus: number, pairs: readonly (readonly [number, number])[], what: string) {
  const size = stride(ncpus);
  const keys = Buffer.alloc(pairs.length * 4);
  const values = Buffer.alloc(pairs.length * size);
  pairs.forEach(([from, to], i) => {
    keys.writeUInt32LE(to, i * 4);
    snapshot.copy(values, i * size, from * size, (from + 1) * size);
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

/**
 * Writes old per-CPU counter values into the counter maps of `maps` (a
 * loaded program that is not attached yet): rule `from` of the snapshot
 * becomes rule `to`; every global counter is copied as it is.
 */
export async function seedCounters(
  maps: ReadonlyMap<string, MapRef>,
  snapshot: CounterSnapshot,
  rulePairs: readonly (readonly [number, number])[],
): Promise<void> {
  const rules = maps.get(MAP.ruleCounters);
  const global = maps.get(MAP.counters);
  if (!rules || !global) throw new Error('the BPF object has no counter maps');
  for (const [from, to] of rulePairs) {
    if (from >= snapshot.nrules || to >= rules.maxEntries) {
      throw new RangeError(`carrying rule counters ${from} → ${to}: out of range (${snapshot.nrules} → ${rules.maxEntries})`);
    }
  }
  if (rulePairs.length > 0) {
    await writeEntries(rules, entriesFrom(snapshot.rules, snapshot.ncpus, rulePairs, 'rule_counters'));
  }
  const globals = Object.values(COUNTER_INDEX)
    .filter((i) => i < snapshot.nglobal && i < global.maxEntries)
    .map((i) => [i, i] as const);
  await writeEntries(global, entriesFrom(snapshot.global, snapshot.ncpus, globals, 'counters'));
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
