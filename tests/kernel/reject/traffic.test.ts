/**
 * `reject` between two namespaces with real sockets: xdpfw on the host's
 * veth0 answers from XDP, and clients in the peer namespace see the
 * answer as the kernel reports it — a TCP connect refused at once (the
 * RST), a connected UDP socket's error (the ICMP unreachable: Linux maps
 * "administratively prohibited" to EHOSTUNREACH for IPv4 and EACCES for
 * IPv6) — over IPv4 and IPv6.
 *
 * A veth hands an XDP_TX frame to its peer only when the peer runs an XDP
 * program (its NAPI ring takes the frame; GRO alone did not here): the
 * peer's veth1 gets an allow-all xdpfw policy.
 *
 * Through a VLAN tag: this test kernel has no 802.1Q driver, so no VLAN
 * interface; a tc program on the peer's egress puts a priority tag (VLAN
 * 0, which the stack takes without one) in each frame's bytes
 * (tests/kernel/xdp/fixtures/priority-tag.bpf.c), and a capture on the
 * peer's veth1 (tag-capture.py) shows the tag on the frames that left and
 * on the answers that came back.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { bpffsRoot, stateRoot } from '../../../src/xdp/pins.js';
import { CLI, applyText, cliNamespace, xdpfwIn } from '../cli/netns-cli.js';
import { netnsKeyOf } from '../xdp/helpers/netns-key.js';
import { REPO, TS_LOADER, fixtureObject, run, skipWithoutRoot } from '../xdp/helpers/env.js';

const CLIENT = path.join(REPO, 'tests/kernel/reject/client.ts');
const CAPTURE = path.join(REPO, 'tests/kernel/reject/tag-capture.py');
const PRIORITY_TAG = 0x2000; // priority 1, VLAN 0
const TCP_PORT = 7100;
const UDP_PORT = 7101;
const OPEN_PORT = 7102;

const policy = `interface veth0 {
  reject tcp dport ${TCP_PORT} name "tcp"
  reject udp dport ${UDP_PORT} name "udp"
  allow
}
`;

/** The host's addresses, by path: on veth0 itself and on its VLAN 10 interface. */
const HOST = { v4: '10.99.0.1', v6: '2001:db8:99::1' };

/** A RST or an ICMP/ICMPv6 destination unreachable (not the host's own router solicitations and the like). */
function isAnswer(head: Buffer, tagInFrame: boolean): boolean {
  const l3 = tagInFrame ? 18 : 14;
  const type = head.readUInt16BE(l3 - 2);
  if (type === 0x0800) return head[l3 + 9] === 6 || head[l3 + 9] === 1;
  return type === 0x86dd && (head[l3 + 6] === 6 || (head[l3 + 6] === 58 && head[l3 + 40] === 1));
}

interface ClientResult {
  code: string;
  ms: number;
}

describe.skipIf(skipWithoutRoot('reject with real traffic'))('reject answers real clients', () => {
  const { ns } = cliNamespace('reject');
  const dir = scratchDir('xdpfw-reject-');

  const client = (kind: 'tcp' | 'udp', host: string, port: number): ClientResult =>
    JSON.parse(
      run('ip', ['netns', 'exec', ns.peer, process.execPath, '--import', TS_LOADER, CLIENT, kind, host, String(port)], {
        cwd: REPO,
        timeout: 30_000,
      }),
    ) as ClientResult;

  let peerKey = '';
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    if (peerKey) for (const root of [bpffsRoot(), stateRoot()]) fs.rmSync(path.join(root, peerKey), { recursive: true, force: true });
  });

  /** IPv6 on both ends with static neighbours; an XDP program on the peer to take XDP_TX frames. */
  function addPaths(): void {
    const ip = (where: string, ...args: string[]) => run('ip', ['-n', where, ...args]);
    const mac = (where: string, dev: string) =>
      (JSON.parse(ip(where, '-j', 'link', 'show', 'dev', dev)) as { address: string }[])[0]!.address;
    const ends = [
      { where: ns.name, dev: 'veth0', last: 1, other: 2, mac: mac(ns.peer, 'veth1') },
      { where: ns.peer, dev: 'veth1', last: 2, other: 1, mac: mac(ns.name, 'veth0') },
    ];
    for (const e of ends) {
      ip(e.where, '-6', 'addr', 'add', `2001:db8:99::${e.last}/64`, 'dev', e.dev, 'nodad');
      ip(e.where, 'neigh', 'replace', `2001:db8:99::${e.other}`, 'lladdr', e.mac, 'dev', e.dev, 'nud', 'permanent');
    }
    peerKey = netnsKeyOf(ns.peer);
    const peerPolicy = path.join(dir, 'peer.xdpfw');
    fs.writeFileSync(peerPolicy, 'interface veth1 {\n  allow\n}\n');
    run('ip', ['netns', 'exec', ns.peer, process.execPath, CLI, 'apply', peerPolicy], { cwd: REPO });
  }

  it('refuses TCP at once with a RST and fails UDP with the ICMP error, over IPv4 and IPv6', async () => {
    addPaths();
    await applyText(ns, path.join(dir, 'reject.xdpfw'), policy);
    const results: Record<string, ClientResult> = {};
    for (const [name, host] of Object.entries(HOST)) {
      results[`tcp ${name}`] = client('tcp', host, TCP_PORT);
      results[`udp ${name}`] = client('udp', host, UDP_PORT);
    }
    for (const [name, host] of Object.entries(HOST)) {
      const v6 = host.includes(':');
      expect(results[`tcp ${name}`]!.code, `tcp ${name}`).toBe('ECONNREFUSED');
      expect(results[`tcp ${name}`]!.ms, `tcp ${name}: refused at once, not after retries`).toBeLessThan(1000);
      expect(results[`udp ${name}`]!.code, `udp ${name}`).toBe(v6 ? 'EACCES' : 'EHOSTUNREACH');
    }
    const stats = await xdpfwIn(ns, 'stats', '--json');
    expect(stats.code, stats.stderr).toBe(0);
    const iface = (JSON.parse(stats.stdout) as { interfaces: { rules: { name: string | null; packets: number }[] }[] }).interfaces[0]!;
    expect(iface.rules.find((r) => r.name === 'tcp')!.packets).toBeGreaterThanOrEqual(2);
    expect(iface.rules.find((r) => r.name === 'udp')!.packets).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('answers through a VLAN tag, keeping the tag on the answer', async () => {
    run('tc', ['-n', ns.peer, 'qdisc', 'add', 'dev', 'veth1', 'clsact']);
    run('tc', [
      '-n',
      ns.peer,
      'filter',
      'add',
      'dev',
      'veth1',
      'egress',
      'bpf',
      'direct-action',
      'obj',
      fixtureObject('priority-tag'),
      'sec',
      'tc',
    ]);
    const capture = spawn('ip', ['netns', 'exec', ns.peer, 'python3', CAPTURE, 'veth1', '12'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const ready = new Promise<void>((resolve) =>
      capture.stdout.on('data', (d: Buffer) => ((out += d.toString()), out.includes('ready') && resolve())),
    );
    const exited = new Promise<void>((resolve) => capture.on('exit', () => resolve()));
    await ready;
    const results = Object.values(HOST).flatMap((host) => [
      { host, ...client('tcp', host, TCP_PORT) },
      { host, ...client('udp', host, UDP_PORT) },
    ]);
    capture.kill('SIGTERM');
    await exited;
    expect(results.map((r) => r.code)).toEqual(['ECONNREFUSED', 'EHOSTUNREACH', 'ECONNREFUSED', 'EACCES']);
    const frames = out
      .split('\n')
      .filter((line) => line.startsWith('{') && !line.includes('ready'))
      .map((line) => JSON.parse(line) as { outgoing: boolean; tag: { where: string; tpid: number; tci: number } | null; head: string });
    // IPv4 or IPv6 from the host's side: the answers (RSTs, ICMP errors); the client's own frames leave tagged
    const sent = frames.filter((f) => f.outgoing);
    const answers = frames.filter((f) => !f.outgoing && isAnswer(Buffer.from(f.head, 'hex'), f.tag?.where === 'frame'));
    expect(sent.length).toBeGreaterThanOrEqual(4);
    expect(answers.length).toBeGreaterThanOrEqual(4);
    for (const f of sent) expect(f.tag, f.head).toEqual({ where: 'frame', tpid: 0x8100, tci: PRIORITY_TAG });
    for (const f of answers) expect(f.tag, f.head).toMatchObject({ tpid: 0x8100, tci: PRIORITY_TAG });
  }, 120_000);

  it('passes a port no rule rejects to the host, whose own stack refuses it the same way', () => {
    expect(client('tcp', HOST.v4, OPEN_PORT).code).toBe('ECONNREFUSED');
  });
});
