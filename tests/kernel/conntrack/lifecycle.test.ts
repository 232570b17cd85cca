/**
 * The connection table's life through the command line: pinned with the
 * first policy that uses ct state, kept (not resized) by later ones, its
 * egress recorder taken away by a policy without ct, and removed when the
 * last interface using it is detached or stops using ct.
 */
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { bpffsRoot } from '../../../src/xdp/pins.js';
import { scratchDir } from '../../support/scratch.js';
import { run, skipWithoutRoot } from '../xdp/helpers/env.js';
import { applyText, cliNamespace, xdpfwIn } from '../cli/netns-cli.js';

const CT = (size = '') => `${size}interface veth0 {\n  default allow\n  drop ct state invalid\n}\n`;
const PLAIN = 'interface veth0 {\n  default allow\n  drop udp dport 9\n}\n';

describe.skipIf(skipWithoutRoot('connection table life'))('the connection table through apply and detach', () => {
  const { ns, key } = cliNamespace('ctlife');
  const dir = scratchDir('xdpfw-ctlife-');
  const file = path.join(dir, 'p.xdpfw');
  let tables = '';
  let egress = '';
  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);
  const apply = (text: string) => applyText(ns, file, text);

  beforeAll(() => {
    tables = path.join(bpffsRoot(), 'conntrack', key());
    egress = path.join(bpffsRoot(), key(), 'veth0', 'egress');
  }, 120_000);
  afterAll(async () => {
    await xdpfw('detach');
  });

  it('pins the tables with the first ct policy, keeps their size, and drops them with the last', async () => {
    await apply(CT());
    expect(fs.readdirSync(tables).sort()).toEqual(['config', 'flood', 'frag', 'icmp', 'stats', 'tcp', 'udp']);
    expect(fs.existsSync(egress)).toBe(true);

    const resized = await apply(CT('conntrack { size 8192 }\n'));
    expect(resized.stderr).toContain('veth0: note: the connection table keeps its 262144 TCP entries (the policy asks for 8192)');

    await apply(PLAIN);
    expect(fs.existsSync(egress)).toBe(false);
    expect(fs.existsSync(tables)).toBe(false);

    await apply(CT());
    expect(fs.existsSync(tables)).toBe(true);
    const detached = await xdpfw('detach');
    expect(detached.code, detached.stderr).toBe(0);
    expect(fs.existsSync(tables)).toBe(false);
  });

  it('records through a clsact filter where tcx is not used, and removes it on detach', async () => {
    const filters = () => run('tc', ['-n', ns.name, 'filter', 'show', 'dev', 'veth0', 'egress']);
    process.env.XDPFW_EGRESS_HOOK = 'clsact';
    try {
      await apply('interface veth0 {\n  default drop\n  allow ct state established,related\n}\n');
    } finally {
      delete process.env.XDPFW_EGRESS_HOOK;
    }
    expect(fs.existsSync(`${egress}-clsact`)).toBe(true);
    expect(fs.existsSync(egress)).toBe(false);
    expect(filters()).toMatch(/pref 30820 bpf .*handle 0x7864 xdpfw_egress/);
    // Under default drop, a ping out gets its reply only if the filter recorded the request.
    expect(() => run('ip', ['netns', 'exec', ns.name, 'ping', '-c', '1', '-W', '1', '-q', '10.99.0.2'])).not.toThrow();
    expect(ns.pingFromPeer()).toBe(false);
    // A reload swaps the filter's program in place.
    await apply('interface veth0 {\n  default drop\n  allow ct state established,related\n  drop udp dport 9\n}\n');
    expect(filters().match(/handle 0x7864 xdpfw_egress/g)).toHaveLength(1);
    const detached = await xdpfw('detach');
    expect(detached.code, detached.stderr).toBe(0);
    expect(filters()).not.toMatch(/xdpfw_egress/);
    expect(fs.existsSync(tables)).toBe(false);
  });
});
