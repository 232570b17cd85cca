import { describe, expect, it } from 'vitest';

import type { InterfaceConfig } from '../../../src/controller/config.js';
import { CompileLimitError } from '../../../src/controller/sources/bounded-load.js';
import { UnsignedCommitError } from '../../../src/controller/sources/commit-signature.js';
import { PolicyUnit, type ReloadResult } from '../../../src/controller/unit.js';
import { ExitCode } from '../../../src/app/exit-codes.js';
import { UserError } from '../../../src/app/user-error.js';
import { FakeKernel, FakeSource, FakeTimers, block, compiled, invalid, memoryLogger } from './fakes.js';

const eth0: InterfaceConfig = {
  name: 'eth0',
  mode: 'generic',
  source: { kind: 'git', repo: '/repo', branch: 'main', path: 'policy.xdpfw', pollSeconds: 30 },
};
const eth1: InterfaceConfig = { ...eth0, name: 'eth1' };

function setup(interfaces = [eth0], kernel = new FakeKernel('eth0', 'eth1')) {
  const source = new FakeSource('git');
  const { log, events } = memoryLogger();
  const results: [string, ReloadResult][] = [];
  let sourceErrors = 0;
  const unit = new PolicyUnit({
    source,
    interfaces,
    kernel,
    log,
    observer: { reloaded: (i, r) => results.push([i, r]), sourceError: () => sourceErrors++ },
  });
  return { unit, source, kernel, events, results, sourceErrors: () => sourceErrors };
}

describe('a policy unit reloading a git source', () => {
  it('attaches at start when nothing is pinned, recording the commit', async () => {
    const { unit, source, kernel, results } = setup();
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    expect(kernel.enforces).toEqual([{ iface: 'eth0', hash: 'h1', commit: 'c1' }]);
    expect(results).toEqual([['eth0', 'applied']]);
    expect(unit.memory.applied).toBe('c1');
    expect(unit.health.get('eth0')).toMatchObject({ enforced: true, failing: false });
  });

  it('adopts at start without touching the kernel when the pinned policy is the source’s', async () => {
    const kernel = new FakeKernel('eth0');
    const progId = kernel.pin('eth0', 'h1', 'c0');
    const { unit, source, events, results } = setup([eth0], kernel);
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    expect(kernel.loads).toBe(0);
    expect(kernel.inspect('eth0').progId).toBe(progId);
    expect(kernel.inspect('eth0').state?.commit).toBe('c1'); // same policy, newer commit: recorded
    expect(results).toEqual([['eth0', 'unchanged']]);
    expect(events.some((e) => String(e.msg).startsWith('adopted the pinned program'))).toBe(true);
  });

  it('replaces at start when the pinned policy differs from the source', async () => {
    const kernel = new FakeKernel('eth0');
    const old = kernel.pin('eth0', 'h0');
    const { unit, source } = setup([eth0], kernel);
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    expect(kernel.inspect('eth0').progId).not.toBe(old);
    expect(kernel.inspect('eth0').stateHash).toBe('h1');
  });

  it('applies only new heads: polls of the same commit do nothing', async () => {
    const { unit, source, kernel } = setup();
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    await unit.reload({ trigger: 'poll', force: false });
    await unit.reload({ trigger: 'poll', force: false });
    expect(kernel.loads).toBe(1);
    source.set(compiled(block('eth0', 'h2')), 'c2');
    await unit.reload({ trigger: 'poll', force: false });
    expect(kernel.enforces.map((e) => e.commit)).toEqual(['c1', 'c2']);
  });

  it('refuses a bad commit: logs its diagnostics with file:line:col, counts it, records it, keeps the old policy', async () => {
    const { unit, source, kernel, events, results } = setup();
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    const before = kernel.inspect('eth0').progId;
    source.set(invalid("policy.xdpfw:3:7: error[unknown-set]: unknown set '@blocklst'\n  |\n3 | ..."), 'c2');
    await unit.reload({ trigger: 'poll', force: false });
    expect(kernel.inspect('eth0').progId).toBe(before);
    expect(results.at(-1)).toEqual(['eth0', 'refused']);
    const logged = events.find((e) => e.level === 50);
    expect(logged?.diagnostics).toEqual(["policy.xdpfw:3:7: error[unknown-set]: unknown set '@blocklst'\n  |\n3 | ..."]);
    expect(logged?.commit).toBe('c2');
    const refused = kernel.inspect('eth0').state?.refused;
    expect(refused).toMatchObject({
      commit: 'c2',
      reason: 'invalid',
      diagnostics: ["policy.xdpfw:3:7: error[unknown-set]: unknown set '@blocklst'"],
    });
    expect(unit.health.get('eth0')).toMatchObject({ failing: true, enforced: true });

    // The same bad head is not reported again at every poll…
    await unit.reload({ trigger: 'poll', force: false });
    expect(results.filter(([, r]) => r === 'refused')).toHaveLength(1);
    // …and the next good commit clears the refusal.
    source.set(compiled(block('eth0', 'h3')), 'c3');
    await unit.reload({ trigger: 'poll', force: false });
    expect(kernel.inspect('eth0').state?.refused).toBeUndefined();
    expect(unit.health.get('eth0')?.failing).toBe(false);
  });

  it('refuses a commit whose compile ran out of its limits like an invalid one, and does not retry it; a read failure is retried', async () => {
    const { unit, source, kernel, results } = setup();
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    const before = kernel.inspect('eth0').progId;
    const failing = (commit: string, error: Error) => {
      source.reading = {
        revision: {
          policyFile: 'policy.xdpfw',
          commit,
          load: async () => {
            throw error;
          },
        },
      };
    };
    failing('c2', new CompileLimitError('compiling the policy exceeded 2048 MiB'));
    await unit.reload({ trigger: 'poll', force: false });
    expect(kernel.inspect('eth0').progId).toBe(before);
    expect(results.at(-1)).toEqual(['eth0', 'refused']);
    expect(kernel.inspect('eth0').state?.refused).toMatchObject({
      commit: 'c2',
      reason: 'invalid',
      message: 'compiling the policy exceeded 2048 MiB',
    });
    expect(unit.memory.refused).toEqual({ commit: 'c2', permanent: true });
    await unit.reload({ trigger: 'poll', force: false });
    expect(results.filter(([, r]) => r === 'refused')).toHaveLength(1);

    failing('c3', new Error('no such file in commit c3'));
    await unit.reload({ trigger: 'poll', force: false });
    expect(results.at(-1)).toEqual(['eth0', 'failed']);
    expect(unit.memory.refused).toEqual({ commit: 'c3', permanent: false });
    unit.stop();
  });

  it('refuses a commit without an allowed signature like an invalid one: the policy in force stays, failing until a good commit', async () => {
    const { unit, source, kernel, results } = setup();
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    const before = kernel.inspect('eth0').progId;
    const message = 'commit c2 is not signed (signatures are required)';
    source.reading = {
      revision: {
        policyFile: 'policy.xdpfw',
        commit: 'c2',
        load: async () => {
          throw new UnsignedCommitError(message);
        },
      },
    };
    await unit.reload({ trigger: 'poll', force: false });
    expect(kernel.inspect('eth0').progId).toBe(before);
    expect(results.at(-1)).toEqual(['eth0', 'refused']);
    expect(unit.health.get('eth0')).toMatchObject({ failing: true, lastError: message });
    expect(kernel.inspect('eth0').state?.refused).toMatchObject({ commit: 'c2', reason: 'invalid', message });
    expect(unit.memory.refused).toEqual({ commit: 'c2', permanent: true });
    unit.stop();
  });

  it('refuses a commit whose policy has no block for a managed interface', async () => {
    const { unit, source, kernel, results } = setup([eth0, eth1]);
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    expect(kernel.loads).toBe(0);
    expect(results).toEqual([
      ['eth0', 'refused'],
      ['eth1', 'refused'],
    ]);
  });

  it('a kernel refusal (verifier) is counted as failed, the old policy stays, and the same head is retried next poll', async () => {
    const { unit, source, kernel, results } = setup();
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    kernel.failLoad = new Error(
      "loading BPF program 'xdpfw': EACCES: the verifier rejected the program\nverifier log:\n  | R1 invalid mem access",
    );
    source.set(compiled(block('eth0', 'h2')), 'c2');
    await unit.reload({ trigger: 'poll', force: false });
    expect(results.at(-1)).toEqual(['eth0', 'failed']);
    expect(kernel.inspect('eth0').stateHash).toBe('h1');
    expect(kernel.inspect('eth0').state?.refused).toMatchObject({
      reason: 'kernel',
      diagnostics: ['verifier log:', '| R1 invalid mem access'],
    });
    kernel.failLoad = undefined;
    await unit.reload({ trigger: 'poll', force: false });
    expect(kernel.inspect('eth0').stateHash).toBe('h2');
  });

  it('loads every interface’s program before changing any: one failed load changes nothing', async () => {
    const kernel = new FakeKernel('eth0', 'eth1');
    kernel.failLoadFor.add('eth1');
    const { unit, source, results } = setup([eth0, eth1], kernel);
    source.set(compiled(block('eth0', 'h1'), block('eth1', 'h1')), 'c1');
    await unit.start();
    expect(kernel.enforces).toEqual([]);
    expect(results.map(([, r]) => r)).toEqual(['failed', 'failed']);
  });

  it('a missing interface does not hold the others back: it is reported failed and retried', async () => {
    const clock = new FakeTimers();
    const kernel = new FakeKernel('eth0'); // eth1 does not exist yet
    const source = new FakeSource('git');
    const { log, events } = memoryLogger();
    const unit = new PolicyUnit({ source, interfaces: [eth0, eth1], kernel, log, timers: clock, retryMs: 1000 });
    source.set(compiled(block('eth0', 'h1'), block('eth1', 'h1')), 'c1');
    await unit.start();
    expect(kernel.enforces).toEqual([{ iface: 'eth0', hash: 'h1', commit: 'c1' }]);
    expect(unit.health.get('eth1')).toMatchObject({ enforced: false, failing: true, lastError: expect.stringContaining('does not exist') });
    expect(events.some((e) => e.interface === 'eth1' && String(e.msg).includes('interface eth1 does not exist'))).toBe(true);
    expect(clock.scheduled).toBe(1);
    kernel.addInterface('eth1');
    clock.advance(1000);
    await unit.idle();
    expect(kernel.enforces.map((e) => e.iface)).toEqual(['eth0', 'eth1']);
    expect(unit.health.get('eth1')).toMatchObject({ enforced: true, failing: false });
    expect(clock.scheduled).toBe(0);
  });

  it('an unreachable remote is logged and counted; the cached head still decides', async () => {
    const { unit, source, kernel, sourceErrors, events } = setup();
    source.set(compiled(block('eth0', 'h1')), 'c1', new Error('fetching main from https://example.invalid/x: could not resolve host'));
    await unit.start();
    expect(sourceErrors()).toBe(1);
    expect(kernel.inspect('eth0').stateHash).toBe('h1');
    expect(events.some((e) => e.level === 40 && String(e.msg).includes('unavailable'))).toBe(true);
  });

  it('with no policy at all at start, keeps what is pinned and says so', async () => {
    const kernel = new FakeKernel('eth0');
    kernel.pin('eth0', 'h0');
    const { unit, source, events } = setup([eth0], kernel);
    source.reading = { error: new Error('unreachable') };
    await unit.start();
    expect(kernel.inspect('eth0').stateHash).toBe('h0');
    expect(events.some((e) => String(e.msg).includes('keeping the pinned policy'))).toBe(true);
  });

  it('a full disk while recording the state after the swap is logged; the new policy counts as applied', async () => {
    const { unit, source, kernel, results } = setup();
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    const enforce = kernel.enforce.bind(kernel);
    kernel.enforce = async (...args) => {
      await enforce(...args);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    source.set(compiled(block('eth0', 'h2')), 'c2');
    await unit.reload({ trigger: 'poll', force: false });
    expect(results.at(-1)).toEqual(['eth0', 'applied']);
    expect(unit.memory.applied).toBe('c2');
  });

  it('closes every loaded program, whatever happened', async () => {
    const { unit, source, kernel } = setup();
    source.set(compiled(block('eth0', 'h1')), 'c1');
    await unit.start();
    kernel.failEnforce = new Error('replacing the program of the XDP link: EPERM');
    source.set(compiled(block('eth0', 'h2')), 'c2');
    await unit.reload({ trigger: 'poll', force: false });
    expect(kernel.closed).toBe(2);
  });
});

describe('a policy unit reloading a file source', () => {
  it('a deleted file is a source failure, not an invalid policy, and the policy in force stays', async () => {
    const { unit, source, kernel, results } = setup();
    source.set(compiled(block('eth0', 'h1')));
    await unit.start();
    source.set(invalid("/etc/p.xdpfw:1:1: error[file-not-found]: cannot read policy file '/etc/p.xdpfw': ENOENT"));
    await unit.reload({ trigger: 'change', force: false });
    expect(results.at(-1)).toEqual(['eth0', 'failed']);
    expect(kernel.inspect('eth0').state?.refused?.reason).toBe('source');
    expect(kernel.inspect('eth0').stateHash).toBe('h1');
  });

  it('a change that leaves the compiled policy as it is does not swap the program', async () => {
    const { unit, source, kernel, results } = setup();
    source.set(compiled(block('eth0', 'h1')));
    await unit.start();
    await unit.reload({ trigger: 'change', force: false });
    expect(kernel.loads).toBe(1);
    expect(results.map(([, r]) => r)).toEqual(['applied', 'unchanged']);
  });
});

describe('retrying reloads that failed for a passing reason', () => {
  it('retries a kernel failure with a growing delay, and stops retrying once it succeeds', async () => {
    const clock = new FakeTimers();
    const kernel = new FakeKernel('eth0');
    const source = new FakeSource('file');
    const { log } = memoryLogger();
    const unit = new PolicyUnit({ source, interfaces: [eth0], kernel, log, timers: clock, retryMs: 1000 });
    source.set(compiled(block('eth0', 'h1')));
    kernel.failLoad = new Error('finding interface eth0: ENODEV');
    await unit.start();
    expect(clock.scheduled).toBe(1);
    clock.advance(1000); // first retry, fails again
    await unit.idle();
    expect(kernel.enforces).toHaveLength(0);
    clock.advance(1999);
    await unit.idle();
    expect(source.reads).toBe(2); // the second retry waits 2 s
    kernel.failLoad = undefined;
    clock.advance(1);
    await unit.idle();
    expect(kernel.enforces).toHaveLength(1);
    expect(clock.scheduled).toBe(0);
  });

  it('does not retry a policy refused for its content', async () => {
    const clock = new FakeTimers();
    const source = new FakeSource('file');
    const unit = new PolicyUnit({ source, interfaces: [eth0], kernel: new FakeKernel('eth0'), log: memoryLogger().log, timers: clock });
    source.set(invalid('p:1:1: error[syntax]: x'));
    await unit.start();
    expect(clock.scheduled).toBe(0);
  });
});

describe('reloads and the run directory’s lock', () => {
  it('looks at, loads over and swaps every interface holding the lock once per reload', async () => {
    const { unit, source, kernel } = setup([eth0, eth1]);
    source.set(compiled(block('eth0', 'h1'), block('eth1', 'h2')), 'c1');
    await unit.start();
    expect(kernel.lockHolders).toEqual([`xdpfw run (pid ${process.pid}, reloading eth0, eth1)`]);
    expect(kernel.enforces).toHaveLength(2);
  });

  it('changes nothing and writes no state while another writer holds the lock, then retries', async () => {
    const clock = new FakeTimers();
    const kernel = new FakeKernel('eth0');
    kernel.pin('eth0', 'h0');
    const source = new FakeSource('file');
    const results: [string, ReloadResult][] = [];
    const { log, events } = memoryLogger();
    const unit = new PolicyUnit({
      source,
      interfaces: [eth0],
      kernel,
      log,
      timers: clock,
      retryMs: 1000,
      observer: { reloaded: (i, r) => results.push([i, r]), sourceError: () => undefined },
    });
    source.set(compiled(block('eth0', 'h1')));
    kernel.lockBusy = new UserError(
      'busy',
      'xdpfw apply (pid 42) is changing what xdpfw enforces; waited 30.0 s for it',
      ExitCode.conflict,
    );
    await unit.start();
    expect(kernel.enforces).toHaveLength(0);
    expect(kernel.inspect('eth0').state?.refused).toBeUndefined();
    expect(results).toEqual([['eth0', 'failed']]);
    expect(unit.health.get('eth0')).toMatchObject({ failing: true, lastError: expect.stringContaining('pid 42') });
    expect(events.some((e) => e.msg === 'another writer holds the lock; the reload is retried')).toBe(true);
    expect(clock.scheduled).toBe(1);
    kernel.lockBusy = undefined;
    clock.advance(1000);
    await unit.idle();
    expect(kernel.enforces).toEqual([{ iface: 'eth0', hash: 'h1', commit: undefined }]);
  });
});
