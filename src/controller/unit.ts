/**
 * One policy source and the interfaces it governs: the controller's unit of
 * reloading. A reload reads the source (fetching, for git), decides whether
 * the revision is new, compiles it, loads a program per interface and only
 * then swaps them in (src/app/enforce.ts). Anything that goes wrong is
 * logged, counted and recorded in the state; the policy in force stays, and
 * the unit waits for the next change, poll or SIGHUP.
 */

import type { Enforced } from '../app/enforce.js';
import type { LoadedPolicy } from '../app/policy-loader.js';
import type { RefusedReload } from '../app/state.js';
import type { CompiledInterface } from '../compiler/output.js';
import type { InterfaceConfig } from './config.js';
import { decideCommit, decideEnforce, decideWithoutPolicy, type CommitMemory, type EnforceDecision } from './decisions.js';
import type { KernelPort, ProgramHandle } from './kernel.js';
import { UserError } from '../app/user-error.js';
import type { Logger } from './logger.js';
import { CompileLimitError } from './sources/bounded-load.js';
import { UnsignedCommitError } from './sources/commit-signature.js';
import type { PolicyRevision, PolicySource } from './sources/source.js';
import { LinkWatch } from './link-watch.js';
import { ReloadQueue, realTimers, type Timers } from './timers.js';

export type ReloadTrigger = 'start' | 'change' | 'poll' | 'signal' | 'retry' | 'link';
export type ReloadResult = 'applied' | 'unchanged' | 'refused' | 'failed';

export interface ReloadRequest {
  trigger: ReloadTrigger;
  /** Load the source's revision even if it was seen before (SIGHUP, start). */
  force: boolean;
}

/** What the metrics and /healthz know about an interface. */
export interface InterfaceHealth {
  name: string;
  source: string;
  /** The pinned xdpfw link holds a program on the interface. */
  enforced: boolean;
  lastSuccessAt?: Date;
  /** The last reload attempt was refused or failed (the previous policy stayed). */
  failing: boolean;
  lastError?: string;
}

export interface ReloadObserver {
  reloaded(ifname: string, result: ReloadResult): void;
  sourceError(ifname: string): void;
  /** Another writer replaced the daemon's program on the interface. */
  drifted?(ifname: string): void;
}

export interface UnitOptions {
  source: PolicySource;
  interfaces: InterfaceConfig[];
  kernel: KernelPort;
  log: Logger;
  observer?: ReloadObserver;
  controller?: { pid: number; startedAt: string };
  timers?: Timers;
  /** First delay before retrying a reload that failed for a reason other than the policy's content (doubles up to 5 min). */
  retryMs?: number;
  /** When given, the interfaces are looked at this often, and re-attached when they come back (link-watch.ts). */
  linkPollMs?: number;
}

const MAX_RETRY_MS = 5 * 60_000;

/** The first line of a rendered diagnostic: `file:line:col: severity[code]: message`. */
const headline = (rendered: string): string => rendered.split('\n')[0];

export class PolicyUnit {
  readonly memory: CommitMemory = {};
  readonly health: Map<string, InterfaceHealth>;
  private readonly queue: ReloadQueue<ReloadRequest>;
  private readonly timers: Timers;
  private retryTimer: unknown;
  private retryDelayMs = 0;
  private stopped = false;
  private links: LinkWatch | undefined;
  /** Per interface, the program this daemon last put there (or adopted): anything else there is drift. */
  private readonly own = new Map<string, number>();

  constructor(private readonly o: UnitOptions) {
    this.timers = o.timers ?? realTimers;
    this.queue = new ReloadQueue((r) => this.reloadSurviving(r));
    this.health = new Map(
      o.interfaces.map((i) => [i.name, { name: i.name, source: o.source.description, enforced: false, failing: false }]),
    );
  }

  get source(): PolicySource {
    return this.o.source;
  }

  /** Asks for a reload; requests during a reload are coalesced into one more. */
  request(r: ReloadRequest): void {
    this.queue.request(r);
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  /**
   * A first reload (adoption), then the source's watcher or poller and the
   * link watch: these start whatever the first reload met (a missing
   * interface, a kernel refusal), or later edits would never be applied.
   */
  async start(): Promise<void> {
    await this.reloadSurviving({ trigger: 'start', force: true });
    this.o.source.start(() => this.request({ trigger: this.o.source.description.startsWith('git') ? 'poll' : 'change', force: false }));
    if (this.o.linkPollMs !== undefined) {
      this.links = new LinkWatch({
        interfaces: this.o.interfaces.map((i) => i.name),
        kernel: this.o.kernel,
        log: this.log,
        timers: this.timers,
        periodMs: this.o.linkPollMs,
        // Forced: a git head already applied must be applied again to the new interface.
        reattach: () => this.request({ trigger: 'link', force: true }),
        ours: (name) => this.own.get(name),
        drifted: (name) => this.o.observer?.drifted?.(name),
      });
      this.links.start();
    }
  }

  /** Stops retrying and looking at the interfaces (the source is closed by its owner). */
  stop(): void {
    this.stopped = true;
    this.clearRetry();
    this.links?.stop();
  }

  /** A reload that throws is a bug: it is logged and retried like a kernel failure, and the unit keeps going. */
  private async reloadSurviving(r: ReloadRequest): Promise<void> {
    try {
      await this.reload(r);
    } catch (error) {
      this.log.error({ trigger: r.trigger, err: error }, 'reload failed unexpectedly (a bug); the policy in force stays');
      for (const i of this.o.interfaces) {
        const h = this.health.get(i.name)!;
        h.failing = true;
        h.lastError = (error as Error).message;
        this.o.observer?.reloaded(i.name, 'failed');
      }
      this.scheduleRetry();
    }
  }

  /**
   * A missing interface at boot, a full disk or a kernel refusal may pass:
   * try again later, ever more slowly, while nothing else triggers a reload.
   */
  private scheduleRetry(): void {
    if (this.stopped) return;
    if (this.retryTimer !== undefined) this.timers.clearTimeout(this.retryTimer);
    this.retryDelayMs = Math.min(MAX_RETRY_MS, this.retryDelayMs === 0 ? (this.o.retryMs ?? 10_000) : this.retryDelayMs * 2);
    this.log.info({ retryInSeconds: this.retryDelayMs / 1000 }, 'will retry the reload');
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = undefined;
      this.request({ trigger: 'retry', force: true });
    }, this.retryDelayMs);
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.retryDelayMs = 0;
  }

  private get log(): Logger {
    return this.o.log;
  }

  async reload(r: ReloadRequest): Promise<void> {
    const reading = await this.o.source.read();
    if (reading.error) {
      this.log.warn(
        { trigger: r.trigger, err: reading.error, source: this.o.source.description },
        'policy source unavailable; the policy in force stays',
      );
      for (const i of this.o.interfaces) this.o.observer?.sourceError(i.name);
    }
    const revision = reading.revision;
    if (!revision) {
      if (r.trigger === 'start') this.keepWhatIsPinned('the source has no policy yet');
      this.refreshEnforced();
      return;
    }
    if (revision.commit !== undefined) {
      const decision = decideCommit(revision.commit, this.memory, r.force);
      if (decision !== 'load') {
        this.log.debug({ trigger: r.trigger, commit: revision.commit, decision }, 'nothing new');
        return;
      }
    }
    const names = this.o.interfaces.map((i) => i.name).join(', ');
    try {
      await this.o.kernel.exclusive(`xdpfw run (pid ${process.pid}, reloading ${names})`, () => this.apply(revision, r));
    } catch (error) {
      if (!(error instanceof UserError && error.code === 'busy')) throw error;
      // Nothing was looked at or changed: try again later, and leave the state files to the holder.
      this.log.warn({ trigger: r.trigger, err: error.message }, 'another writer holds the lock; the reload is retried');
      for (const i of this.o.interfaces) {
        const h = this.health.get(i.name)!;
        h.failing = true;
        h.lastError = error.message;
        this.o.observer?.reloaded(i.name, 'failed');
      }
      this.scheduleRetry();
    }
  }

  private async apply(revision: PolicyRevision, r: ReloadRequest): Promise<void> {
    const started = this.timers.now();
    const where = { trigger: r.trigger, policy: revision.policyFile, commit: revision.commit };
    let loaded: LoadedPolicy;
    try {
      loaded = await revision.load();
    } catch (error) {
      // Too big or too slow to compile, or not signed as required: the content is at fault, as with a syntax error.
      if (error instanceof CompileLimitError || error instanceof UnsignedCommitError) {
        this.refuse(revision, r, 'invalid', error.message, []);
        return;
      }
      this.refuse(revision, r, 'source', `reading the policy failed: ${(error as Error).message}`, []);
      return;
    }
    for (const text of loaded.rendered) {
      if (/^[^\n]*: warning\[/.test(text)) this.log.warn({ ...where, diagnostic: headline(text) }, headline(text));
    }
    if (!loaded.compiled) {
      const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
      const missing = errors.length > 0 && errors.every((d) => d.code === 'file-not-found');
      const shown = loaded.rendered.filter((t) => /^[^\n]*: error\[/.test(t));
      this.refuse(revision, r, missing ? 'source' : 'invalid', `${errors.length} error(s) in the policy`, shown);
      return;
    }
    const blocks = new Map<string, CompiledInterface>(loaded.compiled.interfaces.map((b) => [b.name, b]));
    const absent = this.o.interfaces.filter((i) => !blocks.has(i.name)).map((i) => i.name);
    if (absent.length > 0) {
      const defined = [...blocks.keys()].join(', ') || 'none';
      this.refuse(revision, r, 'invalid', `the policy has no interface block for ${absent.join(', ')} (it defines: ${defined})`, []);
      return;
    }

    const present = this.o.interfaces.filter((i) => this.o.kernel.inspect(i.name).ifindex !== undefined);
    // A missing interface does not hold the others back: it is retried, and the link watch sees it appear.
    const missing = this.o.interfaces.filter((i) => !present.includes(i));
    for (const i of missing) {
      this.refuseOne(i.name, revision, r, 'kernel', `interface ${i.name} does not exist; the policy is attached once it appears`, []);
    }
    const plans = present.map((i) => {
      const block = blocks.get(i.name)!;
      const view = this.o.kernel.inspect(i.name);
      return {
        config: i,
        block,
        view,
        decision: decideEnforce(view, block.hash) as EnforceDecision,
        program: undefined as ProgramHandle | undefined,
      };
    });
    try {
      // Every program is loaded and filled before any interface changes.
      try {
        for (const p of plans) {
          if (p.decision === 'adopt') continue;
          p.program = await this.o.kernel.load(p.block);
          for (const notice of p.program.notices ?? []) this.log.warn({ interface: p.config.name }, notice);
        }
      } catch (error) {
        const failure = kernelFailure(error);
        this.refuse(revision, r, 'kernel', failure.message, failure.detail);
        return;
      }
      let failures = missing.length;
      for (const p of plans) {
        const ok = p.program
          ? await this.enforceOne(p.config, p.block, p.program, revision, r, started)
          : this.adopt(p.config, p.block, revision, r);
        if (!ok) failures++;
      }
      if (failures === 0) {
        this.memory.applied = revision.commit;
        this.memory.refused = undefined;
        this.clearRetry();
      } else {
        this.memory.refused = revision.commit ? { commit: revision.commit, permanent: false } : undefined;
        this.scheduleRetry();
      }
    } finally {
      for (const p of plans) p.program?.close();
      this.refreshEnforced();
    }
  }

  /** The source's policy runs already: keep the program and its counters, note the commit. */
  private adopt(config: InterfaceConfig, block: CompiledInterface, revision: PolicyRevision, r: ReloadRequest): boolean {
    const h = this.health.get(config.name)!;
    try {
      this.o.kernel.updateState(config.name, (s) => {
        s.source = this.o.source.description;
        s.policyFile = revision.policyFile;
        if (revision.commit !== undefined) s.commit = revision.commit;
        delete s.refused;
        if (this.o.controller) s.controller = this.o.controller;
      });
    } catch (error) {
      this.log.warn({ interface: config.name, err: error }, 'could not record the state (disk full?); the policy is in force');
    }
    const msg = r.trigger === 'start' ? 'adopted the pinned program: it already enforces this policy' : 'policy unchanged';
    const progId = this.o.kernel.inspect(config.name).progId;
    if (progId !== undefined) this.own.set(config.name, progId);
    this.log.info({ interface: config.name, trigger: r.trigger, hash: block.hash, commit: revision.commit, progId }, msg);
    h.failing = false;
    h.lastError = undefined;
    h.lastSuccessAt ??= new Date(this.timers.now());
    this.o.observer?.reloaded(config.name, 'unchanged');
    return true;
  }

  private async enforceOne(
    config: InterfaceConfig,
    block: CompiledInterface,
    program: ProgramHandle,
    revision: PolicyRevision,
    r: ReloadRequest,
    started: number,
  ): Promise<boolean> {
    const h = this.health.get(config.name)!;
    let enforced: Enforced;
    // Ours before the swap: the link watch may look while the swap is under way.
    const before = this.own.get(config.name);
    this.own.set(config.name, program.progId);
    try {
      enforced = await this.o.kernel.enforce(block, program, {
        mode: config.mode,
        policyFile: revision.policyFile,
        source: this.o.source.description,
        commit: revision.commit,
        controller: this.o.controller,
      });
    } catch (error) {
      const live = this.o.kernel.inspect(config.name);
      if (!(live.attached && live.progId === program.progId)) {
        if (before === undefined) this.own.delete(config.name);
        else this.own.set(config.name, before);
      }
      if (live.attached && live.progId === program.progId) {
        // Swapped in, but the state could not be written (a full disk): the policy is in force.
        this.log.error(
          { interface: config.name, err: error, progId: program.progId },
          'policy applied, but its state could not be recorded',
        );
        this.succeeded(h, config.name);
        return true;
      }
      const failure = kernelFailure(error);
      this.refuseOne(config.name, revision, r, 'kernel', failure.message, failure.detail);
      return false;
    }
    const ms = this.timers.now() - started;
    this.log.info(
      {
        interface: config.name,
        trigger: r.trigger,
        action: enforced.replaced ? 'replaced' : 'attached',
        hash: block.hash,
        commit: revision.commit,
        progId: enforced.state.progId,
        rules: block.rules.length,
        countersKept: enforced.carried,
        reloadMs: ms,
        swapMs: enforced.swapMs === undefined ? undefined : Number(enforced.swapMs.toFixed(3)),
        mode: enforced.state.mode,
      },
      enforced.replaced ? 'policy replaced atomically' : 'policy attached',
    );
    if (enforced.nativeError)
      this.log.warn({ interface: config.name, nativeError: enforced.nativeError }, 'native mode refused; attached in generic mode');
    this.succeeded(h, config.name);
    return true;
  }

  private succeeded(h: InterfaceHealth, ifname: string): void {
    h.failing = false;
    h.lastError = undefined;
    h.lastSuccessAt = new Date(this.timers.now());
    this.o.observer?.reloaded(ifname, 'applied');
  }

  private refuse(
    revision: PolicyRevision,
    r: ReloadRequest,
    reason: RefusedReload['reason'],
    message: string,
    diagnostics: string[],
  ): void {
    for (const i of this.o.interfaces) this.refuseOne(i.name, revision, r, reason, message, diagnostics);
    if (revision.commit !== undefined) this.memory.refused = { commit: revision.commit, permanent: reason === 'invalid' };
    // Content that was refused will not get better by itself: wait for a change.
    if (reason === 'invalid') this.clearRetry();
    else this.scheduleRetry();
    if (r.trigger === 'start') this.keepWhatIsPinned('the policy was refused');
  }

  private refuseOne(
    ifname: string,
    revision: PolicyRevision,
    r: ReloadRequest,
    reason: RefusedReload['reason'],
    message: string,
    diagnostics: string[],
  ): void {
    const h = this.health.get(ifname)!;
    const verb = reason === 'invalid' ? 'refused' : 'failed';
    this.log.error(
      {
        interface: ifname,
        trigger: r.trigger,
        policy: revision.policyFile,
        commit: revision.commit,
        reason,
        diagnostics: diagnostics.length ? diagnostics : undefined,
      },
      `reload ${verb}: ${message}; the policy in force stays`,
    );
    h.failing = true;
    h.lastError = message;
    this.o.observer?.reloaded(ifname, reason === 'invalid' ? 'refused' : 'failed');
    const refused: RefusedReload = {
      at: new Date(this.timers.now()).toISOString(),
      source: this.o.source.description,
      commit: revision.commit,
      reason,
      message,
      diagnostics: diagnostics.map(headline).slice(0, 20),
    };
    try {
      this.o.kernel.updateState(ifname, (s) => {
        s.refused = refused;
      });
    } catch (error) {
      this.log.warn({ interface: ifname, err: error }, 'could not record the refusal in the state (disk full?)');
    }
  }

  /** At start without a usable policy: what is pinned stays, or the interface is bare and we say so loudly. */
  private keepWhatIsPinned(why: string): void {
    for (const i of this.o.interfaces) {
      const view = this.o.kernel.inspect(i.name);
      if (decideWithoutPolicy(view) === 'keep-pinned') {
        this.log.warn(
          { interface: i.name, progId: view.progId, hash: view.stateHash, commit: view.state?.commit },
          `${why}: keeping the pinned policy`,
        );
      } else {
        this.log.error(
          { interface: i.name },
          `${why}, and xdpfw enforces nothing on this interface yet: it is unprotected until a valid policy comes`,
        );
      }
    }
  }

  /** Whether each interface is enforced, as the kernel says now. */
  refreshEnforced(): void {
    for (const i of this.o.interfaces) {
      const h = this.health.get(i.name)!;
      try {
        h.enforced = this.o.kernel.inspect(i.name).attached;
      } catch {
        h.enforced = false; // the interface is gone
      }
    }
  }
}

/** A kernel error's first line, and the rest (the verifier's or libbpf's last lines) as detail. */
function kernelFailure(error: unknown): { message: string; detail: string[] } {
  const lines = (error instanceof Error ? error.message : String(error)).split('\n');
  return {
    message: lines[0],
    detail: lines
      .slice(1)
      .map((l) => l.trim())
      .filter(Boolean)
      .slice(-12),
  };
}
