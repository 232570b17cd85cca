/**
 * `xdpfw trace` on the kernel side (docs/DESIGN.md, "Tracing"): switches
 * the tracing of the programs on some interfaces on (xdpfw_trace_cfg, with
 * the tracer's filters and event rate), reads their rings, and switches it
 * off again. A program that replaces a traced one (a reload) starts with
 * tracing off; the tracer sees the new program id and switches it on there.
 */

import {
  EVENT_AUDIT,
  EVENT_LOG,
  FAMILY,
  MAP,
  MAX_WORDS,
  STRUCT,
  TRACE_DEFAULT,
  TRACE_DST,
  TRACE_RULES,
  TRACE_SRC,
  TRACE_STAT,
} from '../contract/kernel.js';
import { KernelError, check } from './errors.js';
import * as bpf from './libbpf.js';
import { readPerCpuSums } from './limits.js';
import { liveProgramMaps } from './live-maps.js';
import type { MapRef } from './object.js';
import type { PinOptions } from './pins.js';

const CFG = STRUCT.xdpfw_trace_config;
const EVENT = STRUCT.xdpfw_trace_event;
const PREFIX = STRUCT.xdpfw_trace_prefix;
const WANTED = [MAP.traceCfg, MAP.traceStats, MAP.traceRing];

/** An address filter: family 4 or 6, the prefix's bytes (host bits may be set; they are cleared). */
export interface TracePrefix {
  family: 4 | 6;
  bytes: number[];
  length: number;
}

/** What a tracer asks the program for; null fields do not filter. */
export interface TraceRequest {
  /** XDP actions (XDP_DROP 1, XDP_PASS 2, …) to trace. */
  actions: readonly number[] | null;
  /** Rule indexes of this interface to trace, and whether decisions no rule made are traced too. */
  rules: { indexes: readonly number[]; withDefault: boolean } | null;
  src: TracePrefix | null;
  dst: TracePrefix | null;
  /** Events a second, and how many may come at once. */
  rate: number;
  burst: number;
  /** The tracer's pid: a second tracer of the same program is refused. */
  owner: number;
}

/** One decision as the program recorded it. */
export interface TraceRecord {
  ifname: string;
  /** CLOCK_MONOTONIC, ns. */
  timeNs: bigint;
  /** The deciding rule's index, or null: the default, a malformed or a non-IP packet (see counter). */
  rule: number | null;
  /** XDPFW_CNT_* when no rule decided. */
  counter: number;
  /** XDP_* returned; with `audit`, what would have been returned. */
  action: number;
  /** Not enforced: an `audit` rule's would-be decision, or what `mode audit` passed. */
  audit: boolean;
  /** The deciding rule has `log`. */
  logged: boolean;
  frameLength: number;
  /** The frame's first bytes (up to TRACE_SNAPLEN). */
  frame: Buffer;
}

export interface TraceStats {
  sent: bigint;
  suppressed: bigint;
  lost: bigint;
}

/** Where the pins are, and whether another tracer's process still runs (a dead one's switch is taken over). */
export interface TracerOptions extends PinOptions {
  ownerRunning: (pid: number) => boolean;
}

/** Another tracer holds an interface's program. */
export class TraceBusyError extends Error {
  constructor(
    readonly ifname: string,
    readonly owner: number,
  ) {
    super(`${ifname} is traced by another xdpfw trace (pid ${owner})`);
    this.name = 'TraceBusyError';
  }
}

const NO_RULE = 0xffff_ffff;

/** The config value a request becomes; `on` set. */
export function encodeTraceConfig(r: TraceRequest): Buffer {
  const v = Buffer.alloc(CFG.size);
  let flags = 0;
  v.writeUInt32LE(1, CFG.fields.on);
  v.writeUInt32LE(r.owner, CFG.fields.owner);
  v.writeUInt32LE(
    (r.actions ?? []).reduce((mask, a) => mask | (1 << a), 0),
    CFG.fields.actions,
  );
  for (const [prefix, at, flag] of [
    [r.src, CFG.fields.src, TRACE_SRC],
    [r.dst, CFG.fields.dst, TRACE_DST],
  ] as const) {
    if (!prefix) continue;
    flags |= flag;
    v[at + PREFIX.fields.family] = prefix.family === 4 ? FAMILY.ipv4 : FAMILY.ipv6;
    v[at + PREFIX.fields.len] = prefix.length;
    prefix.bytes.forEach((b, i) => {
      const bits = Math.max(0, Math.min(8, prefix.length - 8 * i));
      v[at + PREFIX.fields.addr + i] = b & ((0xff00 >> bits) & 0xff);
    });
  }
  if (r.rules) {
    flags |= TRACE_RULES | (r.rules.withDefault ? TRACE_DEFAULT : 0);
    for (const rule of r.rules.indexes) {
      if (rule >= 64 * MAX_WORDS) continue;
      const at = CFG.fields.rules + 8 * Math.floor(rule / 64);
      v.writeBigUInt64LE(v.readBigUInt64LE(at) | (1n << BigInt(rule % 64)), at);
    }
  }
  v.writeUInt32LE(flags, CFG.fields.flags);
  const cost = BigInt(Math.max(1, Math.round(1e9 / Math.max(r.rate, 1e-9))));
  v.writeBigUInt64LE(cost, CFG.fields.cost_ns);
  v.writeBigUInt64LE(cost * BigInt(Math.max(1, r.burst)), CFG.fields.capacity_ns);
  return v;
}

export function decodeTraceRecord(ifname: string, record: Buffer): TraceRecord {
  const rule = record.readUInt32LE(EVENT.fields.rule);
  const captured = Math.min(record.readUInt32LE(EVENT.fields.captured), record.length - EVENT.fields.data);
  return {
    ifname,
    timeNs: record.readBigUInt64LE(EVENT.fields.time_ns),
    rule: rule === NO_RULE ? null : rule,
    counter: record.readUInt32LE(EVENT.fields.counter),
    action: record.readUInt32LE(EVENT.fields.action),
    audit: (record.readUInt32LE(EVENT.fields.flags) & EVENT_AUDIT) !== 0,
    logged: (record.readUInt32LE(EVENT.fields.flags) & EVENT_LOG) !== 0,
    frameLength: record.readUInt32LE(EVENT.fields.frame_len),
    frame: record.subarray(EVENT.fields.data, EVENT.fields.data + captured),
  };
}

interface Traced {
  ifname: string;
  progId: number;
  /** The program's counts when this tracer switched it on (they count from its load). */
  before: TraceStats;
  cfg: MapRef;
  stats: MapRef;
  ring: MapRef;
}

const ZERO_KEY = Buffer.alloc(4);

/** The tracing of one interface's current program, switched on; null when xdpfw has no program there. */
function switchOn(ifname: string, request: TraceRequest, o: TracerOptions): Traced | null {
  const live = liveProgramMaps(ifname, WANTED, o);
  if (live === null) return null;
  const [cfg, stats, ring] = live.names.map((n) => live.maps.get(n));
  if (!cfg || !stats || !ring) {
    for (const ref of live.maps.values()) bpf.closeFd(ref.fd);
    throw new Error(`program ${live.progId} on ${ifname} cannot be traced: it predates tracing; apply the policy again`);
  }
  const traced: Traced = { ifname, progId: live.progId, cfg, stats, ring, before: { sent: 0n, suppressed: 0n, lost: 0n } };
  try {
    const current = Buffer.alloc(CFG.size);
    check(bpf.mapLookupElem(cfg.fd, ZERO_KEY, current), `reading the trace switch of ${ifname}`);
    const owner = current.readUInt32LE(CFG.fields.owner);
    if (current.readUInt32LE(CFG.fields.on) !== 0 && owner !== request.owner && o.ownerRunning(owner)) {
      throw new TraceBusyError(ifname, owner);
    }
    traced.before = readStats(traced);
    check(bpf.mapUpdateElem(cfg.fd, ZERO_KEY, encodeTraceConfig(request)), `switching tracing on for ${ifname}`);
    return traced;
  } catch (err) {
    closeTraced(traced);
    throw err;
  }
}

function closeTraced(t: Traced): void {
  for (const ref of [t.cfg, t.stats, t.ring]) bpf.closeFd(ref.fd);
}

/** Switches tracing off where this tracer switched it on (a program another tracer took over is left alone). */
function switchOff(t: Traced, owner: number): void {
  const current = Buffer.alloc(CFG.size);
  if (bpf.mapLookupElem(t.cfg.fd, ZERO_KEY, current) !== 0) return;
  if (current.readUInt32LE(CFG.fields.owner) !== owner) return;
  bpf.mapUpdateElem(t.cfg.fd, ZERO_KEY, Buffer.alloc(CFG.size));
}

/**
 * The programs of `ifnames`, traced until close(). `requestFor` gives each
 * interface's request (rule indexes are per interface). Records arrive in
 * poll(); `refresh()` follows reloads.
 */
export class Tracer {
  private traced: Traced[] = [];
  private reader: bpf.RingBufferHandle | null = null;
  private pending: TraceRecord[] = [];
  /** Totals of programs no longer traced (replaced by a reload), so stats() keeps counting. */
  private retired: TraceStats = { sent: 0n, suppressed: 0n, lost: 0n };

  constructor(
    private readonly ifnames: readonly string[],
    private readonly requestFor: (ifname: string) => TraceRequest,
    private readonly o: TracerOptions,
  ) {}

  /** Switches tracing on for each interface's program; the interfaces xdpfw has no program on. */
  open(): string[] {
    const missing: string[] = [];
    for (const ifname of this.ifnames) {
      const t = switchOn(ifname, this.requestFor(ifname), this.o);
      if (t === null) missing.push(ifname);
      else this.traced.push(t);
    }
    this.rebuildReader();
    return missing;
  }

  /** Re-traces interfaces whose program was replaced (or attached) since; true when something changed. */
  refresh(): boolean {
    let changed = false;
    for (const ifname of this.ifnames) {
      const current = this.traced.find((t) => t.ifname === ifname);
      const live = liveProgramMaps(ifname, [], this.o);
      if (live === null || live.progId === current?.progId) continue;
      if (current) {
        this.retire(current);
        this.traced = this.traced.filter((t) => t !== current);
      }
      const t = switchOn(ifname, this.requestFor(ifname), this.o);
      if (t) this.traced.push(t);
      changed = true;
    }
    if (changed) this.rebuildReader();
    return changed;
  }

  /** Waits up to `timeoutMs` for records; those that came. */
  poll(timeoutMs: number): TraceRecord[] {
    if (this.reader === null) return [];
    const r = bpf.ringBufferPoll(this.reader, timeoutMs);
    if (r < 0 && r !== -4 /* EINTR: a signal, which the caller handles */) throw new KernelError('reading trace events', -r);
    return this.pending.splice(0);
  }

  /** Events sent, over the rate, and lost to a full ring, since this tracer started. */
  stats(): TraceStats {
    const total = { ...this.retired };
    for (const t of this.traced) add(total, readStats(t));
    return total;
  }

  close(owner: number): void {
    if (this.reader) bpf.ringBufferFree(this.reader);
    this.reader = null;
    for (const t of this.traced) {
      switchOff(t, owner);
      closeTraced(t);
    }
    this.traced = [];
  }

  private retire(t: Traced): void {
    add(this.retired, readStats(t));
    closeTraced(t);
  }

  private rebuildReader(): void {
    if (this.reader) bpf.ringBufferFree(this.reader);
    this.reader = null;
    if (this.traced.length === 0) return;
    // One callback serves every ring: the event's ifindex tells the interface.
    const byIndex = new Map(this.ifnames.map((ifname) => [bpf.ifNameToIndex(ifname), ifname]));
    const rb = bpf.ringBufferNew(
      this.traced.map((t) => t.ring.fd),
      (record) => {
        const ifindex = record.readUInt32LE(EVENT.fields.ifindex);
        this.pending.push(decodeTraceRecord(byIndex.get(ifindex) ?? `ifindex ${ifindex}`, record));
      },
    );
    if (typeof rb === 'number') throw new KernelError('opening the trace rings', -rb);
    this.reader = rb;
  }
}

/** The program's counts since this tracer switched it on. */
function readStats(t: Traced): TraceStats {
  const sums = readPerCpuSums(new Map([[MAP.traceStats, t.stats]]), MAP.traceStats, TRACE_STAT.nstats);
  return {
    sent: sums[TRACE_STAT.sent] - t.before.sent,
    suppressed: sums[TRACE_STAT.suppressed] - t.before.suppressed,
    lost: sums[TRACE_STAT.lost] - t.before.lost,
  };
}

function add(into: TraceStats, more: TraceStats): void {
  into.sent += more.sent;
  into.suppressed += more.suppressed;
  into.lost += more.lost;
}
