/**
 * `xdpfw stats --watch 1 --json` prints one compact JSON object a line, a
 * line a second, each with the fields docs/cli.md gives, and the counters of
 * one line never fall below the line before; traffic between lines shows.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { REPO, skipWithoutRoot } from '../xdp/helpers/env.js';
import { CLI, cliNamespace, xdpfwIn } from './netns-cli.js';

const POLICY = 'interface veth0 {\n  default allow\n  drop udp dport 9 name "discard"\n  allow icmp name "icmp"\n}\n';
const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const count = { packets: expect.any(Number), bytes: expect.any(Number) };

interface Sample {
  at: string;
  interfaces: {
    rules: { name: string | null; packets: number; bytes: number }[];
    default: { packets: number; bytes: number };
    malformed: { packets: number; bytes: number };
    nonIp: { packets: number; bytes: number };
    fragment: { packets: number; bytes: number };
  }[];
}

describe.skipIf(skipWithoutRoot('stats --watch'))('xdpfw stats --watch --json', () => {
  const { ns } = cliNamespace('swatch');
  const file = path.join(scratchDir('xdpfw-stats-watch-'), 'p.xdpfw');

  beforeAll(() => fs.writeFileSync(file, POLICY));

  it('prints one JSON object a line each period, with the documented fields and growing counters', async () => {
    const applied = await xdpfwIn(ns, 'apply', file, '--mode', 'generic', '--json');
    expect(applied.code, applied.stderr).toBe(0);
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CLI, 'stats', '--watch', '1', '--json'], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const started = Date.now();
    while (!stdout.includes('\n') && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 20));
    // Traffic after the first sample: the next ones must count it.
    expect(ns.pingFromPeer()).toBe(true);
    expect(ns.pingFromPeer()).toBe(true);
    await new Promise((r) => setTimeout(r, Math.max(0, 2500 - (Date.now() - started))));
    const closed = new Promise((r) => child.once('close', r));
    child.kill('SIGTERM');
    await closed;

    expect(stderr).toBe('');
    const lines = stdout.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(4);
    const samples = lines.map((line) => {
      expect(line.startsWith('{') && line.endsWith('}')).toBe(true);
      return JSON.parse(line) as Sample;
    });
    for (const s of samples) {
      expect(s).toEqual({
        at: iso,
        interfaces: [
          {
            name: 'veth0',
            policyHash: expect.stringMatching(/^[0-9a-f]{64}$/),
            commit: null,
            since: iso,
            rules: [
              expect.objectContaining({ index: 0, name: 'discard', action: 'drop', since: iso, ...count }),
              expect.objectContaining({ index: 1, name: 'icmp', action: 'allow', since: iso, ...count }),
            ],
            default: { action: 'allow', ...count },
            malformed: count,
            nonIp: count,
            fragment: count,
            rejectSent: count,
            rejectSuppressed: count,
            auditMode: false,
            wouldDrop: count,
            attachMode: expect.stringMatching(/^(native|generic)$/),
            sets: [], // no rule names a dynamic set
            appliedAt: iso,
          },
        ],
        conntrack: null, // no policy of the namespace uses ct state
        dynamicSets: [],
      });
    }
    const times = samples.map((s) => Date.parse(s.at));
    for (let i = 1; i < samples.length; i++) {
      expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(900);
      const [before, now] = [samples[i - 1].interfaces[0], samples[i].interfaces[0]];
      for (const [b, n] of [
        ...before.rules.map((r, k) => [r, now.rules[k]] as const),
        [before.default, now.default] as const,
        [before.nonIp, now.nonIp] as const,
      ]) {
        expect(n.packets).toBeGreaterThanOrEqual(b.packets);
        expect(n.bytes).toBeGreaterThanOrEqual(b.bytes);
      }
    }
    const icmp = (s: Sample) => s.interfaces[0].rules[1].packets;
    expect(icmp(samples.at(-1)!) - icmp(samples[0])).toBeGreaterThanOrEqual(2); // the two echo requests
  }, 60_000);
});
