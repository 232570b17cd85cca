/**
 * What `xdpfw trace` and the controller's decision log share: the ring of
 * each interface's current program, read by one libbpf ring_buffer, and its
 * counters in xdpfw_trace_stats. A program replaced by a reload is
 * followed to the new one: what the old ring still holds is read first,
 * and the old program's counts are kept so totals keep growing.
 */

import { MAP, STRUCT, TRACE_STAT } from '../contract/kernel.js';
import { KernelError } from './errors.js';
import * as bpf from './libbpf.js';
import { readPerCpuSums } from './limits.js';
import { liveProgramId } from './live-maps.js';
import type { MapRef } from './object.js';
import type { PinOptions } from './pins.js';
import { decodeTraceRecord, type TraceRecord } from './trace-record.js';

const EVENT = STRUCT.xdpfw_trace_event;

export interface TraceStats {
  sent: bigint;
  suppressed: bigint;
  lost: bigint;
}

/** A record with the interface and program it came from. */
export interface RingRecord extends TraceRecord {
  ifindex: number;
  progId: number;
}

/** One interface's program, its ring and counters open. */
export interface FollowedProgram {
  ifname: string;
  progId: number;
  stats: MapRef;
  ring: MapRef;
  /** The program's counts when it was opened, left out of the totals. */
  before: TraceStats;
}

/** Which of xdpfw_trace_stats' counters are the ring's. */
export interface StatSlots {
  sent: number;
  suppressed: number;
  lost: number;
}

export const TRACE_SLOTS: StatSlots = { sent: TRACE_STAT.sent, suppressed: TRACE_STAT.suppressed, lost: TRACE_STAT.lost };

export interface FollowHooks<F extends FollowedProgram> {
  /** Opens the maps of the program now on `ifname`; null when xdpfw has none there. */
  open(ifname: string): F | null;
  /** Closes what open() opened. */
  release(followed: F): void;
}

export const noStats = (): TraceStats => ({ sent: 0n, suppressed: 0n, lost: 0n });

function add(into: TraceStats, more: TraceStats): void {
  into.sent += more.sent;
  into.suppressed += more.suppressed;
  into.lost += more.lost;
}

/** The program's counts since `before`. */
export function readStats(stats: MapRef, slots: StatSlots, before: TraceStats = noStats()): TraceStats {
  const sums = readPerCpuSums(new Map([[MAP.traceStats, stats]]), MAP.traceStats, TRACE_STAT.nstats);
  return {
    sent: sums[slots.sent] - before.sent,
    suppressed: sums[slots.suppressed] - before.suppressed,
    lost: sums[slots.lost] - before.lost,
  };
}

export class FollowedRings<F extends FollowedProgram> {
  private followed: F[] = [];
  private reader: bpf.RingBufferHandle | null = null;
  private pending: RingRecord[] = [];
  /** Per interface, the totals of programs no longer followed. */
  private readonly retired = new Map<string, TraceStats>();

  constructor(
    private readonly hooks: FollowHooks<F>,
    private readonly slots: StatSlots,
    /** What the rings are, for errors: `trace`, `log`. */
    private readonly what: string,
    private readonly o: PinOptions,
  ) {}

  get programs(): readonly F[] {
    return this.followed;
  }

  /**
   * Follows the programs now on `ifnames`: opens those not followed yet,
   * and closes those replaced, detached or no longer listed; true when
   * something changed.
   */
  follow(ifnames: readonly string[]): boolean {
    const live = ifnames.map((ifname) => ({ ifname, progId: liveProgramId(ifname, this.o) }));
    const gone = this.followed.filter((f) => !live.some((l) => l.ifname === f.ifname && l.progId === f.progId));
    const fresh = live.filter((l) => l.progId !== null && !this.followed.some((f) => f.ifname === l.ifname && f.progId === l.progId));
    if (gone.length === 0 && fresh.length === 0) return false;
    // A replaced program's last records are read before its ring closes.
    this.collect(0);
    for (const f of gone) {
      const sum = this.retired.get(f.ifname) ?? noStats();
      add(sum, readStats(f.stats, this.slots, f.before));
      this.retired.set(f.ifname, sum);
      this.hooks.release(f);
    }
    this.followed = this.followed.filter((f) => !gone.includes(f));
    for (const { ifname } of fresh) {
      const f = this.hooks.open(ifname);
      if (f !== null) this.followed.push(f);
    }
    this.rebuildReader();
    return true;
  }

  /** Records that came within `timeoutMs` (0: those already there, without waiting), oldest first. */
  poll(timeoutMs: number): RingRecord[] {
    this.collect(timeoutMs);
    return this.pending.splice(0);
  }

  /** Per interface, what was sent, over the rate and lost since each program was opened. */
  stats(): Map<string, TraceStats> {
    const totals = new Map([...this.retired].map(([ifname, s]) => [ifname, { ...s }]));
    for (const f of this.followed) {
      const sum = totals.get(f.ifname) ?? noStats();
      add(sum, readStats(f.stats, this.slots, f.before));
      totals.set(f.ifname, sum);
    }
    return totals;
  }

  /** Everything counted, over every interface. */
  total(): TraceStats {
    const sum = noStats();
    for (const s of this.stats().values()) add(sum, s);
    return sum;
  }

  close(): void {
    if (this.reader) bpf.ringBufferFree(this.reader);
    this.reader = null;
    for (const f of this.followed) this.hooks.release(f);
    this.followed = [];
  }

  private collect(timeoutMs: number): void {
    if (this.reader === null) return;
    const r = bpf.ringBufferPoll(this.reader, timeoutMs);
    if (r < 0 && r !== -4 /* EINTR: a signal, which the caller handles */) throw new KernelError(`reading ${this.what} events`, -r);
  }

  private rebuildReader(): void {
    if (this.reader) bpf.ringBufferFree(this.reader);
    this.reader = null;
    if (this.followed.length === 0) return;
    // One callback serves every ring: the event's ifindex tells the interface, and so the program.
    const byIndex = new Map(this.followed.map((f) => [bpf.ifNameToIndex(f.ifname), f]));
    const rb = bpf.ringBufferNew(
      this.followed.map((f) => f.ring.fd),
      (record) => {
        const ifindex = record.readUInt32LE(EVENT.fields.ifindex);
        const f = byIndex.get(ifindex);
        this.pending.push({ ...decodeTraceRecord(f?.ifname ?? `ifindex ${ifindex}`, record), ifindex, progId: f?.progId ?? 0 });
      },
    );
    if (typeof rb === 'number') throw new KernelError(`opening the ${this.what} rings`, -rb);
    this.reader = rb;
  }
}
