import { describe, expect, it } from 'vitest';

import { Debouncer, ReloadQueue } from '../../../src/controller/timers.js';
import { FakeTimers } from './fakes.js';

describe('Debouncer', () => {
  it('runs once after a burst of changes, when the quiet time has passed since the last one', () => {
    const clock = new FakeTimers();
    let runs = 0;
    const d = new Debouncer(() => runs++, 300, clock);
    d.trigger();
    clock.advance(200);
    d.trigger();
    clock.advance(200);
    d.trigger();
    clock.advance(299);
    expect(runs).toBe(0);
    clock.advance(1);
    expect(runs).toBe(1);
    clock.advance(10_000);
    expect(runs).toBe(1);
  });

  it('does not wait forever for a file that keeps changing: at most maxWait after the first change', () => {
    const clock = new FakeTimers();
    let runs = 0;
    const d = new Debouncer(() => runs++, 300, clock, 1000);
    for (let t = 0; t < 1000; t += 100) {
      d.trigger();
      clock.advance(100);
    }
    expect(runs).toBe(1);
  });

  it('a change after a run starts a new quiet period', () => {
    const clock = new FakeTimers();
    let runs = 0;
    const d = new Debouncer(() => runs++, 300, clock);
    d.trigger();
    clock.advance(300);
    d.trigger();
    expect(d.pending).toBe(true);
    clock.advance(300);
    expect(runs).toBe(2);
  });

  it('cancel drops a pending run', () => {
    const clock = new FakeTimers();
    let runs = 0;
    const d = new Debouncer(() => runs++, 300, clock);
    d.trigger();
    d.cancel();
    clock.advance(1000);
    expect(runs).toBe(0);
  });
});

describe('ReloadQueue', () => {
  it('never runs two reloads at once and coalesces requests made during one into a single next run', async () => {
    const runs: boolean[] = [];
    let release: () => void = () => undefined;
    let active = 0;
    let maxActive = 0;
    const q = new ReloadQueue<{ force: boolean }>(async (r) => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs.push(r.force);
      await new Promise<void>((resolve) => (release = resolve));
      active--;
    });
    q.request({ force: false });
    q.request({ force: false });
    q.request({ force: true });
    q.request({ force: false });
    release();
    await new Promise((r) => setImmediate(r));
    release();
    await q.idle();
    expect(runs).toEqual([false, true]); // the second run keeps the force of any coalesced request
    expect(maxActive).toBe(1);
  });

  it('keeps going after a reload throws', async () => {
    let n = 0;
    const q = new ReloadQueue<{ force: boolean }>(async () => {
      n++;
      throw new Error('boom');
    });
    q.request({ force: false });
    await q.idle();
    q.request({ force: false });
    await q.idle();
    expect(n).toBe(2);
  });
});
