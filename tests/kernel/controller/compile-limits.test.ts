/**
 * The real daemon compiles a policy in a worker with a heap limit: a policy
 * whose compile needs more is refused with the limit's message while
 * /healthz keeps answering promptly, the policy in force stays, and the next
 * good edit is applied.
 */

import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadAndCompile } from '../../../src/app/policy-loader.js';
import { scratchDir } from '../../support/scratch.js';
import { xdpfwIn, cliNamespace } from '../cli/netns-cli.js';
import { skipWithoutRoot } from '../xdp/helpers/env.js';
import { Daemon, httpGet, pollGet } from './daemon.js';

const good = (n: number) => `interface veth0 {\n  default allow\n  drop udp dport ${3000 + n} name "v${n}"\n}\n`;

/** 300,000 distinct addresses written out in one define: parsing them takes far more than 64 MiB of heap. */
function hugePolicy(): string {
  const addresses = Array.from({ length: 300_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  return `define many = { ${addresses.join(', ')} }\ninterface veth0 {\n  default allow\n  drop src $many\n}\n`;
}

describe.skipIf(skipWithoutRoot('the daemon compiling within limits'))('xdpfw run compiles a policy within its limits', () => {
  const { ns } = cliNamespace('climit', () => daemon?.stop());
  const dir = scratchDir('xdpfw-climit-');
  let daemon: Daemon | undefined;

  it('refuses a policy whose compile exceeds the heap limit, keeps answering /healthz, keeps the old policy and applies the next edit', async () => {
    const p = path.join(dir, 'edge.xdpfw');
    const replace = (text: string) => {
      fs.writeFileSync(`${p}.new`, text);
      fs.renameSync(`${p}.new`, p);
    };
    const hashOf = () => loadAndCompile(p).compiled!.interfaces[0].hash;
    replace(good(0));
    const first = hashOf();
    daemon = new Daemon(ns, [
      '--iface',
      'veth0',
      '--policy',
      p,
      '--debounce',
      '50',
      '--compile-memory',
      '64',
      '--metrics',
      '127.0.0.1:9464',
    ]);
    await daemon.waitFor((e) => e.msg === 'policy attached' && e.hash === first);
    await daemon.waitFor((e) => e.msg === 'running');

    const poller = pollGet(ns, 'http://127.0.0.1:9464/healthz', 100);
    await new Promise((r) => setTimeout(r, 500));
    const from = daemon.events().length;
    const editedAt = Date.now();
    replace(hugePolicy());
    const refused = await daemon.waitFor((e) => e.msg.startsWith('reload refused'), 60_000, from);
    const refusedAt = Date.now();
    const samples = await poller.stop();

    expect(refused.msg).toBe('reload refused: compiling the policy exceeded 64 MiB; the policy in force stays');
    const during = samples.filter((s) => s.at > editedAt && s.at <= refusedAt);
    // The compile took a while (a heap filled to 64 MiB), and the daemon answered all along.
    expect(refusedAt - editedAt).toBeGreaterThan(500);
    expect(during.length).toBeGreaterThanOrEqual(3);
    for (const s of during) {
      expect(s.status, JSON.stringify(s)).toBe(200);
      expect(s.ms, JSON.stringify(s)).toBeLessThan(500);
    }
    const health = JSON.parse(httpGet(ns, 'http://127.0.0.1:9464/healthz').body) as {
      interfaces: { failing: boolean; lastError: string }[];
    };
    expect(health.interfaces[0]).toMatchObject({ failing: true, lastError: 'compiling the policy exceeded 64 MiB' });
    const status = JSON.parse((await xdpfwIn(ns, 'status', '--json')).stdout) as { interfaces: { policyHash: string }[] };
    expect(status.interfaces[0].policyHash).toBe(first);

    const next = daemon.events().length;
    replace(good(1));
    const second = hashOf();
    expect(second).not.toBe(first);
    await daemon.waitFor((e) => e.msg === 'policy replaced atomically' && e.hash === second, 15_000, next);
  }, 120_000);
});
