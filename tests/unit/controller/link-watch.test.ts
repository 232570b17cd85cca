import { describe, expect, it } from 'vitest';

import type { InterfaceConfig } from '../../../src/controller/config.js';
import { decideLink, needsAttach } from '../../../src/controller/decisions.js';
import { PolicyUnit, type ReloadObserver } from '../../../src/controller/unit.js';
import { FakeKernel, FakeSource, FakeTimers, block, compiled, memoryLogger } from './fakes.js';

const eth0: InterfaceConfig = {
  name: 'eth0',
  mode: 'generic',
  source: { kind: 'git', repo: '/repo', branch: 'main', path: 'policy.xdpfw', pollSeconds: 30 },
};

describe('what a change of the interface calls for', () => {
  it.each([
    [{ attached: false }, { attached: false }, 'none'],
    [{ ifindex: 4, attached: true }, { attached: false }, 'removed'],
    [{ attached: false }, { ifindex: 5, attached: false }, 'appeared'],
    [{ ifindex: 4, attached: true }, { ifindex: 5, attached: false }, 'recreated'],
    [{ ifindex: 4, attached: true }, { ifindex: 4, attached: false }, 'detached'],
    [{ ifindex: 4, attached: false }, { ifindex: 4, attached: true }, 'none'],
    [{ ifindex: 4, attached: false }, { ifindex: 4, attached: false }, 'none'],
  ] as const)('%o then %o is %s', (before, now, change) => {
    expect(decideLink(before, now)).toBe(change);
  });

  it.each([
    [{ ifindex: 4, attached: true, progId: 10 }, { ifindex: 4, attached: true, progId: 11 }, 11, 'none'], // our own swap
    [{ ifindex: 4, attached: true, progId: 10 }, { ifindex: 4, attached: true, progId: 12 }, 11, 'replaced'], // someone else's
    [{ ifindex: 4, attached: true, progId: 12 }, { ifindex: 4, attached: true, progId: 12 }, 11, 'none'], // seen once only
    [{ ifindex: 4, attached: true, progId: 10 }, { ifindex: 4, attached: true, progId: 12 }, undefined, 'none'], // nothing of ours yet
  ] as const)('%o then %o, ours %s, is %s', (before, now, ours, change) => {
    expect(decideLink(before, now, ours)).toBe(change);
  });

  it('only a removal is waited out; the interface coming back, losing its link or running another program gets the policy again', () => {
    expect(['removed', 'appeared', 'recreated', 'detached', 'replaced', 'none'].filter((c) => needsAttach(c as never))).toEqual([
      'appeared',
      'recreated',
      'detached',
      'replaced',
    ]);
  });
});

function setup(kernel: FakeKernel, observer?: ReloadObserver) {
  const clock = new FakeTimers();
  const source = new FakeSource('git');
  const { log, events } = memoryLogger();
  const unit = new PolicyUnit({ source, interfaces: [eth0], kernel, log, timers: clock, retryMs: 10_000, linkPollMs: 2000, observer });
  source.set(compiled(block('eth0', 'h1')), 'c1');
  const tick = async (ms = 2000) => {
    clock.advance(ms);
    await unit.idle();
    unit.refreshEnforced();
  };
  const said = (text: string) => events.some((e) => e.interface === 'eth0' && String(e.msg).includes(text));
  return { unit, clock, tick, said, events };
}

describe('a unit follows its interfaces as they come and go', () => {
  it('an interface deleted under the daemon is reported unprotected, and re-attached within one look once re-created', async () => {
    const kernel = new FakeKernel('eth0');
    const { unit, tick, said } = setup(kernel);
    await unit.start();
    expect(unit.health.get('eth0')?.enforced).toBe(true);

    kernel.removeInterface('eth0');
    await tick();
    expect(said('interface removed')).toBe(true);
    expect(unit.health.get('eth0')?.enforced).toBe(false);
    expect(kernel.enforces).toHaveLength(1);

    const ifindex = kernel.addInterface('eth0');
    await tick();
    expect(said('interface re-created') || said('interface appeared')).toBe(true);
    expect(kernel.enforces).toHaveLength(2); // the same commit, applied again to the new interface
    expect(kernel.inspect('eth0')).toMatchObject({ ifindex, attached: true, stateHash: 'h1' });
    expect(unit.health.get('eth0')).toMatchObject({ enforced: true, failing: false });
  });

  it('an interface re-created between two looks (another ifindex) is attached again', async () => {
    const kernel = new FakeKernel('eth0');
    const { unit, tick, said } = setup(kernel);
    await unit.start();
    kernel.removeInterface('eth0');
    kernel.addInterface('eth0');
    unit.refreshEnforced();
    expect(unit.health.get('eth0')?.enforced).toBe(false);
    await tick();
    expect(said('interface re-created (another ifindex)')).toBe(true);
    expect(unit.health.get('eth0')?.enforced).toBe(true);
  });

  it('a link detached behind the daemon’s back is attached again', async () => {
    const kernel = new FakeKernel('eth0');
    const { unit, tick, said } = setup(kernel);
    await unit.start();
    kernel.detach('eth0');
    await tick();
    expect(said("xdpfw's link stopped running")).toBe(true);
    expect(kernel.inspect('eth0').attached).toBe(true);
  });

  it('an interface missing at start is retried, and attached as soon as a look sees it appear', async () => {
    const kernel = new FakeKernel();
    const { unit, clock, tick, said } = setup(kernel);
    await unit.start();
    expect(said('interface eth0 does not exist')).toBe(true);
    expect(unit.health.get('eth0')).toMatchObject({ enforced: false, failing: true });
    expect(clock.scheduled).toBe(2); // the retry (10 s) and the next look (2 s)
    await tick(); // still missing: the look changes nothing
    expect(kernel.enforces).toHaveLength(0);
    kernel.addInterface('eth0');
    await tick();
    expect(said('interface appeared')).toBe(true);
    expect(kernel.enforces).toHaveLength(1);
    expect(unit.health.get('eth0')).toMatchObject({ enforced: true, failing: false });
    expect(clock.scheduled).toBe(1); // the retry was cleared; the looks go on
  });

  it('a first reload that throws (a bug) is logged and retried, and the source is watched all the same', async () => {
    const kernel = new FakeKernel('eth0');
    const inspect = kernel.inspect.bind(kernel);
    kernel.inspect = () => {
      throw new Error('unexpected');
    };
    const clock = new FakeTimers();
    const source = new FakeSource('file');
    const { log, events } = memoryLogger();
    const unit = new PolicyUnit({ source, interfaces: [eth0], kernel, log, timers: clock, retryMs: 10_000 });
    source.set(compiled(block('eth0', 'h1')));
    await unit.start();
    expect(events.some((e) => String(e.msg).startsWith('reload failed unexpectedly (a bug)'))).toBe(true);
    expect(source.onChange).toBeDefined();
    kernel.inspect = inspect;
    source.set(compiled(block('eth0', 'h2')));
    source.onChange!();
    await unit.idle();
    expect(kernel.enforces.map((e) => e.hash)).toEqual(['h2']);
  });

  it('stopping ends the looks', async () => {
    const kernel = new FakeKernel('eth0');
    const { unit, clock } = setup(kernel);
    await unit.start();
    expect(clock.scheduled).toBe(1);
    unit.stop();
    expect(clock.scheduled).toBe(0);
  });
});

describe('a unit restores its policy when another writer replaces its program', () => {
  it('notices the foreign program within one look, counts the drift once, and puts the source’s policy back', async () => {
    const kernel = new FakeKernel('eth0');
    const drifts: string[] = [];
    const { unit, tick, events } = setup(kernel, {
      reloaded: () => undefined,
      sourceError: () => undefined,
      drifted: (i) => drifts.push(i),
    });
    await unit.start();
    const ours = kernel.inspect('eth0').progId;

    const foreign = kernel.pin('eth0', 'h-manual'); // what `xdpfw apply --force` would leave
    await tick();
    expect(drifts).toEqual(['eth0']);
    expect(events.some((e) => String(e.msg).startsWith("another writer replaced this daemon's program"))).toBe(true);
    const restored = kernel.inspect('eth0');
    expect(restored.stateHash).toBe('h1');
    expect(restored.progId).not.toBe(foreign);
    expect(restored.progId).not.toBe(ours);

    await tick(); // its own restoring swap is not drift
    expect(drifts).toEqual(['eth0']);
  });
});
