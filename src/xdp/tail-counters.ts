/**
 * The counters of rules' tails in the program an interface runs (found from
 * its pinned link, as live-maps.ts finds the rule counters): per rule, the
 * packets its limit found over the rate; per dynamic set of the interface,
 * the entries bans added, the bans refused because the set was full, and the
 * expired entries lookups deleted. Both maps belong to the program, so a
 * reload starts them at zero.
 */

import { MAP, SET_STAT } from '../contract/kernel.js';
import * as bpf from './libbpf.js';
import { readPerCpuSums } from './limits.js';
import { liveProgramMaps } from './live-maps.js';
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

/** Tail counters of the program on `ifname`'s pinned link; null when xdpfw has no link there. */
export function readLiveTailCounters(ifname: string, sizes: { nrules: number; nsets: number }, o: PinOptions = {}): TailCounters | null {
  const live = liveProgramMaps(ifname, [MAP.limitCounters, MAP.setStats], o);
  if (live === null) return null;
  const { progId, maps, names } = live;
  try {
    const limits = maps.get(names[0]);
    const stats = maps.get(names[1]);
    if (!limits || !stats) throw new Error(`program ${progId} on ${ifname} has no tail counters: not an xdpfw program`);
    const byName = new Map([
      [MAP.limitCounters, limits],
      [MAP.setStats, stats],
    ]);
    const overLimit = sizes.nrules > 0 ? readPerCpuSums(byName, MAP.limitCounters, Math.min(sizes.nrules, limits.maxEntries)) : [];
    const sums = readPerCpuSums(byName, MAP.setStats, Math.min(sizes.nsets * SET_STAT.nstats, stats.maxEntries));
    const sets = Array.from({ length: sizes.nsets }, (_, i) => ({
      added: sums[i * SET_STAT.nstats + SET_STAT.added] ?? 0n,
      full: sums[i * SET_STAT.nstats + SET_STAT.full] ?? 0n,
      expired: sums[i * SET_STAT.nstats + SET_STAT.expired] ?? 0n,
    }));
    return { progId, overLimit, sets };
  } finally {
    for (const ref of maps.values()) bpf.closeFd(ref.fd);
  }
}
