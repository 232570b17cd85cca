/**
 * The kernel side of xdpfw in five verbs: load a compiled policy into a new
 * program, attach it to an interface, replace the program of an attached
 * interface atomically, detach, and read counters; plus test runs.
 * Everything here is synchronous syscalls except map filling, which yields
 * to the event loop between batches.
 */

import type { CompiledInterface, LinearRule } from '../compiler/output.js';
import { AttachmentError, check } from './errors.js';
import * as bpf from './libbpf.js';
import { closeFd } from './libbpf.js';
import { MAP } from '../contract/kernel.js';
import { rodataValues } from './layout.js';
import {
  attachXdp,
  detachLink,
  linkGone,
  linkInfo,
  progInfo,
  queryXdp,
  replaceLinkProgram,
  swapLost,
  type AttachMode,
  type AttachedMode,
  type LinkInfo,
  type XdpQuery,
} from './link.js';
import { fillMaps, mapSizes, readCounters as readCounterMaps, type Counters, type FillOptions, type FillReport } from './maps.js';
import { fastPathInsns } from './fast-path.js';
import { takesFastPath } from '../compiler/passes/fast-path-plan.js';
import { defaultObjectPath, loadObject, loadXdpInsns, type LoadedObject, type MapRef } from './object.js';
import { foreignXdp, foreignXdpError, type ForeignXdp } from './foreign.js';
import { ensureBpffs, openPinned, pinFd, pinPaths, removeInterfacePins, type PinOptions } from './pins.js';
import { TestRunner } from './test-run.js';
import { openLiveCounterMaps } from './live-maps.js';
import { requireKernelFeatures } from './features.js';
import {
  attachEgress,
  conntrackSizes,
  detachEgress,
  keptSizeNotice,
  openConntrackTables,
  pinConntrackTables,
  removeConntrackTablesIfUnused,
  writeConntrackConfig,
  type ConntrackSettings,
} from './conntrack.js';
import {
  checkTails,
  hasTails,
  meterSizeNotice,
  openMeterTable,
  pinMeterTable,
  removeMeterTableIfUnused,
  tableIdsInUse,
  writeTails,
} from './limits.js';
import { attachSets, removeSetsIfUnused } from './dynsets.js';
import { METERS_DEFAULT_SIZE } from '../contract/kernel.js';

export interface LoadOptions extends FillOptions {
  /** Default: bpf/xdpfw.bpf.o of this package. */
  objectPath?: string;
  /** Existing maps to share with the new program, by map name (e.g. pinned global counters). */
  reuseMapFds?: Record<string, number>;
  /**
   * Put the fast path (fast-path.ts) in front of the program when the
   * policy takes the linear path. Default true; false loads the C program
   * alone, which the tests compare against it.
   */
  fastPath?: boolean;
  /** Where the namespace's connection-tracking tables are pinned. */
  pins?: PinOptions;
  /**
   * For `xdpfw test`: the program takes each packet's connection state from
   * the caller (PolicyJudge.judge) instead of the tables, and touches no
   * table of the namespace.
   */
  ctGiven?: boolean;
  /**
   * The program reads "now" from xdpfw_now_given instead of the clock
   * (cfg_now_given), so tests drive buckets and bans with exact times.
   */
  nowGiven?: boolean;
  /**
   * The meter table and dynamic sets are fresh and unpinned, the
   * namespace's left alone (test programs; implied by ctGiven).
   */
  privateTables?: boolean;
}

/**
 * The object's program with the fast path (fast-path.ts) in front,
 * loaded: its fd. The new program shares the object's maps; the object's
 * own program stays loaded until the object closes.
 */
function loadWithFastPath(loaded: LoadedObject, rules: readonly LinearRule[], defaultAction: number): number {
  const fd = (name: string) => mapNamed(loaded.maps, name).fd;
  const prefix = fastPathInsns(rules, defaultAction, {
    ruleCounters: fd(MAP.ruleCounters),
    counters: fd(MAP.counters),
    traceCfg: fd(MAP.traceCfg),
  });
  return loadXdpInsns(loaded.programName, Buffer.concat([prefix, loaded.insns]));
}

export interface LoadedProgram {
  progFd: number;
  progId: number;
  /** Connection tracking's egress recorder, for a policy that uses `ct`. */
  egressProgFd?: number;
  /** What the user should know about the load (e.g. a connection table kept at another size). */
  notices: string[];
  programName: string;
  objectPath: string;
  maps: ReadonlyMap<string, MapRef>;
  fill: FillReport;
  /** Releases the program and maps; an attached link and pins keep them alive. */
  close(): void;
}

/** Loads the XDP program with `compiled`'s constants and fills its maps. */
export async function loadPolicyProgram(compiled: CompiledInterface, options: LoadOptions = {}): Promise<LoadedProgram> {
  requireKernelFeatures();
  const objectPath = options.objectPath ?? defaultObjectPath();
  const conntrack = compiled.constants.ct && !options.ctGiven ? compiled.conntrack : null;
  if (compiled.constants.ct && !options.ctGiven && !conntrack) throw new Error('a policy that uses ct state needs its conntrack settings');
  const notices: string[] = [];
  checkTails(compiled);
  const tails = hasTails(compiled);
  const privateTables = options.privateTables === true || options.ctGiven === true;
  const rodata = {
    ...rodataValues(compiled.constants),
    cfg_ct_given: options.ctGiven ? 1 : 0,
    cfg_tails: tails ? 1 : 0,
    cfg_now_given: options.nowGiven ? 1 : 0,
  };
  const meters = tails && compiled.limits && !privateTables ? openSharedMeters(compiled, options, notices) : null;
  const sized = { ...mapSizes(compiled), ...tailMapSizes(compiled) };
  let loaded: LoadedObject;
  try {
    const withMeters = meters === null ? options : { ...options, reuseMapFds: { ...options.reuseMapFds, [MAP.meters]: meters } };
    loaded = conntrack
      ? loadWithConntrack(objectPath, compiled, conntrack, withMeters, notices, rodata, sized)
      : loadObject(objectPath, { rodata, maxEntries: sized, reuseMapFds: withMeters.reuseMapFds });
  } finally {
    if (meters !== null) closeFd(meters);
  }
  let fastFd = -1;
  const close = () => {
    if (fastFd >= 0) closeFd(fastFd);
    fastFd = -1;
    loaded.close();
  };
  try {
    const linear = compiled.constants.linear;
    // `mode audit` passes what the rules drop, at the C program's exit only.
    if (linear && takesFastPath(linear) && !compiled.constants.auditMode && options.fastPath !== false)
      fastFd = loadWithFastPath(loaded, linear, compiled.constants.defaultAction);
    const progFd = fastFd >= 0 ? fastFd : loaded.progFd;
    const fill = await fillMaps(loaded.maps, compiled, options);
    if (tails) {
      writeTails(mapNamed(loaded.maps, MAP.tails).fd, compiled);
      if (compiled.limits && !privateTables) pinMeterTable(loaded.maps, options.pins);
      attachSets(loaded.maps, compiled.dynamicSets, { pins: options.pins, privateSets: privateTables }, notices);
    }
    return {
      progFd,
      progId: progInfo(progFd).id,
      egressProgFd: loaded.egressProgFd,
      notices,
      programName: loaded.programName,
      objectPath,
      maps: loaded.maps,
      fill,
      close,
    };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * Loads a policy that uses `ct` with the namespace's pinned tables (pinning
 * them when this is the first such policy) and its timeouts written.
 */
function loadWithConntrack(
  objectPath: string,
  compiled: CompiledInterface,
  settings: ConntrackSettings,
  options: LoadOptions,
  notices: string[],
  rodata: Record<string, number | readonly number[]>,
  sizes: Record<string, number>,
): LoadedObject {
  ensureBpffs(options.pins);
  const tables = openConntrackTables(options.pins);
  let loaded: LoadedObject;
  try {
    const kept = keptSizeNotice(tables, settings);
    if (kept) notices.push(kept);
    loaded = loadObject(objectPath, {
      rodata,
      maxEntries: { ...sizes, ...conntrackSizes(settings) },
      reuseMapFds: { ...options.reuseMapFds, ...Object.fromEntries(tables) },
      egress: true,
    });
  } finally {
    for (const fd of tables.values()) closeFd(fd);
  }
  try {
    pinConntrackTables(loaded.maps, options.pins);
    writeConntrackConfig(mapNamed(loaded.maps, MAP.ctConfig).fd, settings);
  } catch (err) {
    loaded.close();
    throw err;
  }
  return loaded;
}

/** The namespace's meter table, opened for reuse (the caller closes it); null when none is pinned yet. */
function openSharedMeters(compiled: CompiledInterface, options: LoadOptions, notices: string[]): number | null {
  ensureBpffs(options.pins);
  const fd = openMeterTable(options.pins);
  if (fd === null || !compiled.limits) return fd;
  const kept = meterSizeNotice(fd, compiled.limits);
  if (kept) notices.push(kept);
  return fd;
}

/** max_entries of the tail maps: one entry per rule, and the meter table a load creates. */
function tailMapSizes(compiled: CompiledInterface): Record<string, number> {
  if (!hasTails(compiled)) return {};
  const rules = Math.max(1, compiled.constants.nrules);
  return {
    [MAP.tails]: rules,
    [MAP.limitCounters]: rules,
    [MAP.meters]: compiled.limits?.size ?? METERS_DEFAULT_SIZE,
  };
}

/** Removes the namespace's meter table and dynamic sets that no attached program uses any more. */
function removeTailTablesIfUnused(o: PinOptions): void {
  const inUse = tableIdsInUse(o);
  removeMeterTableIfUnused(o, inUse);
  removeSetsIfUnused(inUse, o);
}

export interface AttachResult {
  ifname: string;
  ifindex: number;
  mode: AttachedMode;
  nativeError?: string;
  linkId: number;
  progId: number;
  pinDir: string;
}

const ENOENT = 2;

const notAttached = (ifname: string): AttachmentError =>
  new AttachmentError('not-attached', `xdpfw is not attached to ${ifname}`, `attach a policy with 'xdpfw apply FILE --iface ${ifname}'`);

function mapNamed(maps: ReadonlyMap<string, MapRef>, name: string): MapRef {
  const map = maps.get(name);
  if (!map) throw new Error(`the BPF object has no map ${name}`);
  return map;
}

function pinMaps(loaded: LoadedProgram, paths: ReturnType<typeof pinPaths>): void {
  for (const [name, file] of [
    [MAP.ruleCounters, paths.ruleCounters],
    [MAP.counters, paths.counters],
  ] as const) {
    pinFd(mapNamed(loaded.maps, name).fd, file, `map ${name}`);
  }
}

/** Closes `fd` after `body`, whatever happens. */
function withFd<T>(fd: number, body: (fd: number) => T): T {
  try {
    return body(fd);
  } finally {
    closeFd(fd);
  }
}

/**
 * Attaches a loaded program to `ifname` with a new link and pins the link and
 * the counter maps, so the program stays attached after this process exits.
 * Refuses when xdpfw is already attached there: use `replace`.
 */
export function attach(loaded: LoadedProgram, ifname: string, mode: AttachMode, o: PinOptions = {}): AttachResult {
  ensureBpffs(o);
  const paths = pinPaths(ifname, o);
  const existing = openPinned(paths.link, `link of ${ifname}`);
  if (existing !== null) {
    const live = withFd(existing, (fd) => linkInfo(fd).ifindex !== 0);
    // The caller looked and found no live link: another writer attached meanwhile.
    if (live) throw swapLost(ifname, ' (it attached xdpfw first)');
    removeInterfacePins(ifname, o); // a link whose interface went away
  }
  const a = attachOrNameHolder(loaded.progFd, ifname, mode);
  return withFd(a.linkFd, (linkFd) => {
    try {
      pinFd(linkFd, paths.link, `the XDP link of ${ifname}`);
      pinMaps(loaded, paths);
      if (loaded.egressProgFd !== undefined) attachEgress(loaded.egressProgFd, ifname, o);
    } catch (err) {
      removeInterfacePins(ifname, o); // closing the last fd then detaches the link
      throw err;
    }
    const info = linkInfo(linkFd);
    const result: AttachResult = {
      ifname,
      ifindex: a.ifindex,
      mode: a.mode,
      linkId: info.linkId,
      progId: info.progId,
      pinDir: paths.dir,
    };
    if (a.nativeError) result.nativeError = a.nativeError;
    return result;
  });
}

/** attachXdp, with a hook another tool holds named: which program, its mode, and what keeps it there. */
function attachOrNameHolder(progFd: number, ifname: string, mode: AttachMode): ReturnType<typeof attachXdp> {
  try {
    return attachXdp(progFd, ifname, mode);
  } catch (error) {
    if (!(error instanceof AttachmentError && error.code === 'foreign-xdp')) throw error;
    let holders: ForeignXdp[] = [];
    try {
      holders = foreignXdp(ifname, undefined);
    } catch {
      /* the interface went away too: the general message stays */
    }
    throw holders.length > 0 ? foreignXdpError(ifname, holders) : error;
  }
}

/**
 * The programs of other tools that keep xdpfw from attaching to `ifname`
 * (see foreign.ts): none while xdpfw's own link holds the hook, and never
 * an offloaded one, which runs beside a native or generic program.
 */
export function blockingPrograms(ifname: string, o: PinOptions = {}): ForeignXdp[] {
  const { link } = status(ifname, o);
  if (link && link.ifindex !== 0) return [];
  return foreignXdp(ifname, undefined).filter((p) => p.mode !== 'offload');
}

/**
 * Swaps the program attached to `ifname` for `loaded` in one step (no
 * packet goes unfiltered), as a compare-and-swap against the program found
 * attached, or against `expectedProgId` when given; then repins the maps.
 */
export function replace(
  loaded: LoadedProgram,
  ifname: string,
  options: PinOptions & { expectedProgId?: number } = {},
): { oldProgId: number; newProgId: number } {
  const paths = pinPaths(ifname, options);
  const link = openPinned(paths.link, `link of ${ifname}`);
  if (link === null) throw notAttached(ifname);
  return withFd(link, (linkFd) => {
    const current = linkInfo(linkFd);
    if (current.ifindex === 0) throw linkGone(ifname);
    const expected = options.expectedProgId ?? current.progId;
    if (current.progId !== expected) throw swapLost(ifname, ` (program ${current.progId} runs, not ${expected})`);
    const oldFd = bpf.progGetFdById(expected);
    if (oldFd === -ENOENT) throw swapLost(ifname, ` (program ${expected} is gone)`);
    // Recording starts before the new program looks connections up, and stops after the old one is gone.
    if (loaded.egressProgFd !== undefined) attachEgress(loaded.egressProgFd, ifname, options);
    withFd(check(oldFd, `opening program id ${expected}`), (fd) => replaceLinkProgram(linkFd, loaded.progFd, fd, ifname));
    pinMaps(loaded, paths);
    if (loaded.egressProgFd === undefined) {
      detachEgress(ifname, options);
      removeConntrackTablesIfUnused(options);
    }
    removeTailTablesIfUnused(options);
    return { oldProgId: current.progId, newProgId: linkInfo(linkFd).progId };
  });
}

/** Detaches xdpfw from `ifname` and removes its pins; false when it was not attached. */
export function detach(ifname: string, o: PinOptions = {}): boolean {
  const link = openPinned(pinPaths(ifname, o).link, `link of ${ifname}`);
  if (link === null) {
    removeInterfacePins(ifname, o);
    return false;
  }
  withFd(link, (fd) => {
    if (linkInfo(fd).ifindex !== 0) detachLink(fd);
  });
  detachEgress(ifname, o);
  removeInterfacePins(ifname, o);
  removeConntrackTablesIfUnused(o);
  removeTailTablesIfUnused(o);
  return true;
}

export interface InterfaceStatus {
  xdp: XdpQuery;
  /** The pinned xdpfw link, if any. */
  link: LinkInfo | null;
}

export function status(ifname: string, o: PinOptions = {}): InterfaceStatus {
  const xdp = queryXdp(ifname);
  const fd = openPinned(pinPaths(ifname, o).link, `link of ${ifname}`);
  return { xdp, link: fd === null ? null : withFd(fd, linkInfo) };
}

/** Counters of a loaded program, or of the program an interface runs (found through its pinned link). */
export function readCounters(source: LoadedProgram | { ifname: string }, o: PinOptions & { nrules?: number } = {}): Counters {
  if ('maps' in source) {
    const rules = source.maps.get(MAP.ruleCounters);
    const global = source.maps.get(MAP.counters);
    if (!rules || !global) throw new Error('the BPF object has no counter maps');
    return readCounterMaps(rules, global, o.nrules);
  }
  const live = openLiveCounterMaps(source.ifname, o);
  if (live === null) throw notAttached(source.ifname);
  try {
    return readCounterMaps(live.rules, live.global, o.nrules);
  } finally {
    live.close();
  }
}

let runner: TestRunner | null = null;

/** The XDP action (0 aborted, 1 drop, 2 pass, 3 tx, 4 redirect) of `progFd` for one frame. */
export function testRun(progFd: number, frame: Uint8Array): number {
  if (runner?.progFd !== progFd) runner = new TestRunner(progFd);
  return runner.run(frame);
}

export {
  AttachmentError,
  EnvironmentError,
  KernelError,
  UnsupportedFeatureError,
  VerifierError,
  errnoName,
  errnoSentence,
  type AttachmentCode,
} from './errors.js';
export {
  openPinnedCounters,
  seedCounters,
  snapshotMaps,
  snapshotTotals,
  waitForOldRuns,
  type CarriedPairs,
  type CounterSnapshot,
  type PinnedCounters,
  type SnapshotTotals,
} from './carry.js';
export {
  checkBpffs,
  ensureBpffs,
  namespaceStateDir,
  netnsId,
  pinPaths,
  pinnedInterfaces,
  readState,
  removeState,
  statePath,
  writeState,
} from './pins.js';
export type { PinOptions } from './pins.js';
export { foreignXdpError, type ForeignXdp } from './foreign.js';
export { collectGarbage, type FreedPins } from './pin-gc.js';
export { conntrackDir, type ConntrackSettings } from './conntrack.js';
export {
  readConntrackEntries,
  readConntrackSummary,
  readConntrackSummaryInTurns,
  type ConntrackEntry,
  type ConntrackSummary,
} from './conntrack-read.js';
export { TestRunner, xdpActionName } from './test-run.js';
export { DynamicSetError, addToSet, deleteFromSet, flushSet, listSet, setCapacity, setsDir, type SetEntry } from './dynsets.js';
export { limitsDir } from './limits.js';
export { readLiveTailCounters, type SetCounters, type TailCounters } from './tail-counters.js';
export { ifindexOf, queryXdp } from './link.js';
export { ifIndexToName as ifnameOf, libbpfVersion } from './libbpf.js';
export type { AttachMode, AttachedMode, LinkInfo, XdpQuery } from './link.js';
export type { Counters, FillProgress, FillReport } from './maps.js';
export type { CounterValue, GlobalCounterName } from './layout.js';
export type { MapRef } from './object.js';
export { PolicyJudge, type Judgement } from './judge.js';
export { lockPath, tryLockRunDir, type HeldLock, type LockHolder } from './run-lock.js';
export { REQUIRED_FEATURES, kernelAtLeast, requireKernelFeatures, type Feature } from './features.js';
export { TraceBusyError, Tracer, type TracePrefix, type TraceRecord, type TraceRequest, type TraceStats } from './trace.js';
export { LogRings } from './log-ring.js';
export type { RingRecord } from './followed-rings.js';
export { liveProgramId } from './live-maps.js';
export { COUNTER_INDEX, TRACE_SNAPLEN } from '../contract/kernel.js';
