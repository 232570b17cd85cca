/**
 * `xdpfw gc` run by the daemon itself, at start and then periodically: the
 * pins of namespaces and interfaces that went away keep their programs and
 * maps in kernel memory until someone removes them, and on a host where
 * containers come and go nobody would. It runs under the run directory's
 * lock, like the command; a busy lock just waits for the next round. The
 * daemon's own interfaces are never freed, even while they are gone: the
 * link watch attaches their policy again when they return.
 */

import { UserError } from '../app/user-error.js';
import type { FreedPins } from '../xdp/index.js';
import type { KernelPort } from './kernel.js';
import type { Logger } from './logger.js';
import type { Timers } from './timers.js';

export interface CollectorObserver {
  collected(freed: FreedPins[]): void;
}

export interface PinCollectorOptions {
  kernel: KernelPort;
  log: Logger;
  timers: Timers;
  periodMs: number;
  /** The daemon's own interfaces. */
  keep: readonly string[];
  observer?: CollectorObserver;
}

export class PinCollector {
  private timer: unknown;
  private stopped = false;
  private running: Promise<FreedPins[]> | undefined;

  constructor(private readonly o: PinCollectorOptions) {}

  /** One round now; what it freed (nothing when the lock was busy or the round failed). */
  collect(): Promise<FreedPins[]> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<FreedPins[]> {
    let freed: FreedPins[];
    try {
      freed = await this.o.kernel.exclusive(`xdpfw run (pid ${process.pid}, gc)`, async () => this.o.kernel.collectGarbage(this.o.keep));
    } catch (error) {
      if (error instanceof UserError && error.code === 'busy')
        this.o.log.info({ err: error.message }, 'gc skipped: another writer holds the lock');
      else this.o.log.error({ err: error }, 'gc failed; it is tried again at the next round');
      return [];
    }
    for (const f of freed) {
      this.o.log.info(
        { netns: f.netns, interface: f.interface ?? undefined, reason: f.reason, progId: f.progId ?? undefined },
        'freed stale pins',
      );
    }
    this.o.observer?.collected(freed);
    return freed;
  }

  /** Rounds every `periodMs` from now on. */
  start(): void {
    if (this.stopped) return;
    this.timer = this.o.timers.setTimeout(() => {
      void this.collect().finally(() => this.start());
    }, this.o.periodMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.o.timers.clearTimeout(this.timer);
    await this.running;
  }
}
