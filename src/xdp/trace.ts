/**
 * `xdpfw trace` on the kernel side (docs/DESIGN.md, "Tracing"): switches
 * the tracing of the programs on some interfaces on (xdpfw_trace_cfg, with
 * the tracer's filters and event rate), reads their rings, and switches it
 * off again. A program that replaces a traced one (a reload) starts with
 * tracing off; the tracer sees the new program id and switches it on there.
 */

import { FAMILY, MAP, MAX_WORDS, STRUCT, TRACE_DEFAULT, TRACE_DST, TRACE_RULES, TRACE_SRC } from '../contract/kernel.js';
import { check } from './errors.js';
import { FollowedRings, TRACE_SLOTS, noStats, readStats, type FollowedProgram, type TraceStats } from './followed-rings.js';
import * as bpf from './libbpf.js';
import { liveProgramMaps } from './live-maps.js';
import type { MapRef } from './object.js';
import type { PinOptions } from './pins.js';
import type { TraceRecord } from './trace-record.js';

export { decodeTraceRecord, type TraceRecord } from './trace-record.js';
export type { TraceStats } from './followed-rings.js';

const CFG = STRUCT.xdpfw_trace_config;
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

interface Traced extends FollowedProgram {
  cfg: MapRef;
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
  const traced: Traced = { ifname, progId: live.progId, cfg, stats, ring, before: noStats() };
  try {
    const current = Buffer.alloc(CFG.size);
    check(bpf.mapLookupElem(cfg.fd, ZERO_KEY, current), `reading the trace switch of ${ifname}`);
    const owner = current.readUInt32LE(CFG.fields.owner);
    if (current.readUInt32LE(CFG.fields.on) !== 0 && owner !== request.owner && o.ownerRunning(owner)) {
      throw new TraceBusyError(ifname, owner);
    }
    // The program counts from its load; this tracer, from now.
    traced.before = readStats(stats, TRACE_SLOTS);
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
  private readonly rings: FollowedRings<Traced>;

  constructor(
    private readonly ifnames: readonly string[],
    requestFor: (ifname: string) => TraceRequest,
    o: TracerOptions,
  ) {
    this.rings = new FollowedRings<Traced>(
      { open: (ifname) => switchOn(ifname, requestFor(ifname), o), release: closeTraced },
      TRACE_SLOTS,
      'trace',
      o,
    );
  }

  /** Switches tracing on for each interface's program; the interfaces xdpfw has no program on. */
  open(): string[] {
    this.rings.follow(this.ifnames);
    return this.ifnames.filter((ifname) => !this.rings.programs.some((t) => t.ifname === ifname));
  }

  /** Re-traces interfaces whose program was replaced (or attached) since; true when something changed. */
  refresh(): boolean {
    return this.rings.follow(this.ifnames);
  }

  /** Waits up to `timeoutMs` for records; those that came. */
  poll(timeoutMs: number): TraceRecord[] {
    return this.rings.poll(timeoutMs);
  }

  /** Events sent, over the rate, and lost to a full ring, since this tracer started. */
  stats(): TraceStats {
    return this.rings.total();
  }

  close(owner: number): void {
    for (const t of this.rings.programs) switchOff(t, owner);
    this.rings.close();
  }
}
