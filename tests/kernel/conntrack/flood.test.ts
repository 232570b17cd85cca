/**
 * A spoofed SYN flood at an open port of the protected host while one of
 * its connections transfers data. The host answers each SYN with a SYN-ACK
 * (SYN cookies), which its egress would record as a half-open entry per
 * spoofed source; the flood guard stops creating them past the threshold,
 * so the table (4,096 TCP entries here, far fewer than the flood's
 * sources) keeps the established connection: it flows throughout, its entry
 * is never gone, and a new outbound connection works afterwards.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { REPO, TS_LOADER, fixtureObject, run, skipWithoutRoot } from '../xdp/helpers/env.js';
import { cliNamespace, xdpfwIn } from '../cli/netns-cli.js';
import { FlowRunner } from './flow-runner.js';

const HOST = '10.99.0.1';
const PEER = '10.99.0.2';
const FLOOD = { packets: 400_000, chunk: 20_000, pauseMs: 40 };

const POLICY = `conntrack { size 4096; flood-threshold 1000 }
interface veth0 {
  default drop
  allow ct state established,related name "return-traffic"
  allow tcp dport 8081 ct state new name "open-port"
}
`;

interface Entry {
  protocol: number;
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  state: string;
}

describe.skipIf(skipWithoutRoot('SYN flood against the connection table'))('a spoofed SYN flood', () => {
  const { ns } = cliNamespace('flood');
  const dir = scratchDir('xdpfw-flood-');
  const flows = new FlowRunner();
  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);
  const mac = (where: string, dev: string) =>
    (JSON.parse(run('ip', ['-n', where, '-j', 'link', 'show', 'dev', dev])) as { address: string }[])[0].address;

  beforeAll(async () => {
    // The SYN-ACKs to the spoofed sources leave through veth0, where they are recorded.
    run('ip', ['-n', ns.name, 'route', 'add', '10.200.0.0/16', 'via', PEER]);
    const file = path.join(dir, 'flood.xdpfw');
    fs.writeFileSync(file, POLICY);
    const applied = await xdpfw('apply', file);
    expect(applied.code, applied.stderr).toBe(0);
    await flows.once(ns.peer, 'tcp-server', PEER, '8080');
    await flows.once(ns.name, 'tcp-server', HOST, '8081');
  }, 120_000);

  afterAll(async () => {
    flows.killAll();
    await xdpfw('detach');
  });

  it('never evicts the established connection, which keeps flowing; new ones still work', async () => {
    const { child: stream, first } = await flows.start(ns.name, 'tcp-stream', PEER, '8080');
    const ours = (e: Entry) => e.protocol === 6 && e.local === HOST && e.localPort === first.localPort && e.remotePort === 8080;
    const entries = async (): Promise<Entry[]> => {
      const r = await xdpfw('ct', 'list', '--json');
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { entries: Entry[] }).entries;
    };
    expect((await entries()).filter(ours)).toMatchObject([{ state: 'established' }]);

    const sender = flows.adopt(
      spawn(
        'ip',
        [
          'netns',
          'exec',
          ns.peer,
          process.execPath,
          '--import',
          TS_LOADER,
          path.join(REPO, 'tests/kernel/conntrack/synflood-send.ts'),
          fixtureObject('synflood'),
          'veth1',
          mac(ns.peer, 'veth1'),
          mac(ns.name, 'veth0'),
          HOST,
          '8081',
          String(FLOOD.packets),
          String(FLOOD.chunk),
          String(FLOOD.pauseMs),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      ),
    );
    let report = '';
    sender.stdout!.on('data', (d: Buffer) => (report += d.toString()));
    const sent = new Promise<{ sent: number; seconds: number }>((resolve, reject) =>
      sender.on('exit', (code) =>
        code === 0 ? resolve(JSON.parse(report) as { sent: number; seconds: number }) : reject(new Error(`sender exited ${code}`)),
      ),
    );
    // Throughout the flood, the connection's entry is there.
    let looks = 0;
    let done = false;
    void sent.finally(() => (done = true));
    while (!done) {
      expect((await entries()).filter(ours)).toHaveLength(1);
      looks++;
    }
    const flood = await sent;

    const stats = await xdpfw('stats', '--json');
    const table = (JSON.parse(stats.stdout) as { conntrack: { floodRefused: number; floodSeconds: number; created: { tcp: number } } })
      .conntrack;
    console.log(
      `flood: ${flood.sent} spoofed SYNs in ${flood.seconds.toFixed(1)} s (${Math.round(flood.sent / flood.seconds)} pps); ` +
        `the guard refused ${table.floodRefused} half-open entries in ${table.floodSeconds} CPU-seconds, ` +
        `${table.created.tcp} TCP entries created; entry checked ${looks} times`,
    );
    expect(table.floodRefused).toBeGreaterThan(0);
    expect((await entries()).filter(ours)).toMatchObject([{ state: 'established' }]);
    const result = await flows.finish(stream);
    expect(result).toMatchObject({ ok: true });
    expect(result.maxGapMs as number).toBeLessThan(1000);
    expect(await flows.once(ns.name, 'tcp-roundtrip', PEER, '8080', '100000')).toMatchObject({ ok: true });
  }, 120_000);
});
