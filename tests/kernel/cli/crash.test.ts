/**
 * `kill -9` of `xdpfw apply` at random moments: whatever the moment, the
 * policy in force is the one that `status`, the state file and `stats`
 * name, counters are shown under the rules of the program that counted
 * them, and a rule's total never goes backwards. The kernel objects are the
 * truth; the state file is settled against them.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureBpffs } from '../../../src/xdp/index.js';
import { bpffsRoot, stateRoot } from '../../../src/xdp/pins.js';
import { Random } from '../../support/random.js';
import { netnsKeyOf } from '../xdp/helpers/netns-key.js';
import { scratchDir } from '../../support/scratch.js';
import { REPO, TestNetns, skipWithoutRoot } from '../xdp/helpers/env.js';
import { CLI, buildCli, xdpfwIn } from './netns-cli.js';

const ROUNDS = 60;
const SEED = 20261206;

/** Both count pings in "common"; each has a rule of its own, so stats shows whose rules it labels. */
const POLICY = {
  A: 'interface veth0 {\n  default allow\n  drop udp dport 7 name "a-only"\n  allow icmp name "common"\n}\n',
  B: 'interface veth0 {\n  default allow\n  drop udp dport 8 name "b-only"\n  allow icmp name "common"\n}\n',
};
const RULES = { A: ['a-only', 'common'], B: ['b-only', 'common'] };

describe.skipIf(skipWithoutRoot('kill -9 of apply'))('apply killed at random moments', () => {
  const ns = new TestNetns('crash');
  const dir = scratchDir('xdpfw-crash-');
  const files = { A: path.join(dir, 'a.xdpfw'), B: path.join(dir, 'b.xdpfw') };
  const hashes: Record<string, 'A' | 'B'> = {};
  let netns = '';

  const json = async <T>(...args: string[]): Promise<T> => {
    const r = await xdpfwIn(ns, ...args, '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as T;
  };

  /** Starts `xdpfw apply FILE` in the namespace and kills it with SIGKILL after `ms`; resolves when it is gone. */
  function applyKilledAfter(file: string, ms: number): Promise<number | null> {
    return new Promise((resolve) => {
      // No `ip netns exec` wrapper between us and node: the signal must reach xdpfw itself.
      const child = spawn('nsenter', [`--net=/run/netns/${ns.name}`, process.execPath, CLI, 'apply', file], { cwd: REPO, stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), ms);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  beforeAll(async () => {
    buildCli();
    ensureBpffs();
    ns.create();
    netns = netnsKeyOf(ns.name);
    for (const which of ['A', 'B'] as const) {
      fs.writeFileSync(files[which], POLICY[which]);
      const compiled = await json<{ interfaces: { hash: string }[] }>('compile', files[which]);
      hashes[compiled.interfaces[0].hash] = which;
    }
  }, 180_000);

  afterAll(() => {
    ns.destroy();
    fs.rmSync(path.join(bpffsRoot(), netns), { recursive: true, force: true });
    fs.rmSync(path.join(stateRoot(), netns), { recursive: true, force: true });
  });

  it(`${ROUNDS} rounds: status, state file, stats and the kernel agree, and counters never go backwards`, async () => {
    expect((await xdpfwIn(ns, 'apply', files.A)).code).toBe(0);
    const r = new Random(SEED);
    let common = 0;
    const outcomes = { completed: 0, killed: 0, target: 0, previous: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const target = round % 2 === 0 ? 'B' : 'A';
      const code = await applyKilledAfter(files[target], r.int(0, 900));
      if (code === 0) outcomes.completed++;
      else outcomes.killed++;

      const status = await json<{ interfaces: { policyHash: string; progId: number; state: string }[] }>('status');
      const [live] = status.interfaces;
      expect(live.state).toBe('attached');
      const which = hashes[live.policyHash];
      expect(which, `round ${round}: status names hash ${live.policyHash}`).toBeDefined();
      expect(ns.xdpProg()?.id, `round ${round}: the link runs another program than status says`).toBe(live.progId);
      outcomes[which === target ? 'target' : 'previous']++;

      // status settled the state file against the kernel (the lock was free): it says the same, with nothing pending.
      const state = JSON.parse(fs.readFileSync(path.join(stateRoot(), netns, 'veth0.json'), 'utf8')) as Record<string, unknown>;
      expect(state).not.toHaveProperty('pending');
      expect(state.policyHash).toBe(live.policyHash);
      expect(state.progId).toBe(live.progId);

      expect(ns.pingFromPeer(), `round ${round}: both policies allow ping`).toBe(true);
      const stats = await json<{ interfaces: { policyHash: string; rules: { name: string; packets: number }[] }[] }>('stats');
      const [counted] = stats.interfaces;
      expect(counted.policyHash).toBe(live.policyHash);
      expect(counted.rules.map((rule) => rule.name)).toEqual(RULES[which]);
      const now = counted.rules.find((rule) => rule.name === 'common')!.packets;
      expect(now, `round ${round}: "common" went from ${common} to ${now}`).toBeGreaterThan(common);
      common = now;
    }
    console.log(
      `kill -9 of apply: ${ROUNDS} rounds, ${outcomes.killed} killed, ${outcomes.completed} completed; ` +
        `the target policy in force after ${outcomes.target}, the previous after ${outcomes.previous}; "common" counted ${common}`,
    );
    expect(outcomes.killed).toBeGreaterThan(ROUNDS / 4); // the kills did land mid-way
  }, 900_000);
});
