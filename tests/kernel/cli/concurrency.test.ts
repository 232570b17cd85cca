/**
 * Writers that race for one interface: pairs of `xdpfw apply` of different
 * policies started together, and `xdpfw apply` beside a running `xdpfw run`
 * that reloads at the same moment. Each process is the real command line
 * (bin/xdpfw.js, built from these sources) inside a test namespace. After
 * every race exactly one policy is in force, and everything that says which
 * agrees: `xdpfw status`, the state file, the kernel's link and real traffic.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureBpffs } from '../../../src/xdp/index.js';
import { bpffsRoot, stateRoot } from '../../../src/xdp/pins.js';
import { scratchDir } from '../../support/scratch.js';
import { REPO, TestNetns, skipWithoutRoot } from '../xdp/helpers/env.js';
import { CLI, buildCli, xdpfwIn } from './netns-cli.js';
import { netnsKeyOf } from '../xdp/helpers/netns-key.js';

const PAIRS = 20;

/** Policies that differ in what a ping meets: A lets it through, B drops it. */
const POLICY = {
  A: 'interface veth0 {\n  default allow\n  allow icmp name "a-ping"\n}\n',
  B: 'interface veth0 {\n  default allow\n  drop icmp name "b-no-ping"\n}\n',
};

describe.skipIf(skipWithoutRoot('concurrent writers'))('writers racing for one interface', () => {
  const ns = new TestNetns('race');
  const dir = scratchDir('xdpfw-race-');
  const files = { A: path.join(dir, 'a.xdpfw'), B: path.join(dir, 'b.xdpfw') };
  let netns = '';
  const hashes: Record<string, 'A' | 'B'> = {};
  const children: ChildProcess[] = [];

  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);

  /** Which policy is in force, after checking that status, state file, link and traffic all say the same. */
  async function policyInForce(): Promise<'A' | 'B'> {
    const status = await xdpfw('status', '--json');
    expect(status.code, status.stderr).toBe(0);
    const [report] = (
      JSON.parse(status.stdout) as { interfaces: { interface: string; state: string; policyHash: string; progId: number }[] }
    ).interfaces;
    expect(report).toMatchObject({ interface: 'veth0', state: 'attached' });
    const state = JSON.parse(fs.readFileSync(path.join(stateRoot(), netns, 'veth0.json'), 'utf8')) as {
      policyHash: string;
      progId: number;
    };
    expect(state.policyHash).toBe(report.policyHash);
    expect(state.progId).toBe(report.progId);
    expect(ns.xdpProg()?.id).toBe(report.progId);
    const which = hashes[report.policyHash];
    expect(which, `policy hash ${report.policyHash} is neither A's nor B's`).toBeDefined();
    expect(ns.pingFromPeer()).toBe(which === 'A');
    return which;
  }

  beforeAll(async () => {
    buildCli(); // the children run the built CLI
    ensureBpffs(); // on the host, so pins made inside the namespace outlive their process
    ns.create();
    netns = netnsKeyOf(ns.name);
    for (const which of ['A', 'B'] as const) {
      fs.writeFileSync(files[which], POLICY[which]);
      const compiled = await xdpfw('compile', files[which], '--json');
      hashes[(JSON.parse(compiled.stdout) as { interfaces: { hash: string }[] }).interfaces[0].hash] = which;
    }
    expect(Object.keys(hashes)).toHaveLength(2);
  }, 180_000);

  afterAll(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    ns.destroy();
    fs.rmSync(path.join(bpffsRoot(), netns), { recursive: true, force: true });
    fs.rmSync(path.join(stateRoot(), netns), { recursive: true, force: true });
  });

  it(`${PAIRS} pairs of concurrent applies of different policies each end with one coherent policy in force`, async () => {
    const seen = { A: 0, B: 0 };
    for (let pair = 0; pair < PAIRS; pair++) {
      const [first, second] = pair % 2 === 0 ? (['A', 'B'] as const) : (['B', 'A'] as const);
      const exits = await Promise.all([xdpfw('apply', files[first]), xdpfw('apply', files[second])]);
      for (const e of exits) {
        expect(e.stderr).not.toContain('internal error');
        expect(e.code, e.stderr).toBe(0);
      }
      seen[await policyInForce()]++;
    }
    console.log(`concurrent applies: ${PAIRS} pairs, A in force after ${seen.A}, B after ${seen.B}`);
    expect(seen.A + seen.B).toBe(PAIRS);
  }, 600_000);

  it('a second writer that cannot get the lock in time fails with busy, naming the holder, and changes nothing', async () => {
    const before = await policyInForce();
    const other = before === 'A' ? 'B' : 'A';
    // A holder that keeps the lock: this test process (flock belongs to the open file, not the namespace).
    const { tryLockRunDir } = await import('../../../src/xdp/index.js');
    const held = tryLockRunDir('a test holding the lock');
    if (!('release' in held)) throw new Error(`the lock is held by ${JSON.stringify(held.busy)}`);
    try {
      const r = await xdpfw('apply', files[other], '--wait', '0.3');
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(
        `error[busy]: a test holding the lock (pid ${process.pid} since ${held.holder.since}) is changing what xdpfw enforces; waited 0.3 s for it`,
      );
      expect(r.stderr).toContain('hint: run the command again once it is done');
    } finally {
      held.release();
    }
    expect(await policyInForce()).toBe(before);
  }, 120_000);

  it('apply --force beside a running xdpfw run that reloads at the same moment ends coherent, the daemon’s policy restored, and nothing fails', async () => {
    const daemonPolicy = path.join(dir, 'daemon.xdpfw');
    fs.writeFileSync(daemonPolicy, POLICY.A);
    const daemon = spawn(
      'ip',
      ['netns', 'exec', ns.name, process.execPath, CLI, 'run', '--iface', 'veth0', '--policy', daemonPolicy, '--debounce', '50'],
      {
        cwd: REPO,
      },
    );
    children.push(daemon);
    let log = '';
    daemon.stdout.on('data', (d) => (log += d));
    daemon.stderr.on('data', (d) => (log += d));
    const events = () =>
      log
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { msg: string; level: number });
    const waitFor = async (what: (e: { msg: string }) => boolean, count: number) => {
      for (let i = 0; i < 600 && events().filter(what).length < count; i++) await new Promise((r) => setTimeout(r, 50));
      expect(events().filter(what).length, log).toBeGreaterThanOrEqual(count);
    };
    /** Until the daemon has logged nothing for `ms` (at most 60 s). */
    const quiet = async (ms: number) => {
      for (let i = 0; i < 600; i++) {
        const length = log.length;
        await new Promise((r) => setTimeout(r, ms));
        if (log.length === length) return;
      }
    };
    try {
      await waitFor((e) => e.msg === 'running', 1);
      // The file watcher reports changes once its first scan is done, a moment after "running".
      await new Promise((r) => setTimeout(r, 1500));
      // The interface is the daemon's now: a manual apply is refused, naming it, unless forced.
      const refused = await xdpfw('apply', files.B);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain(`error[managed]: veth0 is managed by xdpfw run (pid `);
      expect(refused.stderr).toContain(`from file ${daemonPolicy}): a manual apply would last only until its next reload`);
      const refusedDetach = await xdpfw('detach', '--iface', 'veth0');
      expect(refusedDetach.code).toBe(3);
      expect(refusedDetach.stderr).toContain('error[managed]: veth0 is managed by xdpfw run (pid ');
      await policyInForce();
      for (let round = 1; round <= 5; round++) {
        // The daemon's file flips between A and B (each a reload), while apply writes the other.
        const daemonWants = round % 2 === 0 ? 'A' : 'B';
        const applied = daemonWants === 'A' ? 'B' : 'A';
        const reloads = events().filter((e) => /^policy (replaced|unchanged)/.test(e.msg) || e.msg === 'policy unchanged').length;
        fs.writeFileSync(daemonPolicy, `${POLICY[daemonWants]}# round ${round}\n`);
        const r = await xdpfw('apply', '--force', files[applied]);
        expect(r.stderr).not.toContain('internal error');
        expect(r.code, r.stderr).toBe(0);
        await waitFor((e) => /^policy (replaced|unchanged)/.test(e.msg) || e.msg === 'policy unchanged', reloads + 1);
        // A forced apply that came last is drift: the daemon's next look (2 s) restores its source's policy.
        await quiet(3500);
        expect(await policyInForce()).toBe(daemonWants);
      }
      expect(
        events()
          .filter((e) => e.level >= 50)
          .map((e) => e.msg),
      ).toEqual([]); // no error logged by the daemon
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('close', r));
    }
    expect(events().at(-1)?.msg).toMatch(/stopped; the policies stay in force/);
    await policyInForce(); // stopping leaves the last policy in force
  }, 300_000);
});
