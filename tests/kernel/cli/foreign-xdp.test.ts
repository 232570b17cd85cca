/**
 * Another tool's XDP program on the interface: `apply` and `run` name it
 * (program id, name, mode, what holds it), leave it in place, change
 * nothing, and exit 6, whether it was attached through netlink or is held
 * by a bpf_link of its own.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bpffsRoot } from '../../../src/xdp/pins.js';
import { scratchDir } from '../../support/scratch.js';
import { REPO, fixtureObject, run, skipWithoutRoot } from '../xdp/helpers/env.js';
import { CLI, cliNamespace, xdpfwIn, type Exit } from './netns-cli.js';

const LINK_CHILD = path.join(REPO, 'tests/kernel/xdp/helpers/foreign-link-child.ts');
const XDP_ATTACHED_DRV = 1;
const XDP_ATTACHED_SKB = 2;
const FOREIGN_EXIT = 6;

describe.skipIf(skipWithoutRoot('foreign XDP program tests'))('another tool holds the interface', () => {
  const { ns, key } = cliNamespace('foreign');
  const dir = scratchDir('xdpfw-foreign-');
  const policy = path.join(dir, 'edge.xdpfw');
  const pins = path.join(bpffsRoot(), `xdpfw-t-foreign-${process.pid}`);
  const progPin = path.join(pins, 'prog');

  beforeAll(() => {
    fs.writeFileSync(policy, 'interface veth0 {\n  default drop\n  allow icmp\n}\n');
    fs.mkdirSync(pins, { recursive: true });
    run('bpftool', ['prog', 'load', fixtureObject('foreign'), progPin, 'type', 'xdp']);
  });
  afterAll(() => fs.rmSync(pins, { recursive: true, force: true }));

  /** `xdpfw run` on the policy: it must end by itself (a refusal), or it is killed after 30 s and fails the test. */
  function runDaemon(): Promise<Exit> {
    return new Promise((resolve) => {
      const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CLI, 'run', '--policy', policy, '--iface', 'veth0'], {
        cwd: REPO,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGTERM'), 30_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** Nothing of xdpfw's for veth0: no pins, no state. */
  function expectNothingOfOurs(): void {
    expect(fs.existsSync(path.join(bpffsRoot(), key(), 'veth0'))).toBe(false);
  }

  it('names a program attached through netlink, with the command that removes it, and leaves it', async () => {
    run('ip', ['netns', 'exec', ns.name, 'bpftool', 'net', 'attach', 'xdpgeneric', 'pinned', progPin, 'dev', 'veth0']);
    try {
      const foreign = ns.xdpProg()!;
      expect(foreign.mode).toBe(XDP_ATTACHED_SKB);
      const message =
        `error[foreign-xdp]: veth0 runs an XDP program that is not xdpfw's: program ${foreign.id} "other_tool" ` +
        '(generic mode, attached through netlink); xdpfw will not remove it';
      const hint = "hint: its owner can remove it, or 'ip link set dev veth0 xdpgeneric off'; then run xdpfw again";

      const apply = await xdpfwIn(ns, 'apply', policy);
      expect(apply.code, apply.stderr).toBe(FOREIGN_EXIT);
      expect(apply.stderr).toContain(message);
      expect(apply.stderr).toContain(hint);

      const daemon = await runDaemon();
      expect(daemon.code, daemon.stderr).toBe(FOREIGN_EXIT);
      expect(daemon.stderr).toContain(message);

      expect(ns.xdpProg()).toEqual(foreign);
      expectNothingOfOurs();
    } finally {
      run('ip', ['netns', 'exec', ns.name, 'bpftool', 'net', 'detach', 'xdpgeneric', 'dev', 'veth0']);
    }
    // The hook free again, the same command applies.
    const apply = await xdpfwIn(ns, 'apply', policy);
    expect(apply.code, apply.stderr).toBe(0);
    expect((await xdpfwIn(ns, 'detach', '--iface', 'veth0')).code).toBe(0);
  });

  it('names a program held by another bpf_link, and the link', async () => {
    const linkPin = path.join(pins, 'link');
    const held = JSON.parse(ns.node(LINK_CHILD, [progPin, 'veth0', linkPin])) as { linkId: number; progId: number };
    try {
      expect(ns.xdpProg()).toEqual({ id: held.progId, mode: XDP_ATTACHED_DRV });
      const apply = await xdpfwIn(ns, 'apply', policy);
      expect(apply.code, apply.stderr).toBe(FOREIGN_EXIT);
      expect(apply.stderr).toContain(
        `error[foreign-xdp]: veth0 runs an XDP program that is not xdpfw's: program ${held.progId} "other_tool" ` +
          `(native mode, held by bpf_link ${held.linkId}); xdpfw will not remove it`,
      );
      expect(apply.stderr).toContain(`hint: 'bpftool link show id ${held.linkId}' shows it`);
      expect(ns.xdpProg()).toEqual({ id: held.progId, mode: XDP_ATTACHED_DRV });
      expectNothingOfOurs();
    } finally {
      fs.rmSync(linkPin, { force: true }); // the last reference: the link detaches
    }
    expect(ns.xdpProg()).toBeNull();
  });
});
