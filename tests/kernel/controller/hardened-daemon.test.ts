/**
 * The daemon under the sandbox deploy/xdpfw.service declares (sandbox.ts
 * reproduces it from the unit file: PID 1 here is not systemd) still
 * attaches a policy and follows its edits, verdicts checked with pings from
 * the peer; and with a capability of the unit's bounding set taken away it
 * fails the way the unit's comments say it would, so each one is needed.
 */

import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

import { beforeAll, describe, expect, it } from 'vitest';

import { loadAndCompile } from '../../../src/app/policy-loader.js';
import { bpffsRoot, stateRoot } from '../../../src/xdp/pins.js';
import { scratchDir } from '../../support/scratch.js';
import { serviceList, serviceUnit } from '../../support/systemd-unit.js';
import { cliNamespace } from '../cli/netns-cli.js';
import { REPO, skipWithoutRoot } from '../xdp/helpers/env.js';
import { Daemon } from './daemon.js';
import { NOT_REPRODUCED, REPRODUCED, SYSTEM_PYTHON, boundingSet, sandboxLauncher } from './sandbox.js';

/** Even versions let a ping through, odd ones drop it. */
const policy = (n: number, conntrack = false) =>
  `${conntrack ? 'conntrack {\n  size 4096\n}\n' : ''}interface veth0 {\n  default allow\n` +
  `${conntrack ? '  drop ct state invalid\n' : ''}  ${n % 2 === 0 ? 'allow' : 'drop'} icmp name "v${n}"\n}\n`;

const CAP_BITS: Record<string, number> = { CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21, CAP_BPF: 39 };

const hasSeccompBindings = (): boolean => spawnSync(SYSTEM_PYTHON, ['-c', 'import seccomp']).status === 0;

describe.skipIf(skipWithoutRoot('the daemon in the unit’s sandbox'))('xdpfw run under the restrictions of deploy/xdpfw.service', () => {
  const { ns, key } = cliNamespace('harden', async () => {
    for (const d of daemons) await d.stop();
  });
  const dir = scratchDir('xdpfw-harden-');
  const file = path.join(dir, 'edge.xdpfw');
  const unit = serviceUnit();
  const daemons: Daemon[] = [];
  // What systemd would not hide on a real host: the installed program (here the checkout and node) and its config.
  const visible = [REPO, path.dirname(path.dirname(process.execPath)), dir];

  const start = (without: string[] = [], env: NodeJS.ProcessEnv = process.env): Daemon => {
    const launcher = sandboxLauncher(unit, { visible, withoutCapabilities: without });
    const daemon = new Daemon(ns, ['--iface', 'veth0', '--policy', file, '--mode', 'generic', '--debounce', '100'], launcher, env);
    daemons.push(daemon);
    return daemon;
  };
  const freePins = () => {
    fs.rmSync(path.join(bpffsRoot(), key()), { recursive: true, force: true });
    fs.rmSync(path.join(stateRoot(), key()), { recursive: true, force: true });
  };

  beforeAll(() => {
    if (!hasSeccompBindings()) throw new Error(`${SYSTEM_PYTHON} has no seccomp module: install python3-seccomp (scripts/install-deps.sh)`);
  }, 180_000);

  it('reproduces every setting of the unit, or says why not', () => {
    for (const key of unit.get('Service')?.keys() ?? []) {
      expect(REPRODUCED.has(key) || key in NOT_REPRODUCED, `${key}= is new in the unit: reproduce it in sandbox.ts or say why not`).toBe(
        true,
      );
    }
  });

  it('applies a policy and follows its edits, inside the sandbox the unit declares', async () => {
    fs.writeFileSync(file, policy(1));
    const daemon = start();
    await daemon.waitFor((e) => e.msg === 'running');
    expect(ns.pingFromPeer(), `version 1 drops pings; the daemon's log:\n${daemon.log}`).toBe(false);

    // The process the test runs is the one sandboxed: ip key() exec, unshare, setpriv and python exec into node.
    const status = fs.readFileSync(`/proc/${daemon.child.pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
    const bounding = boundingSet(unit).reduce((bits, cap) => bits | (1n << BigInt(CAP_BITS[cap])), 0n);
    expect(BigInt(`0x${field('CapBnd')}`)).toBe(bounding);
    expect(field('NoNewPrivs')).toBe('1');
    expect(field('Seccomp')).toBe('2');
    const mounts = fs.readFileSync(`/proc/${daemon.child.pid}/mountinfo`, 'utf8').split('\n');
    const options = (at: string) =>
      mounts
        .filter((m) => m.split(' ')[4] === at)
        .at(-1)
        ?.split(' ')[5] ?? '';
    expect(options('/')).toMatch(/^ro\b/);
    for (const p of serviceList(unit, 'ReadWritePaths')) expect(options(p), p).toMatch(/^rw\b/);

    fs.writeFileSync(file, policy(2));
    const wanted = loadAndCompile(file).compiled?.interfaces[0].hash;
    await daemon.waitFor((e) => e.msg === 'policy replaced atomically' && e.hash === wanted);
    expect(ns.pingFromPeer(), 'version 2 lets pings through').toBe(true);
    await daemon.stop();
    expect(daemon.child.exitCode, daemon.log).toBe(0);
    freePins();
  }, 60_000);

  it('without CAP_SYS_ADMIN it loads nothing: the unit grants no CAP_BPF, which CAP_SYS_ADMIN covers', async () => {
    fs.writeFileSync(file, policy(1));
    const daemon = start(['CAP_SYS_ADMIN']);
    const failed = await daemon.waitFor((e) => e.msg.startsWith('reload failed'));
    expect(failed.msg).toMatch(/EPERM/);
    expect(ns.pingFromPeer(), 'nothing attached').toBe(true);
    await daemon.stop();
    freePins();
  }, 60_000);

  it('without CAP_NET_ADMIN it cannot hook connection tracking on clsact, the egress hook of kernels without tcx', async () => {
    fs.writeFileSync(file, policy(1, true));
    const daemon = start(['CAP_NET_ADMIN'], { ...process.env, XDPFW_EGRESS_HOOK: 'clsact' });
    const failed = await daemon.waitFor((e) => e.msg.startsWith('reload failed'));
    expect(failed.msg).toMatch(/adding a clsact qdisc to veth0: EPERM/);
    expect(ns.pingFromPeer(), 'nothing attached').toBe(true);
    await daemon.stop();
    freePins();
  }, 60_000);
});
