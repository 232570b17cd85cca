/*
 * `xdpfw import iptables` on connection state, with real exchanges: the
 * iptables differential sends single frames into a flushed connection
 * table, which only ever meets NEW and INVALID; here a host namespace opens
 * TCP connections, sends UDP queries and pings, and is sent connections,
 * datagrams, a bare ACK and stray replies by its peer, so that ESTABLISHED
 * and RELATED are exercised too. Each dump is run twice with the same
 * exchanges: loaded into iptables-legacy in the host namespace, then with
 * table filter emptied and the imported policy applied by xdpfw to the
 * host's interface. Every exchange must end the same way both times.
 *
 * The host's interface is named eth0, the name the dumps' `-i` uses.
 * nf_conntrack_tcp_loose is 0, as in the iptables differential: xdpfw never
 * picks up a TCP connection from its middle (docs/language.md, "Connection
 * tracking"), and with the default 1 conntrack calls a bare ACK NEW. ICMP
 * errors are not rate-limited in either namespace, so that every refused
 * datagram is answered. Ports change from run to run, so that no
 * connection either table kept from an earlier run meets a later one.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseIptablesSave } from '../../../src/import/iptables-save.js';
import { translateIptables } from '../../../src/import/iptables-translate.js';
import { bpffsRoot, stateRoot } from '../../../src/xdp/pins.js';
import { scratchDir } from '../../support/scratch.js';
import { REPO, run, skipWithoutRoot } from '../xdp/helpers/env.js';
import { netnsKeyOf } from '../xdp/helpers/netns-key.js';
import { CLI, cliNamespace, xdpfwIn } from '../cli/netns-cli.js';
import { filterSection } from './iptables-lab.js';

const HOST = '10.99.0.1';
const PEER = '10.99.0.2';
const HOST_IFACE = 'eth0';
const CLIENT = path.join(REPO, 'tests/kernel/import/exchange-client.py');
const CORPUS = path.join(REPO, 'tests/fixtures/import/corpus');
/** The peer's echo servers the host's outbound exchanges reach. */
const PEER_TCP = 8080;
const PEER_UDP = 5353;
const EMPTY_FILTER = '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n';

interface Dump {
  name: string;
  text: string;
  /** TCP ports the peer connects to (the host listens on both): one the dump lets NEW in, one it does not. */
  tcpOpen: number;
  tcpClosed: number;
  /** A UDP port the host echoes on, which the peer queries. */
  udpIn: number;
}

const filter = (policy: string, rules: string) =>
  `*filter\n:INPUT ${policy} [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n${rules.trim()}\nCOMMIT\n`;

const corpus = (name: string, ports: Omit<Dump, 'name' | 'text'>): Dump => ({
  name,
  text: fs.readFileSync(path.join(CORPUS, `${name}.rules`), 'utf8'),
  ...ports,
});

const DUMPS: Dump[] = [
  // ssh on eth0 only from the office ranges, the management chain on eth1: the peer may open nothing
  corpus('bastion', { tcpOpen: 22, tcpClosed: 8081, udpIn: 161 }),
  corpus('mail-server', { tcpOpen: 25, tcpClosed: 113, udpIn: 53 }),
  corpus('dns-resolver', { tcpOpen: 53, tcpClosed: 22, udpIn: 53 }),
  corpus('fail2ban', { tcpOpen: 22, tcpClosed: 8081, udpIn: 53 }),
  {
    name: 'classic-server',
    text: filter(
      'DROP',
      `
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT
-A INPUT -p tcp -m multiport --dports 80,443 -m conntrack --ctstate NEW -j ACCEPT
-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT`,
    ),
    tcpOpen: 80,
    tcpClosed: 8081,
    udpIn: 53,
  },
  {
    name: 'user-chains',
    text: filter(
      'DROP',
      `
:stateful - [0:0]
:from-peers - [0:0]
-A INPUT -i eth0 -j stateful
-A INPUT -s 10.99.0.0/24 -i eth0 -j from-peers
-A stateful -m conntrack --ctstate ESTABLISHED -j ACCEPT
-A stateful -p icmp -m conntrack --ctstate RELATED -j ACCEPT
-A stateful -m conntrack --ctstate INVALID -j DROP
-A stateful -j RETURN
-A from-peers -p tcp -m tcp --dport 8081 -m conntrack --ctstate NEW -j ACCEPT
-A from-peers -p udp -m udp --dport 5354 -m conntrack --ctstate NEW -j ACCEPT
-A from-peers -p icmp -j DROP`,
    ),
    tcpOpen: 8081,
    tcpClosed: 22,
    udpIn: 5354,
  },
  {
    // the old spelling, and ESTABLISHED without RELATED: an ICMP error about the host's flow is dropped
    name: 'old-state-no-related',
    text: filter(
      'DROP',
      `
-A INPUT -m state --state ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m state --state NEW -m tcp --dport 3306 -j ACCEPT
-A INPUT -p udp -m state --state NEW -m udp --dport 5354 -j ACCEPT
-A INPUT -p icmp -m state --state NEW -m icmp --icmp-type 8 -j ACCEPT`,
    ),
    tcpOpen: 3306,
    tcpClosed: 22,
    udpIn: 5354,
  },
  {
    // default ACCEPT behind a guard: INVALID dropped, ssh refused, new DNS queries dropped
    name: 'accept-with-guard',
    text: filter(
      'ACCEPT',
      `
-A INPUT -m conntrack --ctstate INVALID -j DROP
-A INPUT -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset
-A INPUT -p udp -m udp --dport 53 -m state --state NEW -j DROP`,
    ),
    tcpOpen: 8081,
    tcpClosed: 22,
    udpIn: 53,
  },
];

interface Exchange {
  id: string;
  kind: 'tcp' | 'udp' | 'ping' | 'bare-ack';
  dst: string;
  port?: number;
  sport?: number;
}

/** The host's exchanges (out to the peer) and the peer's (in to the host) of run `k` on `dump`. */
function exchanges(dump: Dump, k: number): { host: Exchange[]; peer: Exchange[] } {
  return {
    host: [
      { id: 'tcp out', kind: 'tcp', dst: PEER, port: PEER_TCP },
      { id: 'udp out', kind: 'udp', dst: PEER, port: PEER_UDP },
      { id: 'ping out', kind: 'ping', dst: PEER },
      // the peer answers port unreachable: RELATED to the host's datagram
      { id: 'udp out, port unreachable back', kind: 'udp', dst: PEER, port: 20_000 + k },
    ],
    peer: [
      { id: 'tcp in, open port', kind: 'tcp', dst: HOST, port: dump.tcpOpen },
      { id: 'tcp in, closed port', kind: 'tcp', dst: HOST, port: dump.tcpClosed },
      { id: 'udp in', kind: 'udp', dst: HOST, port: dump.udpIn, sport: 21_000 + k },
      { id: 'ping in', kind: 'ping', dst: HOST },
      { id: 'bare ACK in, open port', kind: 'bare-ack', dst: HOST, port: dump.tcpOpen, sport: 22_000 + k },
      // a DNS answer to nothing the host asked, at a port nothing listens on: the host answers port unreachable if it gets in
      { id: 'stray udp reply in', kind: 'udp', dst: HOST, port: 23_000 + k, sport: 53 },
    ],
  };
}

type Outcomes = Record<string, string>;

describe.skipIf(skipWithoutRoot('import/stateful-exchanges'))('imported stateful rule sets end exchanges as iptables does', () => {
  const { ns } = cliNamespace('ipt-xchg');
  const dir = scratchDir('xdpfw-ipt-xchg-');
  const servers: ChildProcess[] = [];

  /** socat echoing each TCP connection's bytes or each datagram back, in namespace `where`; resolves once it listens. */
  function echoServer(where: string, protocol: 'tcp' | 'udp', address: string, port: number): Promise<void> {
    const listen = protocol === 'tcp' ? `TCP-LISTEN:${port},bind=${address},reuseaddr,fork` : `UDP-RECVFROM:${port},bind=${address},fork`;
    const server = spawn('ip', ['netns', 'exec', where, 'socat', '-d', '-d', listen, 'PIPE'], { stdio: ['ignore', 'ignore', 'pipe'] });
    servers.push(server);
    return new Promise((resolve, reject) => {
      let log = '';
      server.stderr.on('data', (d) => {
        log += d;
        if (/ (listening|receiving) on /.test(log)) resolve();
      });
      server.on('exit', (code) => reject(new Error(`socat ${listen} ended (${code}):\n${log}`)));
    });
  }
  const inHost = (command: string, ...args: string[]) => run('ip', ['netns', 'exec', ns.name, command, ...args]);
  const table: { dump: string; iptables: Outcomes; xdpfw: Outcomes }[] = [];
  const started = Date.now();
  const peerPolicy = path.join(dir, 'peer.xdpfw');
  let peerKey = '';
  let runs = 0;

  beforeAll(async () => {
    const ip = (where: string, ...args: string[]) => run('ip', ['-n', where, ...args]);
    // a renamed link is down for a moment, which takes its static neighbour with it
    ip(ns.name, 'link', 'set', 'veth0', 'down');
    ip(ns.name, 'link', 'set', 'veth0', 'name', HOST_IFACE);
    ip(ns.name, 'link', 'set', HOST_IFACE, 'up');
    const [peerLink] = JSON.parse(ip(ns.peer, '-j', 'link', 'show', 'dev', 'veth1')) as { address: string }[];
    ip(ns.name, 'neigh', 'replace', PEER, 'lladdr', peerLink.address, 'dev', HOST_IFACE, 'nud', 'permanent');
    inHost('sysctl', '-qw', 'net.netfilter.nf_conntrack_tcp_loose=0', 'net.ipv4.icmp_ratelimit=0');
    run('ip', ['netns', 'exec', ns.peer, 'sysctl', '-qw', 'net.ipv4.icmp_ratelimit=0']);
    // a veth hands the host's XDP_TX answers (reject) to its peer only when the peer runs an XDP program
    fs.writeFileSync(peerPolicy, 'interface veth1 {\n  allow\n}\n');
    run('ip', ['netns', 'exec', ns.peer, process.execPath, CLI, 'apply', peerPolicy], { cwd: REPO });
    peerKey = netnsKeyOf(ns.peer);
    const tcpPorts = new Set(DUMPS.flatMap((d) => [d.tcpOpen, d.tcpClosed]));
    const udpPorts = new Set(DUMPS.map((d) => d.udpIn));
    await Promise.all([
      echoServer(ns.peer, 'tcp', PEER, PEER_TCP),
      echoServer(ns.peer, 'udp', PEER, PEER_UDP),
      ...[...tcpPorts].map((p) => echoServer(ns.name, 'tcp', HOST, p)),
      ...[...udpPorts].map((p) => echoServer(ns.name, 'udp', HOST, p)),
    ]);
  }, 60_000);

  afterAll(async () => {
    for (const server of servers) if (server.exitCode === null) server.kill();
    await xdpfwIn(ns, 'detach');
    if (peerKey) for (const root of [bpffsRoot(), stateRoot()]) fs.rmSync(path.join(root, peerKey), { recursive: true, force: true });
    if (table.length > 0) console.log(render(table, ((Date.now() - started) / 1000).toFixed(1)));
  });

  /** Both sides' exchanges of one run, at the same time; each exchange's outcome. */
  async function exchange(dump: Dump): Promise<Outcomes> {
    const { host, peer } = exchanges(dump, runs++);
    const client = (where: string, me: string, list: Exchange[]) =>
      new Promise<Outcomes>((resolve, reject) =>
        execFile(
          'ip',
          ['netns', 'exec', where, 'python3', CLIENT, me, JSON.stringify(list)],
          { timeout: 20_000 },
          (error, stdout, stderr) =>
            error
              ? reject(new Error(`exchange-client.py in ${where}: ${error.message}\n${stderr}`))
              : resolve(JSON.parse(stdout) as Outcomes),
        ),
      );
    const both = await Promise.all([client(ns.name, HOST, host), client(ns.peer, PEER, peer)]);
    const outcomes = Object.assign({}, ...both) as Outcomes;
    // in the order of the exchanges, not of their ends: the table's columns
    return Object.fromEntries([...host, ...peer].map((x) => [x.id, outcomes[x.id]]));
  }

  it('ends every exchange of every dump the same way under iptables-legacy and under the imported policy', async () => {
    const translated = DUMPS.map((dump) => {
      const save = parseIptablesSave(dump.text);
      expect(save.errors, `${dump.name} does not parse`).toEqual([]);
      const translation = translateIptables(save, { file: `${dump.name}.rules`, interfaces: [HOST_IFACE] });
      expect(translation.refusals, `${dump.name} is refused`).toEqual([]);
      return { dump, policy: translation.policy };
    });
    const restore = (text: string) => run('ip', ['netns', 'exec', ns.name, 'iptables-legacy-restore'], { input: text, stdio: 'pipe' });

    const underIptables: Outcomes[] = [];
    for (const { dump } of translated) {
      restore(filterSection(dump.text));
      underIptables.push(await exchange(dump));
    }
    restore(EMPTY_FILTER);
    // each apply replaces the last policy, as an operator's would
    for (const [k, { dump, policy }] of translated.entries()) {
      const file = path.join(dir, `${dump.name}.xdpfw`);
      fs.writeFileSync(file, policy);
      const applied = await xdpfwIn(ns, 'apply', file, '--iface', HOST_IFACE);
      expect(applied.code, applied.stderr).toBe(0);
      table.push({ dump: dump.name, iptables: underIptables[k], xdpfw: await exchange(dump) });
    }

    const differences = table.flatMap(({ dump, iptables, xdpfw }, k) =>
      Object.entries(iptables)
        .filter(([scenario, outcome]) => xdpfw[scenario] !== outcome)
        .map(
          ([scenario, outcome]) =>
            `${dump}, ${scenario}: iptables ${outcome}, xdpfw ${xdpfw[scenario]}\n--- policy\n${translated[k].policy}`,
        ),
    );
    expect(differences, differences.join('\n\n')).toEqual([]);
  }, 90_000);
});

/** The table dump × exchange → outcome, one cell for both firewalls when they agree. */
function render(rows: { dump: string; iptables: Outcomes; xdpfw: Outcomes }[], seconds: string): string {
  const scenarios = Object.keys(rows[0].iptables);
  const cell = (row: (typeof rows)[number], s: string) =>
    row.iptables[s] === row.xdpfw[s] ? row.iptables[s] : `${row.iptables[s]} ≠ xdpfw ${row.xdpfw[s]}`;
  const width = (s: string) => Math.max(s.length, ...rows.map((r) => cell(r, s).length));
  const nameWidth = Math.max(4, ...rows.map((r) => r.dump.length));
  const line = (name: string, cells: string[]) => [name.padEnd(nameWidth), ...cells].join(' | ');
  const header = line(
    'dump',
    scenarios.map((s) => s.padEnd(width(s))),
  );
  const body = rows.map((r) =>
    line(
      r.dump,
      scenarios.map((s) => cell(r, s).padEnd(width(s))),
    ),
  );
  const equal = rows.reduce((n, r) => n + scenarios.filter((s) => r.iptables[s] === r.xdpfw[s]).length, 0);
  return [
    `stateful exchanges: ${rows.length} dumps × ${scenarios.length} exchanges = ${rows.length * scenarios.length} scenarios, ${equal} ending the same way under both, ${seconds} s`,
    header,
    ...body,
  ].join('\n');
}
