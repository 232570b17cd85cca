/**
 * `xdpfw trace` on a policy in force: the kernel sends the decisions its
 * filters let through (rule, verdict, source), at most --rate of them a
 * second, and says how many it kept back; the lines name the deciding rule
 * and the packet; --pcap writes a file tcpdump reads; a signal stops the
 * trace and switches the program's tracing off; a reloaded program is
 * traced in its turn; a second tracer, an unknown
 * rule and an interface without a policy are refused with their messages.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { MAP, STRUCT } from '../../../src/contract/kernel.js';
import * as bpf from '../../../src/xdp/libbpf.js';
import { liveProgramMaps } from '../../../src/xdp/live-maps.js';
import { scratchDir } from '../../support/scratch.js';
import { skipWithoutRoot } from '../xdp/helpers/env.js';
import { cliNamespace, jsonLines, sendUdpFromPeer, traceIn, xdpfwIn } from './netns-cli.js';

const POLICY = `interface veth0 {
  default allow
  drop udp dport 9 name "discard"
  allow udp dport 7 name "echo"
}
`;

describe.skipIf(skipWithoutRoot('xdpfw trace'))('xdpfw trace on a live policy', () => {
  const { ns, key } = cliNamespace('trace');
  const dir = scratchDir('xdpfw-trace-');
  const file = path.join(dir, 'p.xdpfw');
  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);

  const trace = (...args: string[]) => traceIn(ns, ...args);

  /** The traced program's switch, read from its map: 1 while a tracer has it on. */
  const tracingOn = (): number => {
    const live = liveProgramMaps('veth0', [MAP.traceCfg], { netnsId: key() })!;
    const cfg = live.maps.get(live.names[0])!;
    try {
      const value = Buffer.alloc(STRUCT.xdpfw_trace_config.size);
      expect(bpf.mapLookupElem(cfg.fd, Buffer.alloc(4), value)).toBe(0);
      return value.readUInt32LE(STRUCT.xdpfw_trace_config.fields.on);
    } finally {
      bpf.closeFd(cfg.fd);
    }
  };

  beforeAll(async () => {
    fs.writeFileSync(file, POLICY);
    const r = await xdpfw('apply', file, '--mode', 'generic');
    expect(r.code, r.stderr).toBe(0);
  });

  it('refuses bad options, an unknown rule and an interface without a policy, with their messages', async () => {
    const unknown = await xdpfw('trace', '--rule', 'nosuch');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error[unknown-rule]: --rule nosuch: no rule of the traced interfaces (veth0) has that name');
    expect(unknown.stderr).toContain("hint: named rules: discard, echo; or 'default'");
    const count = await xdpfw('trace', '--count', '0');
    expect(count.code).toBe(2);
    expect(count.stderr).toContain("error[bad-option]: --count: '0' is not a positive whole number");
    const verdict = await xdpfw('trace', '--verdict', 'reject');
    expect(verdict.stderr).toContain("error[bad-option]: --verdict: 'reject' is not allow, drop or audit");
    const prefix = await xdpfw('trace', '--src', '10.0.0.0/33');
    expect(prefix.code).toBe(2);
    expect(prefix.stderr).toContain("error[bad-prefix]: --src: '10.0.0.0/33' is not an address or prefix");
    const pcap = await xdpfw('trace', '--pcap', path.join(dir, 'no', 'such', 'dir.pcapng'));
    expect(pcap.code).toBe(3);
    expect(pcap.stderr).toContain(`error[pcap-file]: --pcap ${path.join(dir, 'no', 'such', 'dir.pcapng')}: ENOENT`);
    const bare = await xdpfw('trace', '--iface', 'lo');
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('error[not-attached]: no xdpfw policy on lo');
  });

  it('shows the decisions of the rule asked for, naming it, and only them', async () => {
    const t = trace('--rule', 'discard', '--json', '--count', '3');
    await t.started;
    sendUdpFromPeer(ns, 7, 3);
    sendUdpFromPeer(ns, 9, 3);
    const r = await t.done;
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r);
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(l).toMatchObject({
        verdict: 'DROPPED',
        decided_by: 'rule',
        drop_reason_desc: 'POLICY_DENIED',
        rule: { index: 0, name: 'discard', line: 3 },
        interface: { name: 'veth0' },
        IP: { source: '10.99.0.2', destination: '10.99.0.1', ipVersion: 'IPv4' },
        l4: { UDP: { destination_port: 9 } },
      });
      expect(l.Summary).toMatch(/^udp 10\.99\.0\.2:\d+ > 10\.99\.0\.1:9$/);
    }
    expect(r.stderr).toMatch(/3 decisions shown; the kernel sent 3, kept back 0/);
    expect(tracingOn()).toBe(0);
  });

  it('filters by verdict and source, writes a pcapng tcpdump reads, and a signal stops it', async () => {
    const pcap = path.join(dir, 'allowed.pcapng');
    const t = trace('--verdict', 'allow', '--src', '10.99.0.0/24', '--pcap', pcap);
    await t.started;
    expect(tracingOn()).toBe(1);
    sendUdpFromPeer(ns, 9, 2); // dropped: not traced
    sendUdpFromPeer(ns, 7, 2);
    await new Promise((resolve) => setTimeout(resolve, 600));
    t.stop();
    const r = await t.done;
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l).toMatch(/ veth0 allow udp 10\.99\.0\.2:\d+ > 10\.99\.0\.1:7 {2}rule 1 "echo" \(.*p\.xdpfw:4\)$/);
    expect(tracingOn()).toBe(0);
    const read = execFileSync('tcpdump', ['-r', pcap, '-nn'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(read.trim().split('\n')).toHaveLength(2);
    expect(read).toContain('10.99.0.2.');
    expect(read).toContain('> 10.99.0.1.7: UDP, length 1');
  });

  it('follows a reload: the new program is traced, its rule found at its new index', async () => {
    const t = trace('--rule', 'echo', '--json', '--count', '2');
    await t.started;
    fs.writeFileSync(file, POLICY.replace('  drop udp dport 9', '  drop udp dport 11 name "first"\n  drop udp dport 9'));
    const applied = await xdpfw('apply', file, '--mode', 'generic');
    expect(applied.code, applied.stderr).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the tracer looks for a new program every second
    sendUdpFromPeer(ns, 7, 2);
    const r = await t.done;
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines<{ rule: { index: number; name: string; line: number } }>(r);
    expect(lines.map((l) => [l.rule.index, l.rule.name, l.rule.line])).toEqual([
      [2, 'echo', 5],
      [2, 'echo', 5],
    ]);
    fs.writeFileSync(file, POLICY);
    expect((await xdpfw('apply', file, '--mode', 'generic')).code).toBe(0);
  });

  it('keeps back what passes the rate, counts it, and refuses a second tracer', async () => {
    const t = trace('--rule', 'discard', '--rate', '5', '--json');
    await t.started;
    const second = await xdpfw('trace');
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/error\[trace-busy\]: veth0 is traced by another xdpfw trace \(pid \d+\)/);
    sendUdpFromPeer(ns, 9, 200);
    await new Promise((resolve) => setTimeout(resolve, 600));
    t.stop();
    const r = await t.done;
    const shown = r.stdout.trim().split('\n').length;
    expect(shown).toBeGreaterThanOrEqual(1);
    expect(shown).toBeLessThanOrEqual(10);
    const m = /(\d+) decisions shown; the kernel sent (\d+), kept back (\d+)/.exec(r.stderr)!;
    expect(Number(m[1])).toBe(shown);
    expect(Number(m[2]) + Number(m[3])).toBe(200);
    expect(tracingOn()).toBe(0);
  });
});
