/**
 * The real daemon's rule decision log: each decision of a rule with `log`
 * is one `rule decision` line naming the rule and the packet, and a rule
 * without `log` gives none; a flood gives no more lines than the kernel's
 * rate lets through, and a warn line says how many it kept back, the lines
 * and the counts adding up to what was sent; an `audit` rule's lines say
 * so while its packets pass; a reloaded policy's program is logged in its
 * turn, with the rule's new index, and the daemon's fds stay as many.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { cliNamespace, sendUdpFromPeer } from '../cli/netns-cli.js';
import { skipWithoutRoot, type TestNetns } from '../xdp/helpers/env.js';
import { Daemon, sleep } from './daemon.js';

const policy = (head: string) =>
  'interface veth0 {\n  default allow\n' +
  head +
  '  drop udp dport 9999 log name "probe"\n' +
  '  drop udp dport 9997 name "quiet"\n' +
  '  audit drop udp dport 9998 log name "watch"\n}\n';

interface DecisionLine {
  msg: string;
  level: number;
  interface: string;
  rule: { index: number; name: string | null; file: string; line: number };
  verdict: 'allow' | 'drop';
  audit?: true;
  IP: { source: string; destination: string };
  l4: { UDP: { source_port: number; destination_port: number } };
  suppressed?: number;
  lost?: number;
}

/** A UDP receiver on veth0's address in the namespace: how many datagrams came. */
function receiver(ns: TestNetns, port: number): { ready: Promise<void>; count: () => number; stop: () => void } {
  const script = `const s = require('dgram').createSocket('udp4');
    s.on('message', () => console.log('got')); s.bind(${port}, '10.99.0.1', () => console.log('ready'));`;
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script]);
  let out = '';
  let ready: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (ready = resolve));
  child.stdout.on('data', (d) => {
    out += d;
    if (out.includes('ready')) ready();
  });
  return { ready: started, count: () => out.split('\n').filter((l) => l === 'got').length, stop: () => child.kill('SIGTERM') };
}

const fdCount = (pid: number) => fs.readdirSync(`/proc/${pid}/fd`).length;

describe.skipIf(skipWithoutRoot('the daemon logging rule decisions'))('xdpfw run logs the decisions of rules with log', () => {
  const { ns } = cliNamespace('decisionlog');
  const file = path.join(scratchDir('xdpfw-decisionlog-'), 'p.xdpfw');
  let daemon: Daemon | undefined;
  afterAll(() => daemon?.stop());

  const decisions = (from: number) => daemon!.events().slice(from) as unknown as DecisionLine[];
  const lines = (from: number, rule: string) => decisions(from).filter((e) => e.msg === 'rule decision' && e.rule.name === rule);
  const waitUntil = async (what: () => boolean, withinMs: number) => {
    const end = Date.now() + withinMs;
    while (!what() && Date.now() < end) await sleep(100);
  };

  it('logs each decision, at most the kernel rate of a flood, audit lines, and follows a reload', async () => {
    fs.writeFileSync(file, policy(''));
    daemon = new Daemon(ns, ['--iface', 'veth0', '--policy', file]);
    await daemon.waitFor((e) => e.msg === 'running');

    let from = daemon.events().length;
    sendUdpFromPeer(ns, 9999, 20);
    sendUdpFromPeer(ns, 9997, 20);
    await waitUntil(() => lines(from, 'probe').length >= 20, 5000);
    await sleep(500); // a line too many would come within a drain
    const probe = lines(from, 'probe');
    expect(probe).toHaveLength(20);
    expect(decisions(from).filter((e) => e.msg === 'rule decision')).toHaveLength(20);
    for (const l of probe) {
      expect(l).toMatchObject({
        level: 30,
        interface: 'veth0',
        verdict: 'drop',
        rule: { index: 0, name: 'probe', file: expect.stringContaining('p.xdpfw') as unknown, line: 3 },
      });
      expect(l.audit).toBeUndefined();
      expect(l.IP).toMatchObject({ source: '10.99.0.2', destination: '10.99.0.1' });
      expect(l.l4.UDP.destination_port).toBe(9999);
      expect(l.l4.UDP.source_port).toBe(probe[0].l4.UDP.source_port);
    }

    // The kernel's bucket (burst 200) is full again after 2 s at 100 a second.
    await sleep(2500);
    from = daemon.events().length;
    const flood = 2000;
    const started = Date.now();
    sendUdpFromPeer(ns, 9999, flood);
    const elapsedS = (Date.now() - started) / 1000;
    const keptBack = () =>
      decisions(from)
        .filter((e) => e.msg.startsWith('rule decisions not logged'))
        .reduce((sum, e) => sum + (e.suppressed ?? 0) + (e.lost ?? 0), 0);
    // What one look saw kept back is warned at once; the rest, one period (10 s) later.
    await waitUntil(() => lines(from, 'probe').length + keptBack() >= flood, 25_000);
    const logged = lines(from, 'probe').length;
    const warns = decisions(from).filter((e) => e.msg.startsWith('rule decisions not logged'));
    expect(logged).toBeLessThanOrEqual(200 + 100 * elapsedS + 5);
    expect(logged).toBeGreaterThanOrEqual(200);
    expect(warns.length).toBeGreaterThan(0);
    expect(warns.every((w) => w.level === 40 && w.interface === 'veth0')).toBe(true);
    expect(warns.reduce((sum, w) => sum + (w.suppressed ?? 0), 0)).toBeGreaterThan(0);
    expect(logged + keptBack()).toBe(flood);

    const passed = receiver(ns, 9998);
    await passed.ready;
    from = daemon.events().length;
    sendUdpFromPeer(ns, 9998, 5);
    await waitUntil(() => lines(from, 'watch').length >= 5 && passed.count() >= 5, 5000);
    passed.stop();
    expect(passed.count()).toBe(5);
    const watch = lines(from, 'watch');
    expect(watch).toHaveLength(5);
    for (const l of watch) expect(l).toMatchObject({ verdict: 'drop', audit: true, rule: { name: 'watch', index: 2 } });

    // Each reload moves "probe" one index down; the new program's ring is read, and the old one's closed.
    const pid = daemon.child.pid!;
    let fds = 0;
    for (let reload = 1; reload <= 3; reload++) {
      from = daemon.events().length;
      fs.writeFileSync(file, policy(Array.from({ length: reload }, (_, i) => `  drop tcp dport ${i + 1} name "first-${i}"\n`).join('')));
      await daemon.waitFor((e) => e.msg === 'policy replaced atomically', 15_000, from);
      await sleep(1500); // the decision log looks once a second
      sendUdpFromPeer(ns, 9999, 3);
      await waitUntil(() => lines(from, 'probe').length >= 3, 5000);
      expect(lines(from, 'probe').map((l) => l.rule.index)).toEqual([reload, reload, reload]);
      if (reload === 1) fds = fdCount(pid);
      else expect(fdCount(pid)).toBe(fds);
    }
  }, 120_000);
});
