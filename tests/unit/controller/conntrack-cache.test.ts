import { describe, expect, it } from 'vitest';

import { ConntrackSummaryCache } from '../../../src/controller/conntrack-cache.js';
import type { ConntrackSummary } from '../../../src/xdp/index.js';
import { FakeTimers, memoryLogger } from './fakes.js';

const summary = (tcp: number): ConntrackSummary => ({
  entries: { tcp, udp: 0, icmp: 0 },
  size: { tcp: 1024, udp: 256, icmp: 256 },
  created: { tcp: BigInt(tcp), udp: 0n, icmp: 0n },
  evicted: 0n,
  floodRefused: 0n,
  floodSeconds: 0n,
});

/** A reader whose walks end when the test says, each with the next figure. */
function controlledReader() {
  const walks: { resolve: (s: ConntrackSummary | null) => void; reject: (e: Error) => void }[] = [];
  const read = () => new Promise<ConntrackSummary | null>((resolve, reject) => walks.push({ resolve, reject }));
  return { read, walks };
}

const settle = () => new Promise((r) => setImmediate(r));
const OPTIONS = { refreshMs: 5_000, maxAgeMs: 10_000 };

describe('the connection-table summary kept for the metrics', () => {
  it('gives nothing before its first walk ends, then the figure of the last walk', async () => {
    const timers = new FakeTimers();
    const { read, walks } = controlledReader();
    const cache = new ConntrackSummaryCache(read, undefined, timers, OPTIONS);
    cache.start();
    expect(walks).toHaveLength(1);
    expect(cache.latest()).toBeNull();
    timers.advance(300);
    walks[0].resolve(summary(1));
    await settle();
    expect(cache.latest()).toEqual(summary(1));

    timers.advance(5_000); // refreshMs after the walk ended: the next one starts
    expect(walks).toHaveLength(2);
    walks[1].resolve(summary(2));
    await settle();
    expect(cache.latest()).toEqual(summary(2));
    await cache.stop();
  });

  it('never gives a figure older than maxAgeMs, counted from the start of its walk', async () => {
    const timers = new FakeTimers();
    const { read, walks } = controlledReader();
    const cache = new ConntrackSummaryCache(read, undefined, timers, OPTIONS);
    cache.start();
    timers.advance(2_000);
    walks[0].resolve(summary(1));
    await settle();
    timers.advance(5_000);
    expect(walks).toHaveLength(2); // started 7 s after the figure's walk, and still under way
    timers.advance(3_000);
    expect(cache.latest()).toEqual(summary(1)); // 10 s old
    timers.advance(1);
    expect(cache.latest()).toBeNull();
    walks[1].resolve(summary(2));
    await settle();
    expect(cache.latest()).toEqual(summary(2)); // its walk started 3,001 ms ago
    await cache.stop();
  });

  it('keeps the last figure through a failed walk until it is too old, and logs the failure', async () => {
    const timers = new FakeTimers();
    const { log, events } = memoryLogger();
    const { read, walks } = controlledReader();
    const cache = new ConntrackSummaryCache(read, log, timers, OPTIONS);
    cache.start();
    walks[0].resolve(summary(1));
    await settle();
    timers.advance(5_000);
    walks[1].reject(new Error('EPERM'));
    await settle();
    expect(events.map((e) => e.msg)).toContain('reading the connection table failed');
    expect(cache.latest()).toEqual(summary(1));
    timers.advance(5_001);
    expect(cache.latest()).toBeNull();
    expect(walks).toHaveLength(3); // it keeps trying
    walks[2].resolve(null);
    await cache.stop();
  });

  it('stops refreshing when stopped, after the walk under way', async () => {
    const timers = new FakeTimers();
    const { read, walks } = controlledReader();
    const cache = new ConntrackSummaryCache(read, undefined, timers, OPTIONS);
    cache.start();
    let stopped = false;
    const stopping = cache.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    walks[0].resolve(null);
    await stopping;
    timers.advance(60_000);
    expect(walks).toHaveLength(1);
    expect(timers.scheduled).toBe(0);
  });
});
