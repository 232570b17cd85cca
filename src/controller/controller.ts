/**
 * `xdpfw run`: keeps interfaces under their policy sources. Interfaces that
 * share a source form one unit (one watcher or poller, one compile per
 * change). At start every unit adopts what is pinned when it matches its
 * source, or replaces it atomically; then it reloads on change, poll and
 * SIGHUP. Stopping leaves every policy in force unless `detachOnExit`.
 */

import type { Server } from 'node:net';

import { interfaceStats } from '../app/counters.js';
import { dynamicSetSummaries } from '../app/dynamic-sets.js';
import { readConntrackSummaryInTurns, type ConntrackSummary } from '../xdp/index.js';
import { DEFAULTS, sourceKey, type ControllerConfig, type InterfaceConfig } from './config.js';
import { ConntrackSummaryCache } from './conntrack-cache.js';
import { DecisionLog, type DecisionLogOptions } from './decision-log.js';
import { realKernel, type KernelPort } from './kernel.js';
import type { Logger } from './logger.js';
import { ControllerMetrics, listen, metricsServer, type MetricsSources } from './metrics.js';
import { FileSource, REARM_MS } from './sources/file-source.js';
import { GitSource } from './sources/git-source.js';
import type { PolicySource } from './sources/source.js';
import { PinCollector } from './pin-collector.js';
import { realTimers, type Timers } from './timers.js';
import type { WebConfig } from './web-config.js';
import { LiveWebConfig } from './web-server.js';
import { PolicyUnit, type InterfaceHealth } from './unit.js';

export interface ControllerDeps {
  kernel?: KernelPort;
  /** Makes the source of a group of interfaces (tests pass fakes). */
  makeSource?: (config: InterfaceConfig, log: Logger) => PolicySource;
  stats?: MetricsSources['stats'];
  /** Reads the connection table's summary (in the background, for the metrics). */
  conntrack?: () => Promise<ConntrackSummary | null>;
  dynamicSets?: MetricsSources['dynamicSets'];
  timers?: Timers;
  /** Where the rule decision log reads the kernel (tests pass fakes). */
  decisions?: Pick<DecisionLogOptions, 'rings' | 'programOf' | 'stateOf'>;
  /** The metrics endpoint's TLS and users, read from `config.webConfig` at start (run.ts). */
  web?: WebConfig;
}

export class Controller {
  readonly units: PolicyUnit[] = [];
  readonly metrics: ControllerMetrics;
  private server: Server | undefined;
  private readonly web: LiveWebConfig | undefined;
  private readonly kernel: KernelPort;
  private readonly sources: MetricsSources;
  private readonly collector: PinCollector;
  private readonly tableSummary: ConntrackSummaryCache;
  private readonly decisions: DecisionLog;
  private stopping = false;

  constructor(
    private readonly config: ControllerConfig,
    private readonly log: Logger,
    deps: ControllerDeps = {},
  ) {
    this.kernel = deps.kernel ?? realKernel;
    this.web = deps.web && new LiveWebConfig(deps.web);
    const makeSource = deps.makeSource ?? ((c, l) => this.defaultSource(c, l));
    const groups = new Map<string, InterfaceConfig[]>();
    for (const i of config.interfaces) {
      const key = sourceKey(i.source);
      groups.set(key, [...(groups.get(key) ?? []), i]);
    }
    const controller = { pid: process.pid, startedAt: new Date().toISOString() };
    this.tableSummary = new ConntrackSummaryCache(
      deps.conntrack ?? (() => readConntrackSummaryInTurns(process.hrtime.bigint())),
      log.child({ component: 'metrics' }),
      deps.timers ?? realTimers,
    );
    this.sources = {
      interfaces: () => this.health(),
      stats: deps.stats ?? interfaceStats,
      conntrack: () => this.tableSummary.latest(),
      dynamicSets: deps.dynamicSets ?? dynamicSetSummaries,
    };
    this.metrics = new ControllerMetrics(this.sources, log.child({ component: 'metrics' }));
    this.collector = new PinCollector({
      kernel: this.kernel,
      log: log.child({ component: 'gc' }),
      timers: deps.timers ?? realTimers,
      periodMs: (config.gcSeconds ?? DEFAULTS.gcSeconds) * 1000,
      keep: config.interfaces.map((i) => i.name),
      observer: this.metrics,
    });
    this.decisions = new DecisionLog({
      ...deps.decisions,
      interfaces: config.interfaces.map((i) => i.name),
      log: log.child({ component: 'decisions' }),
      timers: deps.timers ?? realTimers,
    });
    for (const interfaces of groups.values()) {
      const unitLog = log.child({ component: interfaces[0].source.kind === 'git' ? 'git' : 'file' });
      this.units.push(
        new PolicyUnit({
          source: makeSource(interfaces[0], unitLog),
          interfaces,
          kernel: this.kernel,
          log: unitLog,
          observer: this.metrics,
          controller,
          retryMs: (config.retrySeconds ?? DEFAULTS.retrySeconds) * 1000,
          linkPollMs: (config.linkPollSeconds ?? DEFAULTS.linkPollSeconds) * 1000,
        }),
      );
    }
  }

  private defaultSource(c: InterfaceConfig, log: Logger): PolicySource {
    const limits = {
      memoryMb: this.config.compileMemoryMb ?? DEFAULTS.compileMemoryMb,
      timeoutMs: (this.config.compileTimeoutSeconds ?? DEFAULTS.compileTimeoutSeconds) * 1000,
    };
    if (c.source.kind === 'file') return new FileSource(c.source.path, this.config.debounceMs, log, realTimers, REARM_MS, limits);
    return new GitSource({ ...c.source, cacheDir: this.config.cacheDir, compileLimits: limits }, log);
  }

  /** What each managed interface looks like now (asks the kernel whether it is still enforced). */
  health(): InterfaceHealth[] {
    for (const u of this.units) u.refreshEnforced();
    return this.units.flatMap((u) => [...u.health.values()]);
  }

  /** Binds the metrics endpoint (failing early if it cannot), then adopts or applies every unit's policy. */
  async start(): Promise<void> {
    const log = this.log.child({ component: 'controller' });
    log.info({ interfaces: this.config.interfaces.map((i) => ({ name: i.name, source: sourceKey(i.source), mode: i.mode })) }, 'starting');
    if (this.config.metrics) {
      const { host, port } = this.config.metrics;
      this.server = metricsServer(this.metrics, this.sources, this.log.child({ component: 'metrics' }), this.web);
      const address = await listen(this.server, host, port);
      const secured = { tls: this.web?.current.tls !== undefined, basicAuth: (this.web?.current.users.size ?? 0) > 0 };
      log.info({ address: `${address.address}:${address.port}`, ...secured }, 'serving /metrics and /healthz');
      this.tableSummary.start();
    }
    // Before the first reload: what vanished namespaces left pinned is freed first.
    await this.collector.collect();
    for (const unit of this.units) {
      try {
        await unit.start();
      } catch (error) {
        // A bug, not a policy or kernel problem (those are handled inside): log it, keep the others going.
        log.error({ err: error, source: unit.source.description }, 'starting a policy source failed');
      }
    }
    this.collector.start();
    this.decisions.start();
    log.info({}, 'running');
  }

  /**
   * SIGHUP, for the metrics endpoint: `next` (the web configuration read
   * again) serves from the next request and connection; the reason when it
   * cannot without a restart, and the one in force stays.
   */
  replaceWebConfig(next: WebConfig): string | undefined {
    if (!this.web) return 'the daemon started without a web configuration: restart it to use one';
    return this.web.replace(next);
  }

  /** SIGHUP: every unit reads its source again and reloads, even a commit refused before. */
  reloadAll(trigger: 'signal' = 'signal'): void {
    this.log.child({ component: 'controller' }).info({}, 'reload requested');
    for (const unit of this.units) unit.request({ trigger, force: true });
  }

  /** Stops watching and polling; leaves every policy in force unless the configuration says to detach. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const log = this.log.child({ component: 'controller' });
    for (const u of this.units) u.stop();
    await this.collector.stop();
    await this.tableSummary.stop();
    await Promise.all(this.units.map((u) => u.source.close().catch(() => undefined)));
    await Promise.all(this.units.map((u) => u.idle()));
    // After the last reload, before a detach: what the rings hold is logged.
    this.decisions.stop();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    if (this.config.detachOnExit) {
      for (const i of this.config.interfaces) {
        try {
          await this.kernel.exclusive(`xdpfw run (pid ${process.pid}, stopping)`, async () => this.kernel.detach(i.name));
          log.warn({ interface: i.name }, 'detached (--detach-on-exit): the interface is no longer filtered');
        } catch (error) {
          log.error({ interface: i.name, err: error }, 'detaching failed');
        }
      }
    } else {
      log.info({ interfaces: this.config.interfaces.map((i) => i.name) }, 'stopped; the policies stay in force (pinned)');
    }
  }
}
