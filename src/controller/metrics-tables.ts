/**
 * The series of the namespace's shared tables: the connection table and the
 * dynamic sets, each with its size beside its live entries, so that how full
 * a table is can be watched (and alerted on) before it refuses entries.
 */

import { Counter, Gauge, type Registry } from 'prom-client';

import type { SetSummary } from '../app/dynamic-sets.js';
import type { ConntrackSummary } from '../xdp/index.js';

/**
 * Registers the table series; `table` is the connection table's summary
 * (null when no policy here uses ct state), `sets` the dynamic sets in use.
 */
export function registerTableSeries(registry: Registry, table: () => ConntrackSummary | null, sets: () => SetSummary[]): void {
  const registers = [registry];
  const perSet = (name: string, help: string, pick: (s: SetSummary) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['set'] as const,
      registers,
      collect() {
        this.reset();
        for (const set of sets()) this.set({ set: set.name }, pick(set));
      },
    });
  perSet(
    'xdpfw_set_entries',
    'Live entries of each dynamic set of this network namespace (shared by the interfaces that name it)',
    (s) => s.entries,
  );
  perSet('xdpfw_set_size', 'Entries each dynamic set holds at most (fixed when it was created)', (s) => s.size);

  const perTable = (name: string, help: string, pick: (c: ConntrackSummary) => Record<string, number>) =>
    new Gauge({
      name,
      help,
      labelNames: ['table'] as const,
      registers,
      collect() {
        this.reset();
        const c = table();
        if (c) for (const [t, n] of Object.entries(pick(c))) this.set({ table: t }, n);
      },
    });
  perTable('xdpfw_conntrack_entries', 'Live entries of the connection table, per table (tcp, udp, icmp)', (c) => c.entries);
  perTable('xdpfw_conntrack_size', 'Entries each connection table holds at most (fixed when it was created)', (c) => c.size);
  new Counter({
    name: 'xdpfw_conntrack_created_total',
    help: 'Connection-table entries created, per table',
    labelNames: ['table'] as const,
    registers,
    collect() {
      this.reset();
      for (const [t, n] of Object.entries(table()?.created ?? {})) this.inc({ table: t }, Number(n));
    },
  });
  const tableCounter = (name: string, help: string, pick: (c: ConntrackSummary) => bigint) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        const c = table();
        if (c) this.inc(Number(pick(c)));
      },
    });
  tableCounter('xdpfw_conntrack_evicted_total', 'Connection-table entries the LRU pushed out', (c) => c.evicted);
  tableCounter('xdpfw_conntrack_flood_refused_total', 'Half-open entries the flood guard did not create', (c) => c.floodRefused);
  tableCounter('xdpfw_conntrack_flood_seconds_total', 'CPU-seconds in which the flood guard refused entries', (c) => c.floodSeconds);
}
