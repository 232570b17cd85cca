/**
 * Dynamic sets' kernel objects (docs/DESIGN.md, "Rate limits and dynamic
 * sets"): one LPM trie per set, pinned at `<bpffs>/sets/<netns-id>/<NAME>`
 * and shared by every interface whose policy names the set, put into each
 * program's xdpfw_dynsets at the set's index; and the edits a user makes
 * to a live set (list, add, delete, flush), which the next packet sees.
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
const ENOSPC = 28;
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
const setPin = (set: string, o: PinOptions): string => path.join(setsDir(o), pinNameOf(set));

/** A new, unpinned trie for a set of `size` entries. */
export function createSetTrie(size: number): number {
  const fd = bpf.mapCreate(BPF_MAP_TYPE.LPM_TRIE, 'xdpfw_set', KEY.size, ENTRY.size, Math.max(1, size), BPF_F_NO_PREALLOC);
  return check(fd, `creating a dynamic set of ${size} entries`);
}

/**
 * The set's pinned trie, created and pinned when no policy of this
 * namespace had it; its declaration is recorded for `add`. A notice when
 * the kept trie has another size than the declaration asks for.
 */
export function openOrCreateSet(set: CompiledDynamicSet, o: PinOptions, notices: string[]): number {
  const pin = setPin(set.name, o);
  let fd = openPinned(pin, `dynamic set ${set.name}`);
  if (fd === null) {
    fd = createSetTrie(set.size);
    try {
      pinFd(fd, pin, `dynamic set ${set.name}`);
    } catch (err) {
      closeFd(fd);
      throw err;
    }
  } else {
    const size = mapInfo(fd, `dynamic set ${set.name}`).maxEntries;
    if (size !== set.size) {
      notices.push(
        `the dynamic set ${set.name} keeps its ${size} entries (the policy asks for ${set.size}): ` +
          'a set is sized when it is created, and it lives until the last interface using it is detached',
      );
    }
  }
  fs.mkdirSync(declarationsDir(o), { recursive: true });
  fs.writeFileSync(path.join(declarationsDir(o), `${pinNameOf(set.name)}.json`), JSON.stringify({ timeout: set.timeout }));
  return fd;
}

/**
 * Puts each set's trie into the program's xdpfw_dynsets at its index:
 * the pinned ones, or (`privateSets`, test runs) fresh tries nobody else sees.
 */
export function attachSets(
  maps: ReadonlyMap<string, MapRef>,
  sets: readonly CompiledDynamicSet[],
  options: { pins?: PinOptions; privateSets: boolean },
  notices: string[],
): void {
  const outer = maps.get(MAP.dynsets);
  if (!outer) throw new Error(`the BPF object has no map ${MAP.dynsets}`);
  sets.forEach((set, index) => {
    const fd = options.privateSets ? createSetTrie(set.size) : openOrCreateSet(set, options.pins ?? {}, notices);
    try {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(index);
      const value = Buffer.alloc(4);
      value.writeUInt32LE(fd);
      check(bpf.mapUpdateElem(outer.fd, key, value), `putting dynamic set ${set.name} in the program`);
    } finally {
      closeFd(fd);
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
    const fd = openPinned(path.join(dir, name), `dynamic set ${name}`);
    if (fd === null) continue;
    let used: boolean;
    try {
      used = inUse.has(mapInfo(fd, `dynamic set ${name}`).id);
    } finally {
      closeFd(fd);
    }
    if (used) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    fs.rmSync(path.join(declarationsDir(o), `${name}.json`), { force: true });
    removed.push(decodeURIComponent(name));
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

function openSet(set: string, o: PinOptions): number {
  const fd = openPinned(setPin(set, o), `dynamic set ${set}`);
  if (fd === null) {
    throw new DynamicSetError(
      'unknown-set',
      `no dynamic set ${set} in this network namespace`,
      'a set exists while an attached policy names it: see `xdpfw status`',
    );
  }
  return fd;
}

function withSet<T>(set: string, o: PinOptions, body: (fd: number) => T): T {
  const fd = openSet(set, o);
  try {
    return body(fd);
  } finally {
    closeFd(fd);
  }
}

interface Prefix {
  family: 4 | 6;
  bytes: number[];
  length: number;
}

const IPV4_PREFIX = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/;

/** Host bits cleared: the trie keys a prefix by its first `length` bits. */
const maskBytes = (bytes: number[], length: number): number[] =>
  bytes.map((b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, length - 8 * i)))) & 0xff));

function parsePrefix(text: string): Prefix {
  // IPv4 without ipaddr.js: a blocklist is mostly IPv4, and this is most of an add's time.
  const v4 = IPV4_PREFIX.exec(text);
  if (v4) {
    const bytes = v4.slice(1, 5).map(Number);
    const length = v4[5] === undefined ? 32 : Number(v4[5]);
    if (bytes.every((b) => b <= 255) && length <= 32) return { family: 4, bytes: maskBytes(bytes, length), length };
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

function writeKey(out: Buffer, at: number, p: Prefix): void {
  out.writeUInt32LE(8 + p.length, at + KEY.fields.prefixlen);
  out[at + KEY.fields.family] = p.family === 4 ? FAMILY.ipv4 : FAMILY.ipv6;
  Buffer.from(p.bytes).copy(out, at + KEY.fields.addr);
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

/** The set's live entries (expired ones are absent, whatever the trie keeps). */
export function listSet(set: string, o: PinOptions & { nowNs?: bigint } = {}): SetEntry[] {
  const now = o.nowNs ?? monotonicNs();
  return withSet(set, o, (fd) => {
    const entries: SetEntry[] = [];
    const value = Buffer.alloc(ENTRY.size);
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
 * (null: until deleted), in one batch update. How many were written.
 */
export function addToSet(
  set: string,
  prefixes: readonly string[],
  o: PinOptions & { seconds?: number | null; nowNs?: bigint } = {},
): number {
  const parsed = prefixes.map(parsePrefix);
  const seconds = o.seconds === undefined ? declaredTimeout(set, o) : o.seconds;
  const deadline = seconds === null ? NEVER : (o.nowNs ?? monotonicNs()) + BigInt(Math.round(seconds * 1e9));
  const keys = Buffer.alloc(KEY.size * parsed.length);
  const values = Buffer.alloc(ENTRY.size * parsed.length);
  parsed.forEach((p, i) => {
    writeKey(keys, i * KEY.size, p);
    values.writeBigUInt64LE(deadline, i * ENTRY.size + ENTRY.fields.deadline);
    values.writeUInt32LE(p.length, i * ENTRY.size + ENTRY.fields.prefix_len);
  });
  if (parsed.length === 0) return 0;
  return withSet(set, o, (fd) => {
    const count = Buffer.alloc(4);
    count.writeUInt32LE(parsed.length);
    const opts = Buffer.alloc(OPTS.mapBatch.size);
    opts.writeBigUInt64LE(BigInt(OPTS.mapBatch.size), 0);
    const r = bpf.mapUpdateBatch(fd, keys, values, count, opts);
    const done = count.readUInt32LE(0);
    if (r === -ENOSPC) {
      throw new DynamicSetError(
        'set-full',
        `dynamic set ${set} is full: ${done} of ${parsed.length} prefixes were added`,
        'delete entries, or give the set a larger size (it is sized when created)',
      );
    }
    if (r < 0) throw new KernelError(`adding to dynamic set ${set}`, -r);
    return done;
  });
}

/** Deletes prefixes (exactly those prefixes); how many were there. */
export function deleteFromSet(set: string, prefixes: readonly string[], o: PinOptions = {}): number {
  const parsed = prefixes.map(parsePrefix);
  return withSet(set, o, (fd) => {
    let deleted = 0;
    const key = Buffer.alloc(KEY.size);
    for (const p of parsed) {
      key.fill(0);
      writeKey(key, 0, p);
      const r = bpf.mapDeleteElem(fd, key);
      if (r === 0) deleted++;
      else if (r !== -ENOENT) throw new KernelError(`deleting from dynamic set ${set}`, -r);
    }
    return deleted;
  });
}

/** Empties the set; how many entries it held. */
export function flushSet(set: string, o: PinOptions = {}): number {
  return withSet(set, o, (fd) => {
    let deleted = 0;
    for (const key of keysOf(fd)) if (bpf.mapDeleteElem(fd, key) === 0) deleted++;
    return deleted;
  });
}

/** The entries the set's trie holds at most (fixed when it was created, whatever later policies declare). */
export function setCapacity(set: string, o: PinOptions = {}): number {
  return withSet(set, o, (fd) => mapInfo(fd, `dynamic set ${set}`).maxEntries);
}
