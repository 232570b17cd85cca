import { describe, expect, it } from 'vitest';

import { UserError } from '../../../src/app/user-error.js';
import { configFromOptions } from '../../../src/controller/config.js';
import { Controller } from '../../../src/controller/controller.js';
import type { FreedPins } from '../../../src/xdp/index.js';
import { FakeKernel, FakeSource, FakeTimers, block, compiled, memoryLogger } from './fakes.js';

const stale = (netns: string, ifname: string | null, reason: FreedPins['reason'] = 'netns-gone'): FreedPins => ({
  netns,
  interface: ifname,
  reason,
  progId: ifname === null ? null : 42,
});

function setup() {
  const kernel = new FakeKernel('eth0');
  const clock = new FakeTimers();
  const { log, events } = memoryLogger();
  const config = configFromOptions({ iface: ['eth0'], git: '/repo', gcInterval: '10m' }, '/');
  const controller = new Controller(config, log, {
    kernel,
    timers: clock,
    makeSource: () => {
      const source = new FakeSource('git');
      source.set(compiled(block('eth0', 'h1')), 'c1');
      return source;
    },
    stats: () => {
      throw new Error('not enforced');
    },
  });
  const freedMetric = async (reason: string) =>
    Number(new RegExp(`^xdpfw_gc_freed_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(await controller.metrics.registry.metrics())?.[1]);
  const freedLogged = () => events.filter((e) => e.msg === 'freed stale pins');
  return { kernel, clock, events, controller, freedMetric, freedLogged };
}

/** Lets the promise chains a fired timer started run to their end. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('the daemon frees stale pins itself', () => {
  it('at start, before the first reload, under the lock, never its own interfaces, logged and counted', async () => {
    const { kernel, controller, freedMetric, freedLogged } = setup();
    kernel.garbage = [stale('net-1-2', 'veth0'), stale('net-1-2', 'veth1'), stale('net-3-4', 'eth9', 'interface-gone')];
    await controller.start();
    try {
      expect(kernel.gcKeeps).toEqual([['eth0']]);
      expect(kernel.lockHolders[0]).toBe(`xdpfw run (pid ${process.pid}, gc)`);
      expect(kernel.lockHolders[1]).toMatch(/reloading eth0/);
      expect(freedLogged().map((e) => [e.netns, e.interface, e.reason])).toEqual([
        ['net-1-2', 'veth0', 'netns-gone'],
        ['net-1-2', 'veth1', 'netns-gone'],
        ['net-3-4', 'eth9', 'interface-gone'],
      ]);
      expect(await freedMetric('netns-gone')).toBe(2);
      expect(await freedMetric('interface-gone')).toBe(1);
    } finally {
      await controller.stop();
    }
  });

  it('again every period; a busy lock skips a round without failing', async () => {
    const { kernel, clock, events, controller, freedMetric } = setup();
    await controller.start();
    try {
      expect(kernel.gcKeeps).toHaveLength(1);
      kernel.garbage = [stale('net-5-6', null)];
      clock.advance(10 * 60_000 - 1);
      await settle();
      expect(kernel.gcKeeps).toHaveLength(1);
      clock.advance(1);
      await settle();
      expect(kernel.gcKeeps).toHaveLength(2);
      expect(await freedMetric('netns-gone')).toBe(1);

      kernel.lockBusy = new UserError('busy', 'held by xdpfw apply (pid 7)', 5);
      clock.advance(10 * 60_000);
      await settle();
      expect(events.some((e) => e.msg === 'gc skipped: another writer holds the lock')).toBe(true);
      kernel.lockBusy = undefined;
      clock.advance(10 * 60_000);
      await settle();
      expect(kernel.gcKeeps).toHaveLength(3);
    } finally {
      await controller.stop();
    }
  });
});
