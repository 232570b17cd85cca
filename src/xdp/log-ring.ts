/**
 * The log rings (xdpfw_log_ring) of the programs on some interfaces: each
 * decision of a rule with `log`, as far as the program's rate lets it
 * through. Unlike tracing there is nothing to switch on: a program whose
 * policy logs writes its ring from its load, so a reloaded program's ring
 * is read from its first record, and counted from zero.
 */

import { MAP, TRACE_STAT } from '../contract/kernel.js';
import {
  FollowedRings,
  noStats,
  readStats,
  type FollowedProgram,
  type RingRecord,
  type StatSlots,
  type TraceStats,
} from './followed-rings.js';
import * as bpf from './libbpf.js';
import { liveProgramMaps } from './live-maps.js';
import type { PinOptions } from './pins.js';

const LOG_SLOTS: StatSlots = { sent: TRACE_STAT.logSent, suppressed: TRACE_STAT.logSuppressed, lost: TRACE_STAT.logLost };

function closeLogged(f: FollowedProgram): void {
  bpf.closeFd(f.stats.fd);
  bpf.closeFd(f.ring.fd);
}

/**
 * Reads the log rings of the programs on the interfaces it is told to
 * follow, without blocking: follow() at each look, poll() as often as the
 * caller drains, close() at the end (every fd it opened is closed).
 */
export class LogRings {
  private readonly rings: FollowedRings<FollowedProgram>;
  /** Programs already running at the first look have counted what this reader never saw. */
  private firstLook = true;

  constructor(o: PinOptions = {}) {
    this.rings = new FollowedRings<FollowedProgram>({ open: (ifname) => this.open(ifname, o), release: closeLogged }, LOG_SLOTS, 'log', o);
  }

  /**
   * Reads the rings of the programs now on `ifnames` from now on: a
   * replaced program's ring is read to its end, then closed, as are those
   * of interfaces no longer listed or detached.
   */
  follow(ifnames: readonly string[]): void {
    this.rings.follow(ifnames);
    this.firstLook = false;
  }

  /** The records the rings hold now (without waiting), oldest first per ring. */
  poll(): RingRecord[] {
    return this.rings.poll(0);
  }

  /** Per interface: records sent, kept back by the rate, and lost to a full ring, since it was first followed. */
  stats(): Map<string, TraceStats> {
    return this.rings.stats();
  }

  close(): void {
    this.rings.close();
  }

  private open(ifname: string, o: PinOptions): FollowedProgram | null {
    const live = liveProgramMaps(ifname, [MAP.traceStats, MAP.logRing], o);
    if (live === null) return null;
    const [stats, ring] = live.names.map((n) => live.maps.get(n));
    if (!stats || !ring) {
      for (const ref of live.maps.values()) bpf.closeFd(ref.fd);
      throw new Error(`program ${live.progId} on ${ifname} has no log ring: it predates \`log\`; apply the policy again`);
    }
    return { ifname, progId: live.progId, stats, ring, before: this.firstLook ? readStats(stats, LOG_SLOTS) : noStats() };
  }
}
