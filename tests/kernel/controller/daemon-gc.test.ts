/**
 * The real daemon frees what deleted namespaces left pinned, at its start and
 * then every --gc-interval, counts it in xdpfw_gc_freed_total, and never
 * frees the pins of its own interface, even while that interface is gone.
 */

import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureBpffs } from '../../../src/xdp/index.js';
import { bpffsRoot, stateRoot } from '../../../src/xdp/pins.js';
import { scratchDir } from '../../support/scratch.js';
import { buildCli, xdpfwIn } from '../cli/netns-cli.js';
import { netnsKeyOf } from '../xdp/helpers/netns-key.js';
import { TestNetns, run, skipWithoutRoot } from '../xdp/helpers/env.js';
import { Daemon, httpGet, sleep, type LogEvent } from './daemon.js';

const POLICY = 'interface veth0 {\n  default allow\n  drop udp dport 9 name "discard"\n}\n';

type GcEvent = LogEvent & { netns?: string; reason?: string; progId?: number };

describe.skipIf(skipWithoutRoot('the daemon freeing stale pins'))('xdpfw run frees stale pins itself', () => {
  const stale = new TestNetns('gcstale');
  const home = new TestNetns('gchome');
  const file = path.join(scratchDir('xdpfw-daemon-gc-'), 'p.xdpfw');
  const keys: string[] = [];
  let daemon: Daemon | undefined;

  beforeAll(() => {
    buildCli();
    ensureBpffs();
    fs.writeFileSync(file, POLICY);
  }, 180_000);

  afterAll(async () => {
    await daemon?.stop();
    stale.destroy();
    home.destroy();
    for (const key of keys) {
      fs.rmSync(path.join(bpffsRoot(), key), { recursive: true, force: true });
      fs.rmSync(path.join(stateRoot(), key), { recursive: true, force: true });
    }
  });

  /** A namespace with the policy applied, then deleted: its pins are left behind. Its key and the program. */
  async function leftBehind(): Promise<{ key: string; progId: number }> {
    stale.create();
    const key = netnsKeyOf(stale.name);
    keys.push(key);
    const r = await xdpfwIn(stale, 'apply', file, '--mode', 'generic', '--json');
    expect(r.code, r.stderr).toBe(0);
    const progId = (JSON.parse(r.stdout) as { applied: { progId: number }[] }).applied[0].progId;
    stale.destroy();
    expect(fs.existsSync(path.join(bpffsRoot(), key))).toBe(true);
    return { key, progId };
  }

  const freedIn = (key: string) => (e: GcEvent) => e.msg === 'freed stale pins' && e.netns === key;
  const freedMetric = () =>
    Number(/^xdpfw_gc_freed_total\{reason="netns-gone"\} (\d+)$/m.exec(httpGet(home, 'http://127.0.0.1:9464/metrics').body)?.[1]);

  it('at start and at each interval, counted, and never its own interface', async () => {
    const first = await leftBehind();
    home.create();
    const homeKey = netnsKeyOf(home.name);
    keys.push(homeKey);
    daemon = new Daemon(home, ['--iface', 'veth0', '--policy', file, '--metrics', '127.0.0.1:9464', '--gc-interval', '1']);
    const freed = (await daemon.waitFor(freedIn(first.key))) as GcEvent;
    expect(freed).toMatchObject({ interface: 'veth0', reason: 'netns-gone', progId: first.progId });
    await daemon.waitFor((e) => e.msg === 'running');
    expect(fs.existsSync(path.join(bpffsRoot(), first.key))).toBe(false);
    expect(fs.existsSync(path.join(stateRoot(), first.key))).toBe(false);
    const atStart = freedMetric();
    expect(atStart).toBeGreaterThanOrEqual(1);

    const second = await leftBehind();
    await daemon.waitFor(freedIn(second.key), 5000);
    expect(fs.existsSync(path.join(bpffsRoot(), second.key))).toBe(false);
    expect(freedMetric()).toBeGreaterThanOrEqual(atStart + 1);

    // Its own interface gone: its link now reports interface 0, which `xdpfw gc` would free.
    const from = daemon.events().length;
    run('ip', ['-n', home.name, 'link', 'del', 'veth0']);
    await daemon.waitFor((e) => e.msg.startsWith('interface removed'), 5000, from);
    await sleep(2500);
    expect(daemon.events().slice(from).some(freedIn(homeKey))).toBe(false);
    expect(fs.existsSync(path.join(bpffsRoot(), homeKey, 'veth0'))).toBe(true);
  }, 120_000);
});
