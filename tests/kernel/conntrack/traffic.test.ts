/**
 * Connection tracking with real traffic between two namespaces: the
 * protected host (veth0, 10.99.0.1) under `default drop` and `allow ct
 * state established,related`, its peer (veth1, 10.99.0.2) serving TCP and
 * UDP echo. What the host opens gets its answers; what the peer starts is
 * dropped; an ICMP error about an open connection is let in as related; a
 * long-lived connection keeps flowing across policy replacements and a
 * daemon restart. Everything goes through the real command line.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { REPO, run, skipWithoutRoot } from '../xdp/helpers/env.js';
import { FlowRunner } from './flow-runner.js';
import { CLI, cliNamespace, xdpfwIn } from '../cli/netns-cli.js';

const HOST = '10.99.0.1';
const PEER = '10.99.0.2';
/** IPv6 without static neighbours: neighbour discovery must pass the policy (it is never tracked). */
const HOST6 = 'fd00:99::1';
const PEER6 = 'fd00:99::2';

const policy = (extra = '') => `interface veth0 {
  default drop
  allow ct state established,related name "return-traffic"
  drop ct state invalid name "invalid"
  allow icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } name "nd"${extra}
}
`;

interface Rule {
  name: string | null;
  packets: number;
}

describe.skipIf(skipWithoutRoot('connection tracking with real traffic'))('connection tracking between namespaces', () => {
  const { ns } = cliNamespace('ct');
  const dir = scratchDir('xdpfw-ct-');
  const file = path.join(dir, 'host.xdpfw');
  const flows = new FlowRunner();

  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);
  const start = (where: string, ...args: string[]) => flows.start(where, ...args);
  const once = (where: string, ...args: string[]) => flows.once(where, ...args);
  const counters = async (): Promise<{ rules: Rule[]; default: { packets: number } }> => {
    const r = await xdpfw('stats', '--json');
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { interfaces: { rules: Rule[]; default: { packets: number } }[] }).interfaces[0];
  };
  const ruleCount = (c: { rules: Rule[] }, name: string) => c.rules.find((r) => r.name === name)!.packets;

  beforeAll(async () => {
    run('ip', ['-n', ns.name, 'addr', 'add', `${HOST6}/64`, 'dev', 'veth0', 'nodad']);
    run('ip', ['-n', ns.peer, 'addr', 'add', `${PEER6}/64`, 'dev', 'veth1', 'nodad']);
    fs.writeFileSync(file, policy());
    const applied = await xdpfw('apply', file);
    expect(applied.code, applied.stderr).toBe(0);
    await once(ns.peer, 'tcp-server', PEER, '8080');
    await once(ns.peer, 'udp-server', PEER, '5353');
    await once(ns.name, 'tcp-server', HOST, '8081');
    await once(ns.name, 'udp-server', HOST, '5354');
    await once(ns.peer, 'tcp-server', PEER6, '8080');
    await once(ns.peer, 'udp-server', PEER6, '5353');
    await once(ns.name, 'tcp-server', HOST6, '8081');
  }, 120_000);

  afterAll(async () => {
    flows.killAll();
    await xdpfw('detach');
  });

  it('answers what the host opens: TCP both ways, UDP, ping', async () => {
    expect(await once(ns.name, 'tcp-roundtrip', PEER, '8080', '1000000')).toMatchObject({ ok: true, bytes: 1000000 });
    expect(await once(ns.name, 'udp-roundtrip', PEER, '5353')).toMatchObject({ ok: true });
    expect(() => run('ip', ['netns', 'exec', ns.name, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '-q', PEER])).not.toThrow();
  });

  it('does the same over IPv6, neighbour discovery let through', async () => {
    expect(await once(ns.name, 'tcp-roundtrip', PEER6, '8080', '100000')).toMatchObject({ ok: true, bytes: 100000 });
    expect(await once(ns.name, 'udp-roundtrip', PEER6, '5353')).toMatchObject({ ok: true });
    expect(() => run('ip', ['netns', 'exec', ns.name, 'ping', '-6', '-c', '1', '-W', '1', '-q', PEER6])).not.toThrow();
    expect(await once(ns.peer, 'tcp-roundtrip', HOST6, '8081', '10')).toMatchObject({ ok: false });
    expect(ruleCount(await counters(), 'nd')).toBeGreaterThan(0);
  });

  it('drops what the peer starts: a TCP SYN, a UDP datagram, an echo request', async () => {
    const before = await counters();
    expect(await once(ns.peer, 'tcp-roundtrip', HOST, '8081', '10')).toMatchObject({ ok: false });
    expect(await once(ns.peer, 'udp-roundtrip', HOST, '5354')).toMatchObject({ ok: false });
    expect(ns.pingFromPeer()).toBe(false);
    const after = await counters();
    expect(after.default.packets - before.default.packets).toBeGreaterThanOrEqual(3);
  });

  it('lets in an ICMP "fragmentation needed" about an open connection, as related', async () => {
    const { child, first } = await start(ns.name, 'tcp-stream', PEER, '8080');
    const localPort = first.localPort as number;
    const before = await counters();
    const send = (sport: number) => run('ip', ['netns', 'exec', ns.peer, 'python3', '-c', FRAG_NEEDED, HOST, PEER, String(sport), '8080']);
    send(localPort);
    send(localPort + 1); // no such connection
    await new Promise((r) => setTimeout(r, 300));
    const after = await counters();
    // The stream's own echoes count under return-traffic too: compare the invalid rule, which only the stray error meets.
    expect(ruleCount(after, 'invalid') - ruleCount(before, 'invalid')).toBe(1);
    child.stdin!.end();
  });

  it('keeps a long-lived connection flowing across 20 replacements and a daemon restart', async () => {
    const { child } = await start(ns.name, 'tcp-stream', PEER, '8080');
    for (let i = 0; i < 20; i++) {
      fs.writeFileSync(file, policy(`\n  drop udp dport ${9000 + i}`));
      const r = await xdpfw('apply', file);
      expect(r.code, r.stderr).toBe(0);
    }
    const daemon = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CLI, 'run', '--iface', 'veth0', '--policy', file], {
      cwd: REPO,
      stdio: 'ignore',
    });
    flows.adopt(daemon);
    await new Promise((r) => setTimeout(r, 3000));
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    const again = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CLI, 'run', '--iface', 'veth0', '--policy', file], {
      cwd: REPO,
      stdio: 'ignore',
    });
    flows.adopt(again);
    await new Promise((r) => setTimeout(r, 3000));

    const listed = await xdpfw('ct', 'list', '--json');
    expect(listed.code, listed.stderr).toBe(0);
    const entries = (JSON.parse(listed.stdout) as { entries: Record<string, unknown>[] }).entries;
    expect(entries).toContainEqual(
      expect.objectContaining({ protocol: 6, local: HOST, remote: PEER, remotePort: 8080, state: 'established' }),
    );
    const human = await xdpfw('ct', 'list', '--iface', 'veth0');
    expect(human.stdout).toMatch(/^tcp +established +10\.99\.0\.1:\d+ <-> 10\.99\.0\.2:8080 +age \d+s expires in \d+s +veth0$/m);
    expect(human.stdout).toMatch(/^\d+ entr(y|ies)$/m);

    again.kill('SIGTERM');
    await new Promise((r) => again.once('exit', r));
    const result = await flows.finish(child);
    expect(result).toMatchObject({ ok: true });
    expect(result.maxGapMs as number).toBeLessThan(1000);
  }, 120_000);
});

/** An ICMP "fragmentation needed" from the peer, quoting a TCP segment the host sent: argv host, peer, sport, dport. */
const FRAG_NEEDED = `
import socket, struct, sys
host, peer, sport, dport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 1500, 0, 0x4000, 64, 6, 0, socket.inet_aton(host), socket.inet_aton(peer))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
quoted = ip + struct.pack('!HHI', sport, dport, 0)
icmp = struct.pack('!BBHHH', 3, 4, 0, 0, 1400) + quoted
icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(icmp, (host, 0))
`;
