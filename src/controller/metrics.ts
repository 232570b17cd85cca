/**
 * Prometheus metrics (prom-client) and the health endpoint. Kernel counters
 * are read when scraped (collect callbacks), once per scrape however many
 * series need them, as totals since each rule first appeared (the same
 * numbers as `xdpfw stats`).
 */

import type http from 'node:http';
import type { AddressInfo, Server } from 'node:net';

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

import type { Count, InterfaceStats, SetStats } from '../app/counters.js';
import type { SetSummary } from '../app/dynamic-sets.js';
import type { ConntrackSummary, FreedPins } from '../xdp/index.js';
import { registerBuildInfo } from './build-info.js';
import type { Logger } from './logger.js';
import { registerDropSeries } from './metrics-drops.js';
import { registerTableSeries } from './metrics-tables.js';
import type { CollectorObserver } from './pin-collector.js';
import type { InterfaceHealth, ReloadObserver, ReloadResult } from './unit.js';
import { webServer, type LiveWebConfig } from './web-server.js';

export interface MetricsSources {
  /** Managed interfaces and what the controller knows of them. */
  interfaces(): InterfaceHealth[];
  /** Counter totals of an enforced interface (throws when it is not enforced). */
  stats(ifname: string): InterfaceStats;
  /**
   * The namespace's connection table; null when no policy here uses ct state.
   * The daemon's is read in the background, not when scraped (conntrack-cache.ts).
   */
  conntrack?(): ConntrackSummary | null;
  /** The dynamic sets in use here with their live entries (a walk of each set's trie). */
  dynamicSets?(): SetSummary[];
}

const RESULTS: ReloadResult[] = ['applied', 'unchanged', 'refused', 'failed'];
/** Counters read once serve every series of one scrape. */
const SNAPSHOT_TTL_MS = 250;
/**
 * Counting a set's entries walks its trie (two bpf() calls an entry); a
 * walk's result is kept ten times as long as the walk took, so a scrape
 * spends at most a tenth of the time walking however large the sets are.
 */
const SET_WALK_REUSE = 10;

export class ControllerMetrics implements ReloadObserver, CollectorObserver {
  readonly registry = new Registry();
  private readonly reloads: Counter<'interface' | 'result'>;
  private readonly sourceErrors: Counter<'interface'>;
  private readonly drifts: Counter<'interface'>;
  private readonly freed: Counter<'reason'>;
  private snapshot: { at: number; stats: InterfaceStats[] } | undefined;
  private tableSnapshot: { at: number; summary: ConntrackSummary | null } | undefined;
  private setSnapshot: { until: number; sets: SetSummary[] } | undefined;

  constructor(
    private readonly sources: MetricsSources,
    private readonly log?: Logger,
  ) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const read = () => this.read();

    const perRule = (name: string, help: string, field: 'packets' | 'bytes') =>
      new Counter({
        name,
        help,
        labelNames: ['interface', 'rule', 'action'] as const,
        registers,
        collect() {
          this.reset();
          for (const s of read()) {
            for (const r of s.rules) this.inc({ interface: s.name, rule: r.name ?? r.id, action: r.action }, Number(r[field]));
          }
        },
      });
    perRule('xdpfw_rule_packets_total', 'Packets decided by each rule, since the rule first appeared on the interface', 'packets');
    perRule('xdpfw_rule_bytes_total', 'Bytes (frame length) decided by each rule, since the rule first appeared', 'bytes');

    const global = (name: string, help: string, pick: (s: InterfaceStats) => Count, field: 'packets' | 'bytes', withAction = false) =>
      new Counter({
        name,
        help,
        labelNames: (withAction ? ['interface', 'action'] : ['interface']) as ['interface', 'action'],
        registers,
        collect() {
          this.reset();
          for (const s of read()) {
            this.inc(withAction ? { interface: s.name, action: s.default.action } : { interface: s.name }, Number(pick(s)[field]));
          }
        },
      });
    global('xdpfw_default_packets_total', 'Packets no rule matched, decided by the default action', (s) => s.default, 'packets', true);
    global('xdpfw_default_bytes_total', 'Bytes of packets decided by the default action', (s) => s.default, 'bytes', true);
    global('xdpfw_malformed_packets_total', 'Truncated or invalid packets (always dropped)', (s) => s.malformed, 'packets');
    global('xdpfw_malformed_bytes_total', 'Bytes of malformed packets', (s) => s.malformed, 'bytes');
    global('xdpfw_non_ip_packets_total', 'Frames that are not IPv4/IPv6 (always passed)', (s) => s.nonIp, 'packets');
    global('xdpfw_non_ip_bytes_total', 'Bytes of non-IP frames', (s) => s.nonIp, 'bytes');
    global(
      'xdpfw_fragment_packets_total',
      'Non-first IP fragments (also counted by the rule that decided them)',
      (s) => s.fragment,
      'packets',
    );
    global('xdpfw_fragment_bytes_total', 'Bytes of non-first IP fragments', (s) => s.fragment, 'bytes');
    global(
      'xdpfw_reject_answered_packets_total',
      'Packets a reject dropped and answered (RST or ICMP error)',
      (s) => s.rejectSent,
      'packets',
    );
    global(
      'xdpfw_reject_unanswered_packets_total',
      'Packets a reject dropped without an answer: over the answers rate, or not to be answered (ICMP errors, broadcast, fragments)',
      (s) => s.rejectSuppressed,
      'packets',
    );

    new Gauge({
      name: 'xdpfw_policy_info',
      help: 'The policy in force on each interface: its hash and the git commit it came from (1 per interface)',
      labelNames: ['interface', 'hash', 'commit'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of read()) this.set({ interface: s.name, hash: s.policyHash, commit: s.commit ?? '' }, 1);
      },
    });
    new Gauge({
      name: 'xdpfw_policy_rules',
      help: 'Rules of the policy in force',
      labelNames: ['interface'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of read()) this.set({ interface: s.name }, s.rules.length);
      },
    });

    new Counter({
      name: 'xdpfw_limit_over_total',
      help: "Packets a rule's limit found over its rate, since the rule first appeared on the interface",
      labelNames: ['interface', 'rule'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of read()) {
          for (const r of s.rules) if (r.overLimit !== null) this.inc({ interface: s.name, rule: r.name ?? r.id }, Number(r.overLimit));
        }
      },
    });
    const perSet = (name: string, help: string, field: keyof Omit<SetStats, 'name'>) =>
      new Counter({
        name,
        help,
        labelNames: ['interface', 'set'] as const,
        registers,
        collect() {
          this.reset();
          for (const s of read()) for (const set of s.sets) this.inc({ interface: s.name, set: set.name }, Number(set[field]));
        },
      });
    perSet('xdpfw_set_added_total', "Entries the interface's bans wrote into each dynamic set, since the set first appeared", 'added');
    perSet('xdpfw_set_expired_total', "Expired entries of each dynamic set that the interface's lookups deleted", 'expired');
    perSet('xdpfw_set_full_total', 'Bans refused because the dynamic set was full', 'full');
    registerTableSeries(
      this.registry,
      () => this.readConntrack(),
      () => this.readSets(),
    );
    registerDropSeries(this.registry, read);
    registerBuildInfo(this.registry);

    this.reloads = new Counter({
      name: 'xdpfw_reloads_total',
      help: 'Reloads by result: applied (swapped or attached), unchanged (already in force), refused (invalid policy), failed (unreadable source, kernel refusal)',
      labelNames: ['interface', 'result'] as const,
      registers,
    });
    this.sourceErrors = new Counter({
      name: 'xdpfw_source_errors_total',
      help: 'Times the policy source could not be read or fetched (unreachable git remote, …)',
      labelNames: ['interface'] as const,
      registers,
    });
    this.drifts = new Counter({
      name: 'xdpfw_drift_total',
      help: "Times another writer replaced the daemon's program on the interface (the source's policy is then restored)",
      labelNames: ['interface'] as const,
      registers,
    });
    this.freed = new Counter({
      name: 'xdpfw_gc_freed_total',
      help: 'Pinned interfaces (or empty namespace directories) freed because their namespace or interface no longer exists',
      labelNames: ['reason'] as const,
      registers,
    });
    for (const reason of ['netns-gone', 'interface-gone']) this.freed.inc({ reason }, 0);
    new Gauge({
      name: 'xdpfw_last_reload_success_timestamp_seconds',
      help: 'When a policy was last applied or confirmed in force, in seconds since the epoch',
      labelNames: ['interface'] as const,
      registers,
      collect: () => {
        const g = this.registry.getSingleMetric('xdpfw_last_reload_success_timestamp_seconds') as Gauge<'interface'>;
        g.reset();
        for (const i of sources.interfaces()) if (i.lastSuccessAt) g.set({ interface: i.name }, i.lastSuccessAt.getTime() / 1000);
      },
    });
    new Gauge({
      name: 'xdpfw_reload_failing',
      help: '1 while the last reload of the interface was refused or failed (the previous policy stays in force)',
      labelNames: ['interface'] as const,
      registers,
      collect: () => {
        const g = this.registry.getSingleMetric('xdpfw_reload_failing') as Gauge<'interface'>;
        g.reset();
        for (const i of sources.interfaces()) g.set({ interface: i.name }, i.failing ? 1 : 0);
      },
    });
    new Gauge({
      name: 'xdpfw_enforced',
      help: '1 when an xdpfw program is attached to the interface',
      labelNames: ['interface'] as const,
      registers,
      collect: () => {
        const g = this.registry.getSingleMetric('xdpfw_enforced') as Gauge<'interface'>;
        g.reset();
        for (const i of sources.interfaces()) g.set({ interface: i.name }, i.enforced ? 1 : 0);
      },
    });
    for (const i of sources.interfaces()) {
      for (const result of RESULTS) this.reloads.inc({ interface: i.name, result }, 0);
      this.sourceErrors.inc({ interface: i.name }, 0);
      this.drifts.inc({ interface: i.name }, 0);
    }
  }

  reloaded(ifname: string, result: ReloadResult): void {
    this.reloads.inc({ interface: ifname, result });
  }

  sourceError(ifname: string): void {
    this.sourceErrors.inc({ interface: ifname });
  }

  drifted(ifname: string): void {
    this.drifts.inc({ interface: ifname });
  }

  collected(freed: FreedPins[]): void {
    for (const f of freed) this.freed.inc({ reason: f.reason });
  }

  /** Counters of every enforced interface, read at most once per scrape. */
  private readConntrack(): ConntrackSummary | null {
    const now = Date.now();
    if (this.tableSnapshot && now - this.tableSnapshot.at < SNAPSHOT_TTL_MS) return this.tableSnapshot.summary;
    let summary: ConntrackSummary | null = null;
    try {
      summary = this.sources.conntrack?.() ?? null;
    } catch (error) {
      this.log?.warn({ err: error }, 'reading the connection table failed');
    }
    this.tableSnapshot = { at: now, summary };
    return summary;
  }

  /** The dynamic sets' entries, walked again once the last walk is old enough (SET_WALK_REUSE). */
  private readSets(): SetSummary[] {
    const now = Date.now();
    if (this.setSnapshot && now < this.setSnapshot.until) return this.setSnapshot.sets;
    let sets: SetSummary[] = [];
    try {
      sets = this.sources.dynamicSets?.() ?? [];
    } catch (error) {
      this.log?.warn({ err: error }, 'counting the dynamic sets failed');
    }
    const took = Date.now() - now;
    this.setSnapshot = { until: Date.now() + Math.max(SNAPSHOT_TTL_MS, SET_WALK_REUSE * took), sets };
    return sets;
  }

  private read(): InterfaceStats[] {
    const now = Date.now();
    if (this.snapshot && now - this.snapshot.at < SNAPSHOT_TTL_MS) return this.snapshot.stats;
    const stats: InterfaceStats[] = [];
    for (const i of this.sources.interfaces()) {
      if (!i.enforced) continue;
      try {
        stats.push(this.sources.stats(i.name));
      } catch (error) {
        this.log?.warn({ interface: i.name, err: error }, 'reading counters failed');
      }
    }
    this.snapshot = { at: now, stats };
    return stats;
  }

  /** Forget the cached counters (after a reload, the next scrape reads the new program). */
  invalidate(): void {
    this.snapshot = undefined;
  }
}

/**
 * /metrics, /healthz and /livez, over HTTPS and behind passwords when a web
 * configuration says so (web-server.ts). Healthy while every managed
 * interface is enforced; alive while the daemon answers at all (a liveness
 * probe: a restart does not bring back a missing interface, so /healthz's
 * 503 is no reason for one).
 */
export function metricsServer(metrics: ControllerMetrics, sources: MetricsSources, log: Logger, web?: LiveWebConfig): Server {
  const serve: http.RequestListener = (req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url === '/metrics') {
      metrics.invalidate();
      metrics.registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text))
        .catch((error: unknown) => {
          log.error({ err: error }, 'collecting metrics failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
        });
      return;
    }
    if (url === '/healthz') {
      const interfaces = sources.interfaces();
      const healthy = interfaces.every((i) => i.enforced);
      const body = {
        status: healthy ? 'ok' : 'unprotected',
        interfaces: interfaces.map((i) => ({
          name: i.name,
          enforced: i.enforced,
          source: i.source,
          failing: i.failing,
          lastError: i.lastError,
          lastSuccessAt: i.lastSuccessAt?.toISOString(),
        })),
      };
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(body)}\n`);
      return;
    }
    if (url === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz or /livez\n');
  };
  return webServer(serve, web, log);
}

/** Starts listening; rejects when the address cannot be bound. */
export function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}
