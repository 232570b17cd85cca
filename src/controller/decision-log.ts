/**
 * The decisions of rules with `log`, as the daemon's log lines: the XDP
 * program writes each one to its log ring (as far as its rate, 100 a second
 * with a burst of 200 per interface, lets it), and this drains the rings a
 * few times a second, one `rule decision` line per record, with the rule
 * named from the policy in force and the packet read back from its first
 * bytes as `xdpfw trace --json` shows it (src/app/trace.ts). What the rate
 * kept back or a full ring lost is said in a warn line, at most once per
 * period. Only interfaces whose policy logs have their ring read; a reload
 * is followed at the next look (the new program's ring keeps its records
 * meanwhile).
 */

import { loadState, type AppliedState } from '../app/state.js';
import { traceLine, wallClock } from '../app/trace.js';
import { LOG_BURST, LOG_COST_NS } from '../contract/kernel.js';
import { LogRings, liveProgramId, type RingRecord, type TraceStats } from '../xdp/index.js';
import type { Logger } from './logger.js';
import type { Timers } from './timers.js';

const XDP_PASS = 2;
const XDP_TX = 3;
const LOG_RATE = 1e9 / LOG_COST_NS;

/** The log rings, as src/xdp's LogRings reads them (tests pass a fake). */
export interface DecisionRings {
  follow(ifnames: readonly string[]): void;
  poll(): RingRecord[];
  stats(): Map<string, TraceStats>;
  close(): void;
}

export interface DecisionLogOptions {
  interfaces: readonly string[];
  log: Logger;
  timers: Timers;
  rings?: DecisionRings;
  /** The program on the interface now (null: none); a new one means a new policy. */
  programOf?: (ifname: string) => number | null;
  /** The policy in force on the interface (src/app/state.ts). */
  stateOf?: (ifname: string) => AppliedState | undefined;
  /** Kernel (monotonic) ns to wall ns. */
  wallNs?: (monotonicNs: bigint) => bigint;
  drainMs?: number;
  lookMs?: number;
  /** A warn line about records kept back or lost comes at most this often per interface. */
  warnMs?: number;
}

/** The interface's policy has a rule with `log`: its ring is worth reading. */
const logs = (s: AppliedState | undefined): boolean => s?.rules.some((r) => r.log === true) === true;

/** The fields of one `rule decision` line. */
export function decisionFields(r: RingRecord, state: AppliedState | undefined, wallNs: (ns: bigint) => bigint): Record<string, unknown> {
  const line = traceLine(r, r.ifindex, state, wallNs);
  return {
    interface: r.ifname,
    ifindex: r.ifindex,
    eventTime: line.time,
    rule: line.rule ?? { index: r.rule },
    verdict: r.action === XDP_PASS ? 'allow' : r.action === XDP_TX ? 'reject' : 'drop',
    ...(r.audit ? { audit: true } : {}),
    ...(line.ethernet ? { ethernet: line.ethernet } : {}),
    ...(line.IP ? { IP: line.IP } : {}),
    ...(line.l4 ? { l4: line.l4 } : {}),
    ...(line.fragment ? { fragment: true } : {}),
    frame_length: line.frame_length,
    Summary: line.Summary,
  };
}

export class DecisionLog {
  private readonly rings: DecisionRings;
  private readonly programOf: (ifname: string) => number | null;
  private readonly stateOf: (ifname: string) => AppliedState | undefined;
  private readonly wallNs: (ns: bigint) => bigint;
  /** Per interface, the program last looked at, and the policy of each program whose records may still come. */
  private readonly programs = new Map<string, number | null>();
  private readonly states = new Map<number, AppliedState>();
  private readonly reported = new Map<string, { at: number; suppressed: bigint; lost: bigint }>();
  private drainTimer: unknown;
  private lookTimer: unknown;
  private lastError: string | undefined;
  private stopped = false;

  constructor(private readonly o: DecisionLogOptions) {
    this.rings = o.rings ?? new LogRings();
    this.programOf = o.programOf ?? ((ifname) => liveProgramId(ifname));
    this.stateOf = o.stateOf ?? ((ifname) => loadState(ifname));
    this.wallNs = o.wallNs ?? wallClock();
  }

  start(): void {
    this.look();
    this.scheduleDrain();
    this.scheduleLook();
  }

  /** Reads what the rings still hold, says what was kept back, and closes them. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of [this.drainTimer, this.lookTimer]) if (t !== undefined) this.o.timers.clearTimeout(t);
    this.guarded(() => {
      this.drain();
      this.warnKeptBack(true);
    });
    this.rings.close();
  }

  /** Follows reloads: the policy of each new program, and the rings of the interfaces whose policy logs. */
  look(): void {
    const ok = this.guarded(() => {
      for (const ifname of this.o.interfaces) {
        const progId = this.programOf(ifname);
        if (progId === this.programs.get(ifname)) continue;
        const state = progId === null ? undefined : this.stateOf(ifname);
        // A state not yet written for the new program: looked at again next time.
        if (progId !== null && state?.progId !== progId) continue;
        this.programs.set(ifname, progId);
        if (state) this.states.set(state.progId, state);
      }
      this.drain();
      this.rings.follow(this.o.interfaces.filter((ifname) => logs(this.stateNow(ifname))));
      this.drain();
      const current = new Set(this.programs.values());
      for (const progId of this.states.keys()) if (!current.has(progId)) this.states.delete(progId);
      this.warnKeptBack(false);
    });
    if (ok) this.lastError = undefined;
  }

  /** One line per record the rings hold. */
  drain(): void {
    for (const r of this.rings.poll()) this.o.log.info(decisionFields(r, this.states.get(r.progId), this.wallNs), 'rule decision');
  }

  private stateNow(ifname: string): AppliedState | undefined {
    const progId = this.programs.get(ifname);
    return progId == null ? undefined : this.states.get(progId);
  }

  /** A warn line per interface whose program kept records back or lost some since the last one (`force`: whatever the period). */
  private warnKeptBack(force: boolean): void {
    const now = this.o.timers.now();
    for (const [ifname, s] of this.rings.stats()) {
      const last = this.reported.get(ifname) ?? { at: -Infinity, suppressed: 0n, lost: 0n };
      if (s.suppressed === last.suppressed && s.lost === last.lost) continue;
      if (!force && now - last.at < (this.o.warnMs ?? 10_000)) continue;
      this.o.log.warn(
        {
          interface: ifname,
          suppressed: Number(s.suppressed - last.suppressed),
          lost: Number(s.lost - last.lost),
          rate: LOG_RATE,
          burst: LOG_BURST,
        },
        'rule decisions not logged: over the log rate (suppressed) or lost to a full ring',
      );
      this.reported.set(ifname, { at: now, suppressed: s.suppressed, lost: s.lost });
    }
  }

  /** A kernel error is said once (until another comes) and the next tick tries again: the daemon keeps going. */
  private guarded(body: () => void): boolean {
    try {
      body();
      return true;
    } catch (error) {
      const message = (error as Error).message;
      if (message !== this.lastError) this.o.log.warn({ err: error }, 'reading the rule decision log failed; trying again');
      this.lastError = message;
      return false;
    }
  }

  private scheduleDrain(): void {
    if (this.stopped) return;
    this.drainTimer = this.o.timers.setTimeout(() => {
      this.guarded(() => this.drain());
      this.scheduleDrain();
    }, this.o.drainMs ?? 200);
  }

  private scheduleLook(): void {
    if (this.stopped) return;
    this.lookTimer = this.o.timers.setTimeout(() => {
      this.look();
      this.scheduleLook();
    }, this.o.lookMs ?? 1000);
  }
}
