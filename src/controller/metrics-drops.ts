/**
 * The per-interface drop series: what the firewall dropped, by why, and what
 * it would have dropped (an `audit` rule, or an interface in `mode audit`,
 * which enforces nothing), so a staged rollout can be watched before it
 * enforces; and how each program is attached.
 */

import { Counter, Gauge, type Registry } from 'prom-client';

import type { Count, InterfaceStats } from '../app/counters.js';

/** Why a packet was dropped: a drop rule, a reject (rule or default), the default drop, a malformed packet. */
export const DROP_REASONS = ['rule', 'reject', 'default', 'malformed'] as const;
export type DropReason = (typeof DROP_REASONS)[number];
/** The drop reasons, and `audit`: packets an `audit drop` or `audit reject` rule matched and let through. */
export const WOULD_DROP_REASONS = [...DROP_REASONS, 'audit'] as const;
export type WouldDropReason = (typeof WOULD_DROP_REASONS)[number];

export interface DropSplit {
  dropped: Record<DropReason, Count>;
  wouldDrop: Record<WouldDropReason, Count>;
}

const zero = (): Count => ({ packets: 0n, bytes: 0n });
const addTo = (total: Count, c: Count): void => {
  total.packets += c.packets;
  total.bytes += c.bytes;
};
const DROPPING = new Set(['drop', 'reject']);

/**
 * An interface's counters split by drop reason. An enforcing interface drops
 * what its rules, default and malformed counters say; an interface in
 * `mode audit` drops nothing, and the same amounts are what it would drop.
 * Audit rules never drop: their matches are would-drops in either mode.
 */
export function dropsByReason(s: InterfaceStats): DropSplit {
  const byReason: Record<DropReason, Count> = { rule: zero(), reject: zero(), default: zero(), malformed: zero() };
  const audit = zero();
  for (const r of s.rules) {
    if (!DROPPING.has(r.action)) continue;
    if (r.audit) addTo(audit, r);
    else addTo(r.action === 'reject' ? byReason.reject : byReason.rule, r);
  }
  if (s.default.action === 'drop') addTo(byReason.default, s.default);
  if (s.default.action === 'reject') addTo(byReason.reject, s.default);
  addTo(byReason.malformed, s.malformed);
  const none: Record<DropReason, Count> = { rule: zero(), reject: zero(), default: zero(), malformed: zero() };
  return s.auditMode ? { dropped: none, wouldDrop: { ...byReason, audit } } : { dropped: byReason, wouldDrop: { ...none, audit } };
}

/** Registers the drop, would-drop and attach-mode series, read from `read` (the scrape's counters). */
export function registerDropSeries(registry: Registry, read: () => InterfaceStats[]): void {
  const registers = [registry];
  const splits = () => read().map((s) => ({ name: s.name, split: dropsByReason(s) }));
  const byReason = (name: string, help: string, side: keyof DropSplit, field: keyof Count) =>
    new Counter({
      name,
      help,
      labelNames: ['interface', 'reason'] as const,
      registers,
      collect() {
        this.reset();
        for (const { name: ifname, split } of splits()) {
          for (const [reason, c] of Object.entries(split[side])) this.inc({ interface: ifname, reason }, Number(c[field]));
        }
      },
    });
  byReason(
    'xdpfw_dropped_packets_total',
    'Packets dropped, by reason: rule (a drop rule), reject (a reject rule or default), default (the default drop), malformed',
    'dropped',
    'packets',
  );
  byReason('xdpfw_dropped_bytes_total', 'Bytes of the packets dropped, by reason', 'dropped', 'bytes');
  byReason(
    'xdpfw_would_drop_packets_total',
    'Packets let through that the policy would drop: audit (audit drop or reject rules), and under mode audit every drop reason',
    'wouldDrop',
    'packets',
  );
  byReason('xdpfw_would_drop_bytes_total', 'Bytes of the packets let through that the policy would drop, by reason', 'wouldDrop', 'bytes');

  new Gauge({
    name: 'xdpfw_attach_mode_info',
    help: 'How the program is attached to each enforced interface: XDP native or generic (1 per interface)',
    labelNames: ['interface', 'mode'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of read()) this.set({ interface: s.name, mode: s.attachMode }, 1);
    },
  });
}
