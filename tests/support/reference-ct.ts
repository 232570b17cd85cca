/**
 * The reference model of connection tracking (docs/DESIGN.md, "Connection
 * tracking"), written from the text alone, for the differential test of
 * packet sequences: every packet's ct state and every entry must be what the
 * kernel's tables give. Written for clarity, not speed.
 *
 * Time is an explicit `now`: bigint nanoseconds on the deadline clock
 * (CLOCK_MONOTONIC_COARSE in the kernel). An entry is absent from its
 * deadline on. The LRU tables are unbounded here; `counts()` tells how many
 * entries each table holds.
 *
 * Readings of the text that it leaves open, chosen here so that the kernel
 * can be held to them:
 * - Entering a state sets the deadline to now + that state's timeout (even
 *   backwards, as established → closing); staying in a state refreshes the
 *   deadline only when it would move by a second or more — on egress in
 *   every state, on ingress in every state but closing. An egress FIN that
 *   sets fin-out without closing stays in the state, so it refreshes.
 * - Egress TCP flags are tried in the order the text lists them (SYN
 *   without ACK, SYN+ACK, RST, anything else); ingress on pass: RST, then
 *   FIN, then the handshake steps.
 * - The flood guard counts half-open entries created (syn-sent, syn-recv),
 *   not a closing entry restarted by port reuse.
 * - A first fragment is an offset-0 fragment with more-fragments set; only
 *   an inbound one that passes is remembered (for TCP, UDP, other
 *   protocols). Non-first ICMP fragments are left unspecified by the text:
 *   the model refuses them (RangeError) rather than guess.
 * - An ICMP error quoting a non-first fragment, a non-echo ICMP message, or
 *   a datagram of the other family is `invalid`.
 */
import type { PacketSpec } from '../../src/packet/spec.js';
import { classifyPacket, keyOfQuoted, type ConnectionKey, type CtTable, type KeyedPacket } from './reference-ct-packet.js';

export type { ConnectionKey, CtTable };

export type CtState = 'new' | 'established' | 'related' | 'invalid';
export type EntryState = 'syn-sent' | 'syn-recv' | 'established' | 'closing' | 'unreplied' | 'replied';

/** Seconds, as `conntrack { … }` gives them. */
export interface CtTimeouts {
  tcpSyn: number;
  tcpEstablished: number;
  tcpClose: number;
  udp: number;
  udpStream: number;
  icmp: number;
}

export const DEFAULT_CT_TIMEOUTS: Readonly<CtTimeouts> = {
  tcpSyn: 60,
  tcpEstablished: 6 * 3600,
  tcpClose: 10,
  udp: 30,
  udpStream: 120,
  icmp: 30,
};

/** XDPFW_CT_FRAG_SECONDS, XDPFW_CT_REFRESH_SECONDS. */
export const FRAGMENT_MEMORY_SECONDS = 30;
const SECOND = 1_000_000_000n;
const REFRESH = 1n * SECOND;

/** What a packet did to the tables: one label per packet, for tests and the generator's coverage. */
export type Transition =
  | 'untracked'
  | 'tcp-create-syn-sent'
  | 'tcp-create-syn-recv'
  | 'tcp-create-established'
  | 'tcp-rst-nothing'
  | 'tcp-flood-refused'
  | 'tcp-rst-closing'
  | 'tcp-port-reuse'
  | 'tcp-fin'
  | 'tcp-fin-closing'
  | 'tcp-handshake-established'
  | 'tcp-refresh'
  | 'tcp-closing-held'
  | 'udp-create'
  | 'udp-refresh'
  | 'udp-replied'
  | 'icmp-create'
  | 'icmp-refresh'
  | 'icmp-replied'
  | 'fragment-remembered'
  | 'nothing';

export interface CtEntry {
  table: CtTable;
  key: ConnectionKey;
  state: EntryState;
  finOut: boolean;
  finIn: boolean;
  created: bigint;
  deadline: bigint;
}

export interface CtStats {
  created: Record<CtTable, number>;
  floodRefused: number;
  floodSeconds: number;
  /** Model only: refreshes that moved a deadline, and those the one-second rule held back. */
  refreshMoved: number;
  refreshHeld: number;
  fragmentsRemembered: number;
}

export interface IngressResult {
  /** null: malformed or non-IP, judged before connection tracking. */
  state: CtState | null;
  /** Applies what the packet does to the tables when the policy lets it pass. Call at most once. */
  commit(): Transition;
}

export interface ConnectionTrackerOptions {
  timeouts?: Partial<CtTimeouts>;
  /** Half-open entries created per second before the guard refuses; the model is one CPU. */
  floodThreshold?: number;
}

export class ConnectionTracker {
  readonly timeouts: CtTimeouts;
  readonly floodThreshold: number;
  readonly stats: CtStats = {
    created: { tcp: 0, udp: 0, icmp: 0 },
    floodRefused: 0,
    floodSeconds: 0,
    refreshMoved: 0,
    refreshHeld: 0,
    fragmentsRemembered: 0,
  };
  private readonly tables: Record<CtTable, Map<string, CtEntry>> = { tcp: new Map(), udp: new Map(), icmp: new Map() };
  private readonly fragments = new Map<string, { sport: number; dport: number; deadline: bigint }>();
  private flood = { second: -1n, created: 0, refused: false };

  constructor(options: ConnectionTrackerOptions = {}) {
    this.timeouts = { ...DEFAULT_CT_TIMEOUTS, ...options.timeouts };
    this.floodThreshold = options.floodThreshold ?? 20_000;
  }

  /** A packet leaving the host: recorded, never judged. */
  egress(packet: PacketSpec, now: bigint): Transition {
    const p = classifyPacket(packet, 'egress');
    if (p.kind !== 'keyed') return 'untracked';
    const entry = this.live(p.table, p.key, now);
    if (p.table !== 'tcp') {
      if (!entry) return this.create(p.table, p.key, 'unreplied', now) ? `${p.table}-create` : 'untracked';
      this.stay(entry, now);
      return `${p.table}-refresh`;
    }
    const flags = p.tcpFlags;
    if (!entry) {
      if (flags.syn && !flags.ack) return this.createHalfOpen(p.key, 'syn-sent', now);
      if (flags.syn && flags.ack) return this.createHalfOpen(p.key, 'syn-recv', now);
      if (flags.rst) return 'tcp-rst-nothing';
      const created = this.create('tcp', p.key, 'established', now);
      created.finOut = flags.fin;
      return 'tcp-create-established';
    }
    if (flags.rst) {
      this.enter(entry, 'closing', now, true);
      return 'tcp-rst-closing';
    }
    if (flags.syn && !flags.ack && entry.state === 'closing') {
      Object.assign(entry, {
        state: 'syn-sent',
        finOut: false,
        finIn: false,
        created: now,
        deadline: now + this.timeoutOf('tcp', 'syn-sent'),
      });
      return 'tcp-port-reuse';
    }
    if (flags.fin) {
      entry.finOut = true;
      if (entry.finIn) {
        this.enter(entry, 'closing', now, true);
        return 'tcp-fin-closing';
      }
      this.stay(entry, now);
      return 'tcp-fin';
    }
    this.stay(entry, now);
    return 'tcp-refresh';
  }

  /** A packet arriving: its state now, and what it does to the tables if it passes. */
  ingress(packet: PacketSpec, now: bigint): IngressResult {
    const p = classifyPacket(packet, 'ingress');
    const nothing = (state: CtState | null): IngressResult => ({ state, commit: () => 'nothing' });
    switch (p.kind) {
      case 'malformed':
        return nothing(null);
      case 'untracked':
        return nothing('new');
      case 'icmp-error': {
        const key = keyOfQuoted(p.quoted, p.family);
        return nothing(key && this.live(key.table, key.key, now) ? 'related' : 'invalid');
      }
      case 'first-fragment': {
        const inner = this.ingressKeyed(p.packet, now);
        return {
          state: inner.state,
          commit: () => {
            const remembered = { sport: p.sport, dport: p.dport, deadline: now + BigInt(FRAGMENT_MEMORY_SECONDS) * SECOND };
            this.fragments.set(p.fragmentKey, remembered);
            this.stats.fragmentsRemembered++;
            const transition = inner.commit();
            return transition === 'nothing' ? 'fragment-remembered' : transition;
          },
        };
      }
      case 'later-fragment': {
        const first = this.fragments.get(p.fragmentKey);
        if (!first || now >= first.deadline) return nothing('invalid');
        return this.ingressKeyed(p.withPorts(first.sport, first.dport), now);
      }
      case 'keyed':
        return this.ingressKeyed(p, now);
    }
  }

  /** Live entries (past their deadline they are absent), in no particular order. */
  entries(now: bigint): CtEntry[] {
    return (['tcp', 'udp', 'icmp'] as const).flatMap((t) => [...this.tables[t].values()].filter((e) => now < e.deadline));
  }

  /** Every entry the tables hold, expired ones too. */
  storedEntries(): CtEntry[] {
    return (['tcp', 'udp', 'icmp'] as const).flatMap((t) => [...this.tables[t].values()]);
  }

  /** Entries each table holds, live or not: an LRU table keeps an expired entry until it is reused or evicted. */
  counts(): Record<CtTable, number> {
    return { tcp: this.tables.tcp.size, udp: this.tables.udp.size, icmp: this.tables.icmp.size };
  }

  private ingressKeyed(p: KeyedPacket, now: bigint): IngressResult {
    const entry = this.live(p.table, p.key, now);
    const flags = p.tcpFlags;
    let state: CtState;
    if (entry) state = p.table === 'tcp' && flags.syn && !flags.ack && entry.state === 'closing' ? 'new' : 'established';
    else if (p.table === 'tcp') state = flags.syn && !flags.ack && !flags.rst && !flags.fin ? 'new' : 'invalid';
    else state = p.echoReply ? 'invalid' : 'new';

    let done: Transition | undefined;
    const apply = (): Transition => {
      if (!entry) return 'nothing';
      if (p.table !== 'tcp') {
        if (entry.state === 'unreplied') {
          this.enter(entry, 'replied', now, false);
          return `${p.table}-replied`;
        }
        this.stay(entry, now);
        return `${p.table}-refresh`;
      }
      if (flags.rst) {
        this.enter(entry, 'closing', now, false);
        return 'tcp-rst-closing';
      }
      let label: Transition = 'tcp-refresh';
      if (flags.fin) {
        entry.finIn = true;
        label = 'tcp-fin';
        if (entry.finOut) {
          this.enter(entry, 'closing', now, false);
          return 'tcp-fin-closing';
        }
      }
      if ((flags.syn && flags.ack && entry.state === 'syn-sent') || (flags.ack && !flags.syn && entry.state === 'syn-recv')) {
        this.enter(entry, 'established', now, false);
        return label === 'tcp-fin' ? label : 'tcp-handshake-established';
      }
      if (entry.state === 'closing') return label === 'tcp-fin' ? label : 'tcp-closing-held';
      this.stay(entry, now);
      return label;
    };
    return { state, commit: () => (done ??= apply()) };
  }

  private live(table: CtTable, key: ConnectionKey, now: bigint): CtEntry | undefined {
    const entry = this.tables[table].get(key.id);
    return entry && now < entry.deadline ? entry : undefined;
  }

  private create(table: CtTable, key: ConnectionKey, state: EntryState, now: bigint): CtEntry {
    const entry: CtEntry = { table, key, state, finOut: false, finIn: false, created: now, deadline: now + this.timeoutOf(table, state) };
    this.tables[table].set(key.id, entry);
    this.stats.created[table]++;
    return entry;
  }

  private createHalfOpen(key: ConnectionKey, state: 'syn-sent' | 'syn-recv', now: bigint): Transition {
    const second = now / SECOND;
    if (second !== this.flood.second) this.flood = { second, created: 0, refused: false };
    if (this.flood.created >= this.floodThreshold) {
      this.stats.floodRefused++;
      if (!this.flood.refused) this.stats.floodSeconds++;
      this.flood.refused = true;
      return 'tcp-flood-refused';
    }
    this.flood.created++;
    this.create('tcp', key, state, now);
    return state === 'syn-sent' ? 'tcp-create-syn-sent' : 'tcp-create-syn-recv';
  }

  /** Moves to `state`: a new state sets its deadline; the same one refreshes (on ingress not in closing). */
  private enter(entry: CtEntry, state: EntryState, now: bigint, egress: boolean): void {
    if (entry.state !== state) {
      entry.state = state;
      entry.deadline = now + this.timeoutOf(entry.table, state);
    } else if (egress || state !== 'closing') {
      this.stay(entry, now);
    }
  }

  /** The one-second rule: a deadline moves only when it would move by a second or more. */
  private stay(entry: CtEntry, now: bigint): void {
    const deadline = now + this.timeoutOf(entry.table, entry.state);
    if (deadline >= entry.deadline + REFRESH) {
      entry.deadline = deadline;
      this.stats.refreshMoved++;
    } else {
      this.stats.refreshHeld++;
    }
  }

  private timeoutOf(table: CtTable, state: EntryState): bigint {
    const t = this.timeouts;
    const seconds =
      table === 'icmp'
        ? t.icmp
        : state === 'syn-sent' || state === 'syn-recv'
          ? t.tcpSyn
          : state === 'established'
            ? t.tcpEstablished
            : state === 'closing'
              ? t.tcpClose
              : state === 'unreplied'
                ? t.udp
                : t.udpStream;
    return BigInt(seconds) * SECOND;
  }
}
