/**
 * Rate limits' kernel objects (docs/DESIGN.md, "Rate limits and dynamic
 * sets"): the host's meter table, pinned once at
 * `<bpffs>/limits/<netns-id>/buckets` and handed to every program whose
 * policy has a `limit` (never copied or emptied by a reload), and the rules'
 * tails as xdpfw_tails holds them. Which tables the attached programs still
 * use is read from the kernel (link → program → maps), so the last detach
 * removes them.
 */

import fs from 'node:fs';
import path from 'node:path';

import type { CompiledInterface, LimitSettings, RuleTail } from '../compiler/output.js';
import {
  MAP,
  MAX_DYNSETS,
  MAX_TAIL_RULES,
  STRUCT,
  TAIL_AUDIT,
  TAIL_BAN,
  TAIL_DST_NOT,
  TAIL_DST_SET,
  TAIL_LIMIT,
  TAIL_OVER,
  TAIL_PER_DST,
  TAIL_PER_SRC,
  TAIL_SRC_NOT,
  TAIL_SRC_SET,
} from '../contract/kernel.js';
import { check } from './errors.js';
import * as bpf from './libbpf.js';
import { closeFd } from './libbpf.js';
import { linkInfo } from './link.js';
import { programMapIds } from './live-maps.js';
import { mapRefFromFd } from './maps.js';
import type { MapRef } from './object.js';
import { bpffsRoot, namespaceKey, openPinned, pinFd, pinPaths, pinnedInterfaces, type PinOptions } from './pins.js';
import { INFO } from './uapi.js';

export const limitsDir = (o: PinOptions = {}): string => path.join(bpffsRoot(o), 'limits', namespaceKey(o));
const METERS_PIN = 'buckets';

/** The namespace's pinned meter table, opened (the caller closes it); null when no policy here has a limit. */
export function openMeterTable(o: PinOptions = {}): number | null {
  return openPinned(path.join(limitsDir(o), METERS_PIN), 'the meter table');
}

export function mapInfo(fd: number, what: string): { id: number; maxEntries: number } {
  const info = Buffer.alloc(INFO.map.size);
  check(bpf.objGetInfoByFd(fd, info), `reading ${what}`);
  return { id: info.readUInt32LE(INFO.map.id), maxEntries: info.readUInt32LE(INFO.map.maxEntries) };
}

/** What to tell the user when the pinned meter table has another size than `s` asks for. */
export function meterSizeNotice(fd: number, s: LimitSettings): string | null {
  const size = mapInfo(fd, 'the meter table').maxEntries;
  if (size === s.size) return null;
  return (
    `the meter table keeps its ${size} buckets (the policy asks for ${s.size}): ` +
    'a table is sized when it is created, and it lives until the last interface using limit is detached'
  );
}

/** Pins the meter table a load created, so that later programs share it. */
export function pinMeterTable(maps: ReadonlyMap<string, MapRef>, o: PinOptions = {}): void {
  const file = path.join(limitsDir(o), METERS_PIN);
  const map = maps.get(MAP.meters);
  if (!map) throw new Error(`the BPF object has no map ${MAP.meters}`);
  if (!fs.existsSync(file)) pinFd(map.fd, file, 'the meter table');
}

const NS_PER_SECOND = 1_000_000_000n;

/** struct xdpfw_tail of one rule (all zero for none). */
function encodeTail(tail: RuleTail | null): Buffer {
  const f = STRUCT.xdpfw_tail.fields;
  const out = Buffer.alloc(STRUCT.xdpfw_tail.size);
  if (!tail) return out;
  let flags = 0;
  const setIndex = (set: number) => {
    if (!Number.isInteger(set) || set < 0 || set >= MAX_DYNSETS)
      throw new RangeError(`dynamic set index ${set} is outside 0..${MAX_DYNSETS - 1}`);
    return set;
  };
  if (tail.srcSet) {
    flags |= TAIL_SRC_SET | (tail.srcSet.negated ? TAIL_SRC_NOT : 0);
    out[f.src_set] = setIndex(tail.srcSet.set);
  }
  if (tail.dstSet) {
    flags |= TAIL_DST_SET | (tail.dstSet.negated ? TAIL_DST_NOT : 0);
    out[f.dst_set] = setIndex(tail.dstSet.set);
  }
  const limit = tail.limit;
  if (limit) {
    flags |= TAIL_LIMIT | (limit.over ? TAIL_OVER : 0);
    out.writeUInt32LE(limit.id >>> 0, f.limit_id);
    out.writeBigUInt64LE(limit.costNs, f.cost_ns);
    out.writeBigUInt64LE(limit.capacityNs, f.capacity_ns);
    if (limit.per) {
      flags |= limit.per.field === 'src' ? TAIL_PER_SRC : TAIL_PER_DST;
      out[f.per_len4] = limit.per.length4;
      out[f.per_len6] = limit.per.length6;
    }
  }
  if (tail.ban) {
    flags |= TAIL_BAN;
    out[f.ban_set] = setIndex(tail.ban.set);
    out.writeBigUInt64LE(BigInt(tail.ban.seconds) * NS_PER_SECOND, f.ban_ns);
  }
  if (tail.audit) flags |= TAIL_AUDIT;
  out.writeUInt32LE((tail.ban?.origin ?? 0) >>> 0, f.origin);
  out.writeUInt32LE(flags, f.flags);
  return out;
}

/** The interface has a rule with a tail: its program is loaded with cfg_tails. */
export const hasTails = (compiled: CompiledInterface): boolean => compiled.tails.some((t) => t !== null);

/** Refuses what the program cannot run: too many tails, or tails on the linear path. */
export function checkTails(compiled: CompiledInterface): void {
  const n = compiled.tails.filter((t) => t !== null).length;
  if (n > MAX_TAIL_RULES) throw new RangeError(`${n} rules of ${compiled.name} have a tail; the program takes at most ${MAX_TAIL_RULES}`);
  if (n > 0 && compiled.constants.linear) throw new Error(`${compiled.name}: a policy whose rules have tails cannot take the linear path`);
  if (compiled.dynamicSets.length > MAX_DYNSETS)
    throw new RangeError(`${compiled.name} names ${compiled.dynamicSets.length} dynamic sets; at most ${MAX_DYNSETS}`);
}

/** Writes xdpfw_tails. */
export function writeTails(tailsFd: number, compiled: CompiledInterface): void {
  compiled.tails.forEach((tail, index) => {
    if (!tail) return;
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    check(bpf.mapUpdateElem(tailsFd, key, encodeTail(tail)), `writing the tail of rule ${index}`);
  });
}

/* ---- which tables the attached programs use ------------------------------ */

/** The arrays of maps that hold the sets' halves, by their kernel names (15 characters). */
const SET_OUTER_MAPS = [MAP.dynsets, MAP.dynsetHosts].map((name) => name.slice(0, 15));

/**
 * Ids of the meter tables and dynamic sets that the programs on this
 * namespace's pinned links use (a set through the program's xdpfw_dynsets and xdpfw_dynset_hosts).
 */
export function tableIdsInUse(o: PinOptions = {}): Set<number> {
  const ids = new Set<number>();
  for (const ifname of pinnedInterfaces(o)) {
    const link = openPinned(pinPaths(ifname, o).link, `link of ${ifname}`);
    if (link === null) continue;
    let progId: number;
    try {
      progId = linkInfo(link).progId;
    } finally {
      closeFd(link);
    }
    const progFd = bpf.progGetFdById(progId);
    if (progFd < 0) continue;
    try {
      for (const id of programMapIds(progFd, progId)) {
        ids.add(id);
        const fd = bpf.mapGetFdById(id);
        if (fd < 0) continue;
        try {
          const name = mapRefFromFd(fd, `map ${id}`).name;
          if (SET_OUTER_MAPS.includes(name)) for (const inner of innerMapIds(fd)) ids.add(inner);
        } finally {
          closeFd(fd);
        }
      }
    } finally {
      closeFd(progFd);
    }
  }
  return ids;
}

/** The ids of the maps an array of maps holds (user space reads an inner map as its id). */
function innerMapIds(outerFd: number): number[] {
  const out: number[] = [];
  const key = Buffer.alloc(4);
  const value = Buffer.alloc(4);
  for (let i = 0; i < MAX_DYNSETS; i++) {
    key.writeUInt32LE(i);
    if (bpf.mapLookupElem(outerFd, key, value) === 0) out.push(value.readUInt32LE(0));
  }
  return out;
}

/** Removes the meter table once no attached program uses it. */
export function removeMeterTableIfUnused(o: PinOptions = {}, inUse = tableIdsInUse(o)): boolean {
  const fd = openMeterTable(o);
  if (fd === null) return false;
  let used: boolean;
  try {
    used = inUse.has(mapInfo(fd, 'the meter table').id);
  } finally {
    closeFd(fd);
  }
  if (used) return false;
  fs.rmSync(limitsDir(o), { recursive: true, force: true });
  return true;
}

/** The first `n` values of a per-CPU __u64 array of the program, each summed over the CPUs. */
export function readPerCpuSums(maps: ReadonlyMap<string, MapRef>, name: string, n: number): bigint[] {
  const map = maps.get(name);
  if (!map) throw new Error(`the BPF object has no map ${name}`);
  const cpus = bpf.numPossibleCpus();
  const values = Buffer.alloc(8 * cpus);
  const key = Buffer.alloc(4);
  const sums: bigint[] = [];
  for (let i = 0; i < n; i++) {
    key.writeUInt32LE(i);
    check(bpf.mapLookupElem(map.fd, key, values), `reading ${name}`);
    let sum = 0n;
    for (let c = 0; c < cpus; c++) sum += values.readBigUInt64LE(8 * c);
    sums.push(sum);
  }
  return sums;
}
