/** Timers behind an interface, so reload decisions can be tested with a fake clock. */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * Runs `fn` once `quietMs` have passed without another `trigger()`: an editor
 * that writes a file in several steps, or a `git pull` touching includes and
 * set files one by one, causes one reload. `maxWaitMs` bounds the delay for
 * a file that never stops changing.
 */
export class Debouncer {
  private timer: unknown;
  private firstAt: number | undefined;

  constructor(
    private readonly fn: () => void,
    private readonly quietMs: number,
    private readonly timers: Timers = realTimers,
    private readonly maxWaitMs = Math.max(quietMs * 10, 5000),
  ) {}

  trigger(): void {
    const now = this.timers.now();
    this.firstAt ??= now;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    const wait = Math.max(0, Math.min(this.quietMs, this.firstAt + this.maxWaitMs - now));
    this.timer = this.timers.setTimeout(() => this.fire(), wait);
  }

  get pending(): boolean {
    return this.timer !== undefined;
  }

  cancel(): void {
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.firstAt = undefined;
  }

  private fire(): void {
    this.timer = undefined;
    this.firstAt = undefined;
    this.fn();
  }
}

/**
 * One reload at a time: a request during a reload is remembered (once, and
 * `force` is kept if any request asked for it) and runs when the current one
 * ends, so a burst of SIGHUPs and file events never overlaps two swaps.
 */
export class ReloadQueue<T extends { force: boolean }> {
  private running = false;
  private next: T | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly run: (request: T) => Promise<void>) {}

  request(r: T): void {
    if (this.running) {
      this.next = this.next ? { ...r, force: this.next.force || r.force } : r;
      return;
    }
    void this.drain(r);
  }

  get busy(): boolean {
    return this.running;
  }

  /** Resolves when no reload runs or waits. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async drain(first: T): Promise<void> {
    this.running = true;
    let r: T | undefined = first;
    while (r) {
      try {
        await this.run(r);
      } catch {
        /* the runner logs its own failures; the queue must keep going */
      }
      r = this.next;
      this.next = undefined;
    }
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
