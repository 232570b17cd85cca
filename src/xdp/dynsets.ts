/**
 * Dynamic sets' kernel objects (docs/DESIGN.md, "Rate limits and dynamic
 * sets"): per set, a hash of its single addresses and an LPM trie of its
 * shorter prefixes, pinned at `<bpffs>/sets/<netns-id>/<NAME>/{hosts,prefixes}`
 * and shared by every interface whose policy names the set, put into each
 * program's xdpfw_dynset_hosts and xdpfw_dynsets at the set's index; and
 * the edits a user makes to a live set (list, add, delete, flush), which
 * the next packet sees.
 */

import fs from 'node:fs';
import path from 'node:path';

import ipaddr from 'ipaddr.js';

import type { CompiledDynamicSet } from '../compiler/output.js';
import { FAMILY, MAP, STRUCT } from '../contract/kernel.js';
import { KernelError, check } from './errors.js';
import * as bpf from './libbpf.js';
import { closeFd } from './libbpf.js';
import { mapInfo } from './limits.js';
import type { MapRef } from './object.js';
import { bpffsRoot, namespaceKey, openPinned, pinFd, stateRoot, type PinOptions } from './pins.js';
import { BPF_F_NO_PREALLOC, BPF_MAP_TYPE, OPTS } from './uapi.js';

const ENOENT = 2;
const E2BIG = 7; // a full hash
const ENOSPC = 28; // a full trie
const NEVER = 0xffff_ffff_ffff_ffffn;
const KEY = STRUCT.xdpfw_dynset_key;
const ENTRY = STRUCT.xdpfw_dynset_entry;

/** A set edit that cannot be done: no such set here, a prefix that is not one, or a full set. */
export class DynamicSetError extends Error {
  constructor(
    readonly code: 'unknown-set' | 'invalid-prefix' | 'set-full',
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'DynamicSetError';
  }
}

export const setsDir = (o: PinOptions = {}): string => path.join(bpffsRoot(o), 'sets', namespaceKey(o));
/** Where a set's declaration (its default timeout) is kept for `add` without a duration: bpffs holds no files. */
const declarationsDir = (o: PinOptions): string => path.join(stateRoot(o), namespaceKey(o), 'sets');

/** bpffs refuses names with a dot: percent-encode `%`, `.` and `/`. */
const pinNameOf = (set: string): string => set.replace(/[%./]/g, (ch) => `%${ch.charCodeAt(0).toString(16)}`);
/** The two maps of a set: the two halves of every lookup. */
export interface SetMaps {
  /** Single addresses (/32, /128): a hash, one exact lookup. */
  hosts: number;
  /** Shorter prefixes: an LPM trie. */
  prefixes: number;
}
const HALVES = ['hosts', 'prefixes'] as const;
const setDir = (set: string, o: PinOptions): string => path.join(setsDir(o), pinNameOf(set));

/** A new, unpinned pair of maps for a set of `size` entries (each half holds up to `size`). */
export function createSetMaps(size: number): SetMaps {
  const entries = Math.max(1, size);
  const hosts = check(
    bpf.mapCreate(BPF_MAP_TYPE.HASH, 'xdpfw_set_hosts', KEY.size, ENTRY.size, entries, BPF_F_NO_PREALLOC),
    `creating a dynamic set of ${size} addresses`,
  );
  const prefixes = bpf.mapCreate(BPF_MAP_TYPE.LPM_TRIE, 'xdpfw_set', KEY.size, ENTRY.size, entries, BPF_F_NO_PREALLOC);
  if (prefixes < 0) closeFd(hosts);
  return { hosts, prefixes: check(prefixes, `creating a dynamic set of ${size} prefixes`) };
}

export function closeSetMaps(maps: SetMaps): void {
  for (const half of HALVES) closeFd(maps[half]);
}

/** The set's pinned maps, or null when this namespace has no such set. */
function openPinnedSet(set: string, o: PinOptions): SetMaps | null {
  const dir = setDir(set, o);
  const hosts = openPinned(path.join(dir, 'hosts'), `dynamic set ${set}`);
  if (hosts === null) return null;
  const prefixes = openPinned(path.join(dir, 'prefixes'), `dynamic set ${set}`);
  if (prefixes === null) {
    closeFd(hosts);
    return null;
  }
  return { hosts, prefixes };
}

/**
 * The set's pinned maps, created and pinned when no policy of this
 * namespace had them; its declaration is recorded for `add`. A notice when
 * the kept set has another size than the declaration asks for.
 */
export function openOrCreateSet(set: CompiledDynamicSet, o: PinOptions, notices: string[]): SetMaps {
  let maps = openPinnedSet(set.name, o);
  if (maps === null) {
    maps = createSetMaps(set.size);
    try {
      // Prefixes last: a set is whole when its trie is pinned (openPinnedSet finds both or neither).
      for (const half of ['hosts', 'prefixes'] as const) {
        pinFd(maps[half], path.join(setDir(set.name, o), half), `dynamic set ${set.name}`);
      }
    } catch (err) {
      closeSetMaps(maps);
      throw err;
    }
  } else {
    const size = mapInfo(maps.prefixes, `dynamic set ${set.name}`).maxEntries;
    if (size !== set.size) {
      notices.push(
        `the dynamic set ${set.name} keeps its ${size} entries (the policy asks for ${set.size}): ` +
          'a set is sized when it is created, and it lives until the last interface using it is detached',
      );
    }
  }
  fs.mkdirSync(declarationsDir(o), { recursive: true });
  fs.writeFileSync(path.join(declarationsDir(o), `${pinNameOf(set.name)}.json`), JSON.stringify({ timeout: set.timeout }));
  return maps;
}

/**
 * Puts each set's maps into the program's xdpfw_dynset_hosts and
 * xdpfw_dynsets at its index: the pinned ones, or (`privateSets`, test
 * runs) fresh maps nobody else sees.
 */
export function attachSets(
  maps: ReadonlyMap<string, MapRef>,
  sets: readonly CompiledDynamicSet[],
  options: { pins?: PinOptions; privateSets: boolean },
  notices: string[],
): void {
  const outer = { hosts: maps.get(MAP.dynsetHosts), prefixes: maps.get(MAP.dynsets) };
  if (!outer.hosts || !outer.prefixes) throw new Error(`the BPF object has no map ${MAP.dynsets} or ${MAP.dynsetHosts}`);
  sets.forEach((set, index) => {
    const inner = options.privateSets ? createSetMaps(set.size) : openOrCreateSet(set, options.pins ?? {}, notices);
    try {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(index);
      for (const half of HALVES) {
        const value = Buffer.alloc(4);
        value.writeUInt32LE(inner[half]);
        check(bpf.mapUpdateElem(outer[half]!.fd, key, value), `putting dynamic set ${set.name} in the program`);
      }
    } finally {
      closeSetMaps(inner);
    }
  });
}

/** Removes the pinned sets no attached program uses (`inUse`: map ids, limits.ts tableIdsInUse). */
export function removeSetsIfUnused(inUse: ReadonlySet<number>, o: PinOptions = {}): string[] {
  const dir = setsDir(o);
  const removed: string[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const set = decodeURIComponent(name);
    const maps = openPinnedSet(set, o);
    let used = false;
    if (maps !== null) {
      try {
        used = HALVES.some((half) => inUse.has(mapInfo(maps[half], `dynamic set ${set}`).id));
      } finally {
        closeSetMaps(maps);
      }
    }
    if (used) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    fs.rmSync(path.join(declarationsDir(o), `${name}.json`), { force: true });
    removed.push(set);
  }
  for (const d of [dir, declarationsDir(o)]) {
    try {
      fs.rmdirSync(d); // once empty
    } catch {
      /* not empty, or gone */
    }
  }
  return removed;
}

/* ---- live edits ------------------------------------------------------------ */

function openSet(set: string, o: PinOptions): SetMaps {
  const maps = openPinnedSet(set, o);
  if (maps === null) {
    throw new DynamicSetError(
      'unknown-set',
      `no dynamic set ${set} in this network namespace`,
      'a set exists while an attached policy names it: see `xdpfw status`',
    );
  }
  return maps;
}

function withSet<T>(set: string, o: PinOptions, body: (maps: SetMaps) => T): T {
  const maps = openSet(set, o);
  try {
    return body(maps);
  } finally {
    closeSetMaps(maps);
  }
}

/** The half of the set that keeps a prefix of this length. */
const halfOf = (p: Prefix): (typeof HALVES)[number] => (p.length === (p.family === 4 ? 32 : 128) ? 'hosts' : 'prefixes');

interface Prefix {
  family: 4 | 6;
  bytes: number[];
  length: number;
}

const IPV4_PREFIX = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;

/** Host bits cleared: the trie keys a prefix by its first `length` bits. */
function maskBytes(bytes: number[], length: number): number[] {
  if (length === 8 * bytes.length) return bytes; // a whole address: nothing to clear, nothing to copy
  return bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, length - 8 * i)))) & 0xff));
}

function parsePrefix(text: string): Prefix {
  // IPv4 without ipaddr.js: a blocklist is mostly IPv4, and this is most of an add's time.
  const v4 = IPV4_PREFIX.exec(text);
  if (v4) {
    const bytes = [Number(v4[1]), Number(v4[2]), Number(v4[3]), Number(v4[4])];
    const length = v4[5] === undefined ? 32 : Number(v4[5]);
    if (bytes[0] <= 255 && bytes[1] <= 255 && bytes[2] <= 255 && bytes[3] <= 255 && length <= 32) {
      return { family: 4, bytes: maskBytes(bytes, length), length };
    }
  }
  try {
    const [addr, length] = text.includes('/') ? ipaddr.parseCIDR(text) : [ipaddr.parse(text), -1];
    const family = addr.kind() === 'ipv4' ? 4 : 6;
    const bits = family === 4 ? 32 : 128;
    const len = length < 0 ? bits : length;
    return { family, bytes: maskBytes(addr.toByteArray(), len), length: len };
  } catch {
    throw new DynamicSetError(
      'invalid-prefix',
      `${JSON.stringify(text)} is not an IP address or prefix`,
      'write 192.0.2.1, 192.0.2.0/24 or 2001:db8::/64',
    );
  }
}

/* Byte by byte into the batch's buffer: ten thousand keys, no Buffer each. */
function writeKey(out: Buffer, at: number, p: Prefix): void {
  out.writeUInt32LE(8 + p.length, at + KEY.fields.prefixlen);
  out[at + KEY.fields.family] = p.family === 4 ? FAMILY.ipv4 : FAMILY.ipv6;
  for (let i = 0; i < p.bytes.length; i++) out[at + KEY.fields.addr + i] = p.bytes[i];
}

/** CLOCK_MONOTONIC in ns, the programs' clock (bpf_ktime_get_ns). */
const monotonicNs = (): bigint => process.hrtime.bigint();

export interface SetEntry {
  prefix: string;
  /** Null: until deleted. */
  secondsLeft: number | null;
  /** The rule that banned it (its limit id), 0 when a user added it. */
  origin: number;
}

/** The set's live entries (expired ones are absent, whatever the maps keep). */
export function listSet(set: string, o: PinOptions & { nowNs?: bigint } = {}): SetEntry[] {
  const now = o.nowNs ?? monotonicNs();
  return withSet(set, o, (maps) => {
    const entries: SetEntry[] = [];
    const value = Buffer.alloc(ENTRY.size);
    for (const fd of [maps.hosts, maps.prefixes])
      for (const key of keysOf(fd)) {
        if (bpf.mapLookupElem(fd, key, value) !== 0) continue; // deleted meanwhile
        const deadline = value.readBigUInt64LE(ENTRY.fields.deadline);
        if (deadline <= now) continue;
        const family = key[KEY.fields.family] === FAMILY.ipv4 ? 4 : 6;
        const length = key.readUInt32LE(KEY.fields.prefixlen) - 8;
        const bytes = [...key.subarray(KEY.fields.addr, KEY.fields.addr + (family === 4 ? 4 : 16))];
        entries.push({
          prefix: `${ipaddr.fromByteArray(bytes).toString()}/${length}`,
          secondsLeft: deadline === NEVER ? null : Number(deadline - now) / 1e9,
          origin: value.readUInt32LE(ENTRY.fields.origin),
        });
      }
    return entries;
  });
}

function keysOf(fd: number): Buffer[] {
  const keys: Buffer[] = [];
  let previous: Buffer | null = null;
  for (;;) {
    const next = Buffer.alloc(KEY.size);
    if (bpf.mapGetNextKey(fd, previous, next) !== 0) break;
    keys.push(next);
    previous = next;
  }
  return keys;
}

/** The set's default timeout as its policy declares it (null: none). */
function declaredTimeout(set: string, o: PinOptions): number | null {
  try {
    const text = fs.readFileSync(path.join(declarationsDir(o), `${pinNameOf(set)}.json`), 'utf8');
    const { timeout } = JSON.parse(text) as { timeout: number | null };
    return timeout;
  } catch {
    return null;
  }
}

/**
 * Adds (or renews) prefixes, for `seconds` or the set's declared timeout
 * (null: until deleted), in one batch update per half of the set. How
 * many were written.
 */
export function addToSet(
  set: string,
  prefixes: readonly string[],
  o: PinOptions & { seconds?: number | null; nowNs?: bigint } = {},
): number {
  const parsed = prefixes.map(parsePrefix);
  const seconds = o.seconds === undefined ? declaredTimeout(set, o) : o.seconds;
  const deadline = seconds === null ? NEVER : (o.nowNs ?? monotonicNs()) + BigInt(Math.round(seconds * 1e9));
  if (parsed.length === 0) return 0;
  return withSet(set, o, (maps) => {
    let done = 0;
    for (const half of HALVES) {
      const mine = parsed.filter((p) => halfOf(p) === half);
      if (mine.length > 0) done += updateBatch(set, maps[half], mine, deadline, { done, of: parsed.length });
    }
    return done;
  });
}

function updateBatch(set: string, fd: number, parsed: readonly Prefix[], deadline: bigint, progress: { done: number; of: number }): number {
  const keys = Buffer.alloc(KEY.size * parsed.length);
  const values = Buffer.alloc(ENTRY.size * parsed.length);
  // The deadline as two words, once: a bigint written per entry took ~15 ms of an add of 10,000.
  const [low, high] = [Number(deadline & 0xffff_ffffn), Number(deadline >> 32n)];
  parsed.forEach((p, i) => {
    writeKey(keys, i * KEY.size, p);
    values.writeUInt32LE(low, i * ENTRY.size + ENTRY.fields.deadline);
    values.writeUInt32LE(high, i * ENTRY.size + ENTRY.fields.deadline + 4);
    values.writeUInt32LE(p.length, i * ENTRY.size + ENTRY.fields.prefix_len);
  });
  const count = Buffer.alloc(4);
  count.writeUInt32LE(parsed.length);
  const opts = Buffer.alloc(OPTS.mapBatch.size);
  opts.writeBigUInt64LE(BigInt(OPTS.mapBatch.size), 0);
  const r = bpf.mapUpdateBatch(fd, keys, values, count, opts);
  const done = count.readUInt32LE(0);
  if (r === -ENOSPC || r === -E2BIG) {
    throw new DynamicSetError(
      'set-full',
      `dynamic set ${set} is full: ${progress.done + done} of ${progress.of} prefixes were added`,
      'delete entries, or give the set a larger size (it is sized when created)',
    );
  }
  if (r < 0) throw new KernelError(`adding to dynamic set ${set}`, -r);
  return done;
}

/** Deletes prefixes (exactly those prefixes); how many were there. */
export function deleteFromSet(set: string, prefixes: readonly string[], o: PinOptions = {}): number {
  const parsed = prefixes.map(parsePrefix);
  return withSet(set, o, (maps) => {
    let deleted = 0;
    const key = Buffer.alloc(KEY.size);
    for (const p of parsed) {
      key.fill(0);
      writeKey(key, 0, p);
      const r = bpf.mapDeleteElem(maps[halfOf(p)], key);
      if (r === 0) deleted++;
      else if (r !== -ENOENT) throw new KernelError(`deleting from dynamic set ${set}`, -r);
    }
    return deleted;
  });
}

/** Empties the set; how many entries it held. */
export function flushSet(set: string, o: PinOptions = {}): number {
  return withSet(set, o, (maps) => {
    let deleted = 0;
    for (const half of HALVES) for (const key of keysOf(maps[half])) if (bpf.mapDeleteElem(maps[half], key) === 0) deleted++;
    return deleted;
  });
}

/**
 * The entries each half of the set holds at most: addresses, and shorter
 * prefixes (fixed when it was created, whatever later policies declare).
 */
export function setCapacity(set: string, o: PinOptions = {}): number {
  return withSet(set, o, (maps) => mapInfo(maps.prefixes, `dynamic set ${set}`).maxEntries);
}
