/**
 * The real daemon (bin/xdpfw.js run, built from these sources) inside a test
 * namespace follows what changes under it: a policy directory replaced in
 * several ways (each edit's hash in force, by its log and by `xdpfw status`),
 * and its interface missing at start, deleted and re-created (logged,
 * /healthz and xdpfw_enforced say unprotected only while it is, re-attached
 * within seconds, a ping from the peer meets the policy).
 */

import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadAndCompile } from '../../../src/app/policy-loader.js';
import { DirectorySourceHost } from '../../../src/controller/sources/file-source.js';
import { scratchDir } from '../../support/scratch.js';
import { xdpfwIn, cliNamespace } from '../cli/netns-cli.js';
import { run, skipWithoutRoot } from '../xdp/helpers/env.js';
import { Daemon, addVeth, httpGet, sleep } from './daemon.js';

/** Version `n` of the policy: even versions let a ping through, odd ones drop it; each has its own hash. */
const policy = (n: number) =>
  `interface veth0 {\n  default allow\n  ${n % 2 === 0 ? 'allow' : 'drop'} icmp name "v${n}"\n  drop udp dport ${3000 + n}\n}\n`;

function hashOnDisk(p: string): string {
  const host = fs.statSync(p).isDirectory() ? new DirectorySourceHost(p) : undefined;
  const hash = loadAndCompile(p, host).compiled?.interfaces[0].hash;
  if (!hash) throw new Error(`${p} does not compile`);
  return hash;
}

describe.skipIf(skipWithoutRoot('the daemon following its policy and interface'))('xdpfw run follows what changes under it', () => {
  const { ns } = cliNamespace('follow', async () => {
    for (const d of daemons) await d.stop();
  });
  const dir = scratchDir('xdpfw-follow-');
  const daemons: Daemon[] = [];

  const statusHash = async (): Promise<string | null> => {
    const r = await xdpfwIn(ns, 'status', '--json');
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { interfaces: { interface: string; policyHash: string | null }[] }).interfaces[0].policyHash;
  };

  it('applies every edit of a policy directory replaced in six ways, and SIGHUP re-reads it', async () => {
    const d = path.join(dir, 'policy.d');
    let n = 0;
    let generation = 0;
    /** A ConfigMap volume's update: a fresh directory, `..data` renamed to it, the old one removed. */
    const kubeletUpdate = (text: string) => {
      const data = path.join(d, '..data');
      const previous = fs.existsSync(data) ? fs.readlinkSync(data) : undefined;
      const fresh = `..gen-${++generation}`;
      fs.mkdirSync(path.join(d, fresh));
      fs.writeFileSync(path.join(d, fresh, 'edge.xdpfw'), text);
      fs.rmSync(`${data}.tmp`, { force: true });
      fs.symlinkSync(fresh, `${data}.tmp`);
      fs.renameSync(`${data}.tmp`, data);
      if (previous) fs.rmSync(path.join(d, previous), { recursive: true });
    };
    fs.mkdirSync(d);
    kubeletUpdate(policy(n));
    fs.symlinkSync('..data/edge.xdpfw', path.join(d, 'edge.xdpfw'));
    const daemon = new Daemon(ns, ['--iface', 'veth0', '--policy', d, '--debounce', '100']);
    daemons.push(daemon);
    await daemon.waitFor((e) => e.msg === 'running');

    const ways: [string, () => Promise<void> | void][] = [
      ['written at once after "running"', () => fs.writeFileSync(fs.realpathSync(path.join(d, 'edge.xdpfw')), policy(++n))],
      ['..data swapped', () => kubeletUpdate(policy(++n))],
      [
        'the directory removed, made again and written',
        () => {
          fs.rmSync(d, { recursive: true });
          fs.mkdirSync(d);
          fs.writeFileSync(path.join(d, 'edge.xdpfw'), policy(++n));
        },
      ],
      [
        'the directory removed, and made again a moment later',
        async () => {
          fs.rmSync(d, { recursive: true });
          await sleep(300);
          fs.mkdirSync(d);
          await sleep(300);
          fs.writeFileSync(path.join(d, 'edge.xdpfw'), policy(++n));
        },
      ],
      [
        'a staged directory renamed in place of the old one',
        () => {
          const staged = path.join(dir, 'staged');
          fs.mkdirSync(staged);
          fs.writeFileSync(path.join(staged, 'edge.xdpfw'), policy(++n));
          fs.renameSync(d, path.join(dir, 'old'));
          fs.renameSync(staged, d);
          fs.rmSync(path.join(dir, 'old'), { recursive: true });
        },
      ],
      ['the file edited in place', () => fs.writeFileSync(path.join(d, 'edge.xdpfw'), policy(++n))],
    ];
    for (const [name, way] of ways) {
      const from = daemon.events().length;
      await way();
      const wanted = hashOnDisk(d);
      const applied = await daemon.waitFor((e) => e.msg === 'policy replaced atomically' && e.hash === wanted, 15_000, from);
      expect(applied.interface, name).toBe('veth0');
      expect(await statusHash(), name).toBe(wanted);
      expect(ns.pingFromPeer(), `${name}: a ping meets version ${n}`).toBe(n % 2 === 0);
    }

    const from = daemon.events().length;
    daemon.child.kill('SIGHUP');
    await daemon.waitFor((e) => e.msg === 'policy unchanged' && e.hash === hashOnDisk(d), 15_000, from);
    // Errors only while the directory was briefly gone or empty: the policy in force stayed, and no bug was logged.
    const errors = daemon.events().filter((e) => e.level >= 50);
    for (const e of errors)
      expect(e.msg, JSON.stringify(e)).toMatch(/^reload (failed: 1 error|refused: the policy has no interface block)/);
    await daemon.stop();
  }, 180_000);

  it('started before its interface exists, it retries, attaches once it appears, and follows its deletion and re-creation', async () => {
    run('ip', ['-n', ns.name, 'link', 'del', 'veth0']);
    const p = path.join(dir, 'edge.xdpfw');
    fs.writeFileSync(p, policy(1)); // drops pings
    const config = path.join(dir, 'run.yaml');
    fs.writeFileSync(
      config,
      [
        'metrics: 127.0.0.1:9464',
        'mode: generic',
        'debounceMs: 100',
        'retrySeconds: 1',
        'linkPollSeconds: 1',
        'interfaces:',
        '  - name: veth0',
        `    policy: ${p}`,
        '',
      ].join('\n'),
    );
    const daemon = new Daemon(ns, ['--config', config]);
    daemons.push(daemon);
    const health = () => httpGet(ns, 'http://127.0.0.1:9464/healthz').status;
    const enforcedMetric = () => /^xdpfw_enforced\{interface="veth0"\} (\d)$/m.exec(httpGet(ns, 'http://127.0.0.1:9464/metrics').body)?.[1];

    await daemon.waitFor((e) => e.msg.includes('interface veth0 does not exist'));
    await daemon.waitFor((e) => e.msg === 'running');
    await daemon.waitFor((e) => e.msg === 'will retry the reload');
    expect(health()).toBe(503);
    expect(enforcedMetric()).toBe('0');

    // The watcher runs although nothing could be attached: an edit made now is what gets attached.
    fs.writeFileSync(p, policy(2)); // lets pings through
    await sleep(500);
    let from = daemon.events().length;
    addVeth(ns);
    await daemon.waitFor((e) => e.msg === 'policy attached' && e.hash === hashOnDisk(p), 10_000, from);
    expect(health()).toBe(200);
    expect(enforcedMetric()).toBe('1');
    expect(ns.xdpProg()?.id).toBeDefined();
    expect(ns.pingFromPeer()).toBe(true);

    fs.writeFileSync(p, policy(3)); // drops pings
    await daemon.waitFor((e) => e.msg === 'policy replaced atomically' && e.hash === hashOnDisk(p));
    expect(ns.pingFromPeer()).toBe(false);

    from = daemon.events().length;
    run('ip', ['-n', ns.name, 'link', 'del', 'veth0']);
    await daemon.waitFor((e) => e.msg.startsWith('interface removed'), 5000, from);
    expect(health()).toBe(503);
    expect(enforcedMetric()).toBe('0');

    from = daemon.events().length;
    const recreatedAt = Date.now();
    addVeth(ns);
    // Attached anew, or swapped in on a link the kernel still reported on the new interface: the checks below say which is in force.
    await daemon.waitFor((e) => /^policy (attached|replaced atomically)$/.test(e.msg) && e.hash === hashOnDisk(p), 10_000, from);
    const seconds = (Date.now() - recreatedAt) / 1000;
    console.log(`re-attached ${seconds.toFixed(1)} s after the interface was re-created`);
    expect(seconds).toBeLessThan(5);
    expect(health()).toBe(200);
    expect(enforcedMetric()).toBe('1');
    expect(await statusHash()).toBe(hashOnDisk(p));
    const status = JSON.parse((await xdpfwIn(ns, 'status', '--json')).stdout) as { interfaces: { state: string; progId: number }[] };
    expect(status.interfaces[0]).toMatchObject({ state: 'attached', progId: ns.xdpProg()?.id });
    expect(ns.pingFromPeer()).toBe(false); // the policy drops it; a bare veth would answer
    await daemon.stop();
  }, 180_000);
});
