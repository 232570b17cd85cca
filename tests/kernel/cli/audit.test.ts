/**
 * A staged rollout on real traffic: in `mode audit` every datagram the
 * policy drops still arrives, counted by its rule (or the default) and as a
 * would-drop; an `audit` rule counts what it would decide while the rule
 * after it decides; `trace --verdict audit` shows what was not enforced;
 * switching to enforce drops them, and the counters of the rules whose
 * meaning changed start again (would-drops and drops never add up).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { skipWithoutRoot } from '../xdp/helpers/env.js';
import { cliNamespace, jsonLines, sendUdpFromPeer, traceIn, xdpfwIn } from './netns-cli.js';

const PORTS = [7, 9, 11];
const policy = (mode: string) => `interface veth0 {
${mode}  default drop
  allow icmpv6
  audit drop udp dport 7 name "maybe-echo"
  drop udp dport 9 name "discard"
  allow udp dport 7 name "echo"
}
`;

interface StatsJson {
  interfaces: {
    auditMode: boolean;
    wouldDrop: { packets: number };
    default: { packets: number };
    rules: { name: string; audit: boolean; packets: number }[];
  }[];
}

describe.skipIf(skipWithoutRoot('mode audit'))('mode audit and audit rules on real traffic', () => {
  const { ns } = cliNamespace('audit');
  const dir = scratchDir('xdpfw-audit-');
  const file = path.join(dir, 'p.xdpfw');
  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);
  let receiver: ChildProcess;
  let output = '';

  /** Datagrams received on veth0's address, by port, since the receiver started. */
  const received = async (): Promise<Record<string, number>> => {
    const before = output.length;
    receiver.stdin!.write('report\n');
    for (let i = 0; i < 100 && !output.slice(before).includes('\n'); i++) await new Promise((r) => setTimeout(r, 50));
    return JSON.parse(output.slice(before).trim()) as Record<string, number>;
  };
  const stats = async () => {
    const r = await xdpfw('stats', '--json');
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as StatsJson).interfaces[0];
  };
  const apply = async (text: string) => {
    fs.writeFileSync(file, text);
    const r = await xdpfw('apply', file, '--mode', 'generic');
    expect(r.code, r.stderr).toBe(0);
  };

  beforeAll(async () => {
    const script = `const dgram = require('dgram'); const counts = {};
      for (const port of ${JSON.stringify(PORTS)}) {
        counts[port] = 0;
        dgram.createSocket('udp4').on('message', () => counts[port]++).bind(port, '10.99.0.1');
      }
      process.stdin.on('data', () => process.stdout.write(JSON.stringify(counts) + '\\n'));`;
    receiver = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    receiver.stdout!.on('data', (d) => (output += d));
    await apply(policy('  mode audit\n'));
  });
  afterAll(() => receiver?.kill());

  it('lets every datagram in, each counted by its rule, the default, an audit rule and as a would-drop', async () => {
    for (const port of PORTS) sendUdpFromPeer(ns, port, 20);
    await new Promise((r) => setTimeout(r, 300));
    expect(await received()).toEqual({ 7: 20, 9: 20, 11: 20 });
    const s = await stats();
    expect(s.auditMode).toBe(true);
    const rule = (name: string) => s.rules.find((r) => r.name === name)!;
    expect(rule('maybe-echo')).toMatchObject({ audit: true, packets: 20 });
    expect(rule('discard')).toMatchObject({ audit: false, packets: 20 });
    expect(rule('echo')).toMatchObject({ audit: false, packets: 20 });
    expect(s.default.packets).toBeGreaterThanOrEqual(20);
    expect(s.wouldDrop.packets).toBe(rule('discard').packets + s.default.packets);
    const human = await xdpfw('stats');
    expect(human.stdout).toContain('mode audit: drops and rejects are counted and passed');
    expect(human.stdout).toMatch(/audit drop +maybe-echo +20 /);
    expect(human.stdout).toMatch(/would-drops \(passed\) +\d+/);
  });

  it('traces what was not enforced as AUDIT, saying what would have been done', async () => {
    const t = traceIn(ns, '--verdict', 'audit', '--json', '--count', '2');
    await t.started;
    sendUdpFromPeer(ns, 7, 1);
    sendUdpFromPeer(ns, 9, 1);
    const r = await t.done;
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines<{ verdict: string; audit: { would: string }; rule: { name: string } }>(r);
    expect(lines.map((l) => [l.verdict, l.audit.would, l.rule.name])).toEqual([
      ['AUDIT', 'drop', 'maybe-echo'],
      ['AUDIT', 'drop', 'discard'],
    ]);
  });

  it('enforces once the mode goes, and counts the enforced rules afresh', async () => {
    const before = await received();
    await apply(policy(''));
    for (const port of PORTS) sendUdpFromPeer(ns, port, 10);
    await new Promise((r) => setTimeout(r, 300));
    const after = await received();
    expect([7, 9, 11].map((p) => after[p] - before[p])).toEqual([10, 0, 0]);
    const s = await stats();
    expect(s.auditMode).toBe(false);
    const rule = (name: string) => s.rules.find((r) => r.name === name)!;
    // discard and echo were counted under mode audit: now they count what is enforced, from 0.
    expect(rule('discard').packets).toBe(10);
    expect(rule('echo').packets).toBe(10);
    // An audit rule is not enforced in either mode: it keeps its count.
    expect(rule('maybe-echo').packets).toBe(31);
  });
});
