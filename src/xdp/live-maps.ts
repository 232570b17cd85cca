/**
 * The counter maps of the program an interface runs, found from the kernel
 * side: the pinned link → the program it runs → that program's maps. Pins of
 * the maps themselves are only a convenience: a writer killed between its
 * link update and repinning the maps leaves them naming the replaced
 * program's maps, whose counters no longer move.
 */

import { MAP } from '../contract/kernel.js';
import { check } from './errors.js';
import * as bpf from './libbpf.js';
import { linkInfo } from './link.js';
import { mapRefFromFd } from './maps.js';
import type { MapRef } from './object.js';
import { openPinned, pinPaths, type PinOptions } from './pins.js';
import { INFO } from './uapi.js';

/** struct bpf_prog_info: nr_map_ids and the map_ids pointer (linux/bpf.h). */
const PROG_NR_MAP_IDS = 52;
const PROG_MAP_IDS = 56;
const MAX_MAPS = 64;
/** The kernel keeps BPF_OBJ_NAME_LEN - 1 characters of a map's name. */
const kernelName = (name: string): string => name.slice(0, 15);

export interface LiveCounterMaps {
  progId: number;
  rules: MapRef;
  global: MapRef;
  /** The tails' counters: per rule its over-limit packets, per dynamic set its stats (null in a program without them). */
  overLimit: MapRef | null;
  setStats: MapRef | null;
  close(): void;
}

/** The ids of the maps program `progFd` (id `progId`) uses. */
export function programMapIds(progFd: number, progId: number): number[] {
  const ids = Buffer.alloc(MAX_MAPS * 4);
  const info = Buffer.alloc(INFO.prog.size);
  info.writeUInt32LE(MAX_MAPS, PROG_NR_MAP_IDS);
  info.writeBigUInt64LE(bpf.addressOf(ids), PROG_MAP_IDS);
  check(bpf.objGetInfoByFd(progFd, info), `reading the maps of program ${progId}`);
  const count = Math.min(info.readUInt32LE(PROG_NR_MAP_IDS), MAX_MAPS);
  return Array.from({ length: count }, (_, i) => ids.readUInt32LE(i * 4));
}

/** The maps, by kernel name, of program `progId`; every fd not returned is closed. */
function programMaps(progId: number, wanted: readonly string[]): Map<string, MapRef> {
  const progFd = check(bpf.progGetFdById(progId), `opening program ${progId}`);
  const found = new Map<string, MapRef>();
  try {
    for (const id of programMapIds(progFd, progId)) {
      const fd = bpf.mapGetFdById(id);
      if (fd < 0) continue; // a map freed meanwhile is not one the program still uses
      const ref = mapRefFromFd(fd, `map ${id}`);
      if (wanted.includes(ref.name) && !found.has(ref.name)) found.set(ref.name, ref);
      else bpf.closeFd(fd);
    }
  } catch (error) {
    for (const ref of found.values()) bpf.closeFd(ref.fd);
    throw error;
  } finally {
    bpf.closeFd(progFd);
  }
  return found;
}

/** The id of the program the pinned link of `ifname` runs; null when xdpfw has no link there. */
export function liveProgramId(ifname: string, o: PinOptions = {}): number | null {
  const linkFd = openPinned(pinPaths(ifname, o).link, `link of ${ifname}`);
  if (linkFd === null) return null;
  try {
    return linkInfo(linkFd).progId;
  } finally {
    bpf.closeFd(linkFd);
  }
}

/**
 * Maps `wanted` (by their names in xdpfw.h) of the program the pinned link
 * of `ifname` runs, by kernel name; null when xdpfw has no link there.
 */
export function liveProgramMaps(
  ifname: string,
  wanted: readonly string[],
  o: PinOptions = {},
): { progId: number; maps: Map<string, MapRef>; names: string[] } | null {
  const progId = liveProgramId(ifname, o);
  if (progId === null) return null;
  const names = wanted.map(kernelName);
  return { progId, maps: programMaps(progId, names), names };
}

/** The counter maps of the program the pinned link of `ifname` runs; null when xdpfw has no link there. */
export function openLiveCounterMaps(ifname: string, o: PinOptions = {}): LiveCounterMaps | null {
  const live = liveProgramMaps(ifname, [MAP.ruleCounters, MAP.counters, MAP.limitCounters, MAP.setStats], o);
  if (live === null) return null;
  const { progId, maps, names } = live;
  const [rules, global, overLimit, setStats] = names.map((name) => maps.get(name));
  const close = () => {
    for (const ref of maps.values()) bpf.closeFd(ref.fd);
  };
  if (!rules || !global) {
    close();
    throw new Error(`program ${progId} on ${ifname} has no counter maps: not an xdpfw program`);
  }
  return { progId, rules, global, overLimit: overLimit ?? null, setStats: setStats ?? null, close };
}
