/**
 * The counters of rules' tails in the program an interface runs (found from
 * its pinned link, as live-maps.ts finds the rule counters): per rule, the
 * packets its limit found over the rate; per dynamic set of the interface,
 * the entries bans added, the bans refused because the set was full, and the
 * expired entries lookups deleted. Both maps belong to the program: a
 * reload starts them at zero, unless src/xdp/carry.ts seeds them.
 */

import { MAP, SET_STAT } from '../contract/kernel.js';
import { readPerCpuSums } from './limits.js';
import { openLiveCounterMaps } from './live-maps.js';
import type { PinOptions } from './pins.js';

export interface SetCounters {
  added: bigint;
  full: bigint;
  expired: bigint;
}

export interface TailCounters {
  progId: number;
  /** Rule index → packets its limit found over the rate (0 for a rule without one). */
  overLimit: bigint[];
  /** Dynamic-set index of the interface → its counters. */
  sets: SetCounters[];
}

/** Per-set counters from the sums of xdpfw_set_stats, entry by entry. */
export function setCountersOf(sums: readonly bigint[], nsets: number): SetCounters[] {
  return Array.from({ length: nsets }, (_, i) => ({
    added: sums[i * SET_STAT.nstats + SET_STAT.added] ?? 0n,
    full: sums[i * SET_STAT.nstats + SET_STAT.full] ?? 0n,
    expired: sums[i * SET_STAT.nstats + SET_STAT.expired] ?? 0n,
  }));
}

/** Tail counters of the program on `ifname`'s pinned link; null when xdpfw has no link there. */
export function readLiveTailCounters(ifname: string, sizes: { nrules: number; nsets: number }, o: PinOptions = {}): TailCounters | null {
  const live = openLiveCounterMaps(ifname, o);
  if (live === null) return null;
  try {
    const { progId, overLimit: limits, setStats: stats } = live;
    if (!limits || !stats) throw new Error(`program ${progId} on ${ifname} has no tail counters: not an xdpfw program`);
    const byName = new Map([
      [MAP.limitCounters, limits],
      [MAP.setStats, stats],
    ]);
    const overLimit = sizes.nrules > 0 ? readPerCpuSums(byName, MAP.limitCounters, Math.min(sizes.nrules, limits.maxEntries)) : [];
    const sums = readPerCpuSums(byName, MAP.setStats, Math.min(sizes.nsets * SET_STAT.nstats, stats.maxEntries));
    return { progId, overLimit, sets: setCountersOf(sums, sizes.nsets) };
  } finally {
    live.close();
  }
}
