/**
 * The connection table's summary for the metrics, read in the background
 * rather than when scraped: walking a table of a million entries takes about
 * a third of a second even in batches, longer than a scrape should wait.
 * The walk goes a batch per turn of the event loop (readConntrackSummaryInTurns),
 * so /healthz, signals and file events wait for one batch at most; it
 * starts again `refreshMs` after the last one ended, and a scrape gets the
 * last figure only while it is at most `maxAgeMs` old (docs/controller.md).
 */

import type { ConntrackSummary } from '../xdp/index.js';
import type { Logger } from './logger.js';
import { realTimers, type Timers } from './timers.js';

export interface SummaryCacheOptions {
  /** From the end of one walk to the start of the next. */
  refreshMs: number;
  /** Oldest figure a scrape is given, counted from the start of its walk. */
  maxAgeMs: number;
}

export const SUMMARY_CACHE: SummaryCacheOptions = { refreshMs: 5_000, maxAgeMs: 10_000 };

export class ConntrackSummaryCache {
  private last: { at: number; summary: ConntrackSummary | null } | undefined;
  private timer: unknown;
  private walk: Promise<void> | undefined;
  private running = false;

  constructor(
    private readonly read: () => Promise<ConntrackSummary | null>,
    private readonly log?: Logger,
    private readonly timers: Timers = realTimers,
    private readonly options: SummaryCacheOptions = SUMMARY_CACHE,
  ) {}

  /** The last summary if its walk started at most maxAgeMs ago; else null, as when no policy uses ct state. */
  latest(): ConntrackSummary | null {
    if (!this.last || this.timers.now() - this.last.at > this.options.maxAgeMs) return null;
    return this.last.summary;
  }

  /** Reads now, then again and again until stopped. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.refresh();
  }

  /** Stops refreshing; resolves once a walk under way has ended (its tables closed). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.walk;
  }

  private refresh(): void {
    this.timer = undefined;
    const at = this.timers.now();
    this.walk = this.read()
      .then(
        (summary) => {
          this.last = { at, summary };
        },
        // The last figure stays until it is too old: a scrape then shows no table series rather than stale ones.
        (error: unknown) => this.log?.warn({ err: error }, 'reading the connection table failed'),
      )
      .finally(() => {
        this.walk = undefined;
        if (this.running) this.timer = this.timers.setTimeout(() => this.refresh(), this.options.refreshMs);
      });
  }
}
