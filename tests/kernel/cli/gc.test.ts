/**
 * Namespaces are told apart by their cookie, not their inode (which the
 * kernel gives the next namespace at once), and `xdpfw gc` frees what the
 * namespaces and interfaces that went away left pinned in kernel memory.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { conntrackDir, ensureBpffs, limitsDir, setsDir } from '../../../src/xdp/index.js';
import { bpffsRoot, stateRoot } from '../../../src/xdp/pins.js';
import { scratchDir } from '../../support/scratch.js';
import { TestNetns, run, skipWithoutRoot } from '../xdp/helpers/env.js';
import { netnsKeyOf } from '../xdp/helpers/netns-key.js';
import { CLI, buildCli, xdpfwIn, type Exit } from './netns-cli.js';

const POLICY = 'interface veth0 {\n  default allow\n  drop udp dport 9 name "discard"\n}\n';
/** Also pins the namespace's host-wide tables: connections, meters, a dynamic set. */
const STATEFUL =
  'set banned dynamic timeout 1m\n' +
  'interface veth0 {\n  default allow\n  drop src @banned\n  drop ct state invalid\n  drop udp dport 9 limit rate over 5/second ban @banned\n}\n';

/** `xdpfw gc --json` in the host's network namespace, where the test runs. */
function gcOnHost(): { freed: { netns: string; interface: string | null; reason: string; progId: number | null }[] } {
  return JSON.parse(run(process.execPath, [CLI, 'gc', '--json'])) as ReturnType<typeof gcOnHost>;
}

async function programExists(id: number): Promise<boolean> {
  // The kernel frees a program after an RCU grace period once its last reference goes.
  for (let waited = 0; waited < 3000; waited += 100) {
    try {
      run('bpftool', ['prog', 'show', 'id', String(id)]);
    } catch {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

const ok = (r: Exit): unknown => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as unknown;
};

describe.skipIf(skipWithoutRoot('gc'))('network namespaces and xdpfw gc', () => {
  const ns = new TestNetns('gc');
  const file = path.join(scratchDir('xdpfw-gc-'), 'p.xdpfw');
  const keys: string[] = [];

  beforeAll(() => {
    buildCli();
    ensureBpffs();
    fs.writeFileSync(file, POLICY);
  }, 180_000);

  afterAll(() => {
    ns.destroy();
    for (const key of keys) {
      fs.rmSync(path.join(bpffsRoot(), key), { recursive: true, force: true });
      fs.rmSync(path.join(stateRoot(), key), { recursive: true, force: true });
    }
  });

  /** Creates the namespace anew and applies the policy there; its key and the program id. */
  async function applied(policy = POLICY): Promise<{ key: string; inode: number; progId: number }> {
    ns.create();
    const key = netnsKeyOf(ns.name);
    keys.push(key);
    fs.writeFileSync(file, policy);
    const out = ok(await xdpfwIn(ns, 'apply', file, '--mode', 'generic', '--json')) as { applied: { progId: number }[] };
    return { key, inode: fs.statSync(`/run/netns/${ns.name}`).ino, progId: out.applied[0].progId };
  }

  it("gives a new namespace none of a deleted one's policy, even when it gets the deleted one's inode", async () => {
    const first = await applied();
    ns.destroy();
    ns.create(); // the kernel hands the freed inode to the next namespace (unless another test took it meanwhile)
    keys.push(netnsKeyOf(ns.name));
    expect(netnsKeyOf(ns.name)).not.toBe(first.key);
    expect(ok(await xdpfwIn(ns, 'status', '--json'))).toEqual({ interfaces: [], rollback: null, rolledBack: null });
    const detach = await xdpfwIn(ns, 'detach', '--iface', 'veth0', '--json');
    expect(detach.code).toBe(1); // not-attached: the dead namespace's pins are not this one's to remove
    expect(fs.existsSync(path.join(bpffsRoot(), first.key, 'veth0', 'link'))).toBe(true);
    ns.destroy();
  });

  it('frees the pins, state and tables of a deleted namespace, and with them its program', async () => {
    const { key, progId } = await applied(STATEFUL);
    const tables = [conntrackDir, limitsDir, setsDir].map((dir) => dir({ netnsId: key }));
    for (const dir of tables) expect(fs.existsSync(dir), dir).toBe(true);
    ns.destroy();
    expect(await programExists(progId)).toBe(true); // pinned: it outlives the namespace until gc
    const { freed } = gcOnHost();
    expect(freed).toContainEqual({ netns: key, interface: 'veth0', reason: 'netns-gone', progId });
    expect(fs.existsSync(path.join(bpffsRoot(), key))).toBe(false);
    expect(fs.existsSync(path.join(stateRoot(), key))).toBe(false);
    for (const dir of tables) expect(fs.existsSync(dir), dir).toBe(false);
    expect(await programExists(progId)).toBe(false);
    expect(gcOnHost().freed.filter((f) => f.netns === key)).toEqual([]);
  });

  it('frees the pins and state of an interface that went away, and keeps those of a live one', async () => {
    const { key, progId } = await applied();
    run('ip', ['-n', ns.name, 'link', 'add', 'vgc0', 'type', 'veth', 'peer', 'name', 'vgc1']);
    fs.writeFileSync(file, `${POLICY}interface vgc0 {\n  default allow\n}\n`);
    ok(await xdpfwIn(ns, 'apply', file, '--iface', 'vgc0', '--mode', 'generic', '--json'));
    run('ip', ['-n', ns.name, 'link', 'del', 'veth0']);
    expect(ok(await xdpfwIn(ns, 'gc', '--json'))).toEqual({
      freed: [{ netns: key, interface: 'veth0', reason: 'interface-gone', progId }],
    });
    expect(fs.readdirSync(path.join(bpffsRoot(), key))).toEqual(['vgc0']);
    // beside the states, the policy texts apply keeps for a rollback (`apply --confirm`), vgc0's alone
    expect(fs.readdirSync(path.join(stateRoot(), key))).toEqual(['rollback', 'vgc0.json']);
    expect(fs.readdirSync(path.join(stateRoot(), key, 'rollback', 'sources'))).toEqual(['vgc0.json']);
    expect(await programExists(progId)).toBe(false);
    expect(ok(await xdpfwIn(ns, 'gc', '--json'))).toEqual({ freed: [] });
    fs.writeFileSync(file, POLICY);
  });

  it('frees no other namespace where it cannot see every process (a container), and frees it on the host once it is gone', async () => {
    // A namespace held by a process alone, no /run/netns name: what a pod without hostPID cannot see.
    const holder = spawn('unshare', ['--net', 'sleep', '120'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const inNs = (...args: string[]) => run('nsenter', ['-t', String(holder.pid), '-n', ...args]);
      inNs('ip', 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1');
      inNs('ip', 'link', 'set', 'veth0', 'up');
      fs.writeFileSync(file, POLICY);
      inNs(process.execPath, CLI, 'apply', file, '--mode', 'generic');
      const key = fs.readdirSync(bpffsRoot()).find((k) => k.startsWith(`net-${fs.statSync(`/proc/${holder.pid}/ns/net`).ino}-`))!;
      keys.push(key);

      const inContainer = JSON.parse(
        run('unshare', ['--pid', '--fork', '--mount-proc', '--propagation', 'unchanged', process.execPath, CLI, 'gc', '--json']),
      ) as ReturnType<typeof gcOnHost>;
      expect(inContainer.freed.filter((f) => f.netns === key)).toEqual([]);
      expect(fs.existsSync(path.join(bpffsRoot(), key, 'veth0'))).toBe(true);
    } finally {
      holder.kill();
      await new Promise((resolve) => holder.once('exit', resolve));
    }
    const key = keys.at(-1)!;
    expect(gcOnHost().freed.filter((f) => f.netns === key)).toEqual([
      expect.objectContaining({ interface: 'veth0', reason: 'netns-gone' }),
    ]);
  });
});
