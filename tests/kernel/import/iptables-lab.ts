/**
 * The kernel half of the iptables and nft differential tests: a receiving
 * namespace whose `eth0` holds every generated destination, IPv4 and IPv6,
 * as a local address (so packets reach INPUT, not FORWARD), with rp_filter
 * off and default routes back to every source; a sending namespace on the
 * other end of the veth; and one long-lived verdict-probe.py that sends
 * frames and reads, from the filter table's counters, the entry that
 * decided each (or, for nft, the rule counters each moved).
 *
 * What the receiver itself sends (echo replies, resets, REJECT's answers)
 * is dropped in table raw's OUTPUT of both families, before table filter and conntrack see
 * it: no rule counter moves but for the frame under test, and no connection
 * ever sees a reply.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';

import { buildFrame, FRAME_DST_MAC } from '../../../src/packet/build.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { LOCAL_ADDRESSES } from '../../support/iptables-dumps.js';
import { LOCAL_ADDRESSES6 } from '../../support/nft-rulesets.js';
import { REPO, TestNetns, run } from '../xdp/helpers/env.js';

const PROBE = path.join(REPO, 'tests/kernel/import/verdict-probe.py');
/** The receiving interface: the name realistic dumps' `-i` uses. */
export const RECEIVER_IFACE = 'eth0';

/** The entry of table filter that decided a frame; `rule` counts from 1 in its chain. */
export interface KernelDecision {
  chain: string;
  rule: number | 'policy';
  verdict: 'ACCEPT' | 'DROP' | 'REJECT';
}

/** Table filter's section of a dump (`*filter` to its COMMIT): the other tables are not the importer's. */
export function filterSection(dump: string): string {
  const lines = dump.split('\n');
  const start = lines.findIndex((l) => l.trim() === '*filter');
  if (start < 0) throw new Error(`the dump has no *filter table:\n${dump}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === 'COMMIT');
  return lines.slice(start, end + 1).join('\n') + '\n';
}

/** ICMP and ICMPv6 types conntrack opens a connection with (valid_new of nf_conntrack_proto_icmp.c, icmpv6.c). */
const ICMP_REQUESTS: Readonly<Record<number, ReadonlySet<number>>> = { 1: new Set([8, 13, 15, 17]), 58: new Set([128, 139]) };

/** The state conntrack gives a packet it has never seen, with nf_conntrack_tcp_loose=0. */
export function firstPacketState(p: PacketSpec): 'new' | 'invalid' {
  if (p.protocol === 6) return ((p.tcpFlags ?? 0) & 0x17) === 0x02 ? 'new' : 'invalid';
  const requests = ICMP_REQUESTS[p.protocol];
  if (requests) return requests.has(p.icmpType ?? -1) ? 'new' : 'invalid';
  return 'new';
}

/** The nft rule counters a frame moved: "FAMILY TABLE CHAIN HANDLE" to packets. */
export type NftCounts = Record<string, number>;

/** What a differential run decided, for its closing line: packets, verdict counts, disagreements. */
export interface Tally {
  packets: number;
  disagreements: number;
  verdicts: Record<'allow' | 'drop' | 'reject', number>;
}

/** "N packets (allow a, drop d, reject r), N disagreements, S s" since `started` (ms). */
export function tallyLine(tally: Tally, started: number): string {
  const verdicts = Object.entries(tally.verdicts)
    .map(([v, n]) => `${v} ${n}`)
    .join(', ');
  return `${tally.packets} packets (${verdicts}), ${tally.disagreements} disagreements, ${((Date.now() - started) / 1000).toFixed(1)} s`;
}

export class IptablesLab {
  readonly ns: TestNetns;
  private probe?: ChildProcessWithoutNullStreams;
  private answers?: Interface;
  private probeErrors = '';
  private probeEnded?: Promise<never>;
  private scratch?: string;

  /** With `nftMarker`, the probe reads nft's rule counters, a frame done when table `nftMarker`'s have moved. */
  constructor(
    tag: string,
    private readonly nftMarker?: string,
  ) {
    this.ns = new TestNetns(tag);
  }

  create(): void {
    this.ns.create();
    const ip = (...args: string[]) => run('ip', ['-n', this.ns.name, ...args]);
    ip('link', 'set', 'veth0', 'down');
    ip('link', 'set', 'veth0', 'name', RECEIVER_IFACE, 'address', FRAME_DST_MAC);
    ip('link', 'set', RECEIVER_IFACE, 'up');
    for (const address of LOCAL_ADDRESSES) ip('addr', 'add', `${address}/32`, 'dev', RECEIVER_IFACE);
    // nodad: a tentative address takes no packets
    for (const address of LOCAL_ADDRESSES6) ip('addr', 'add', `${address}/128`, 'dev', RECEIVER_IFACE, 'nodad');
    ip('route', 'add', 'default', 'dev', RECEIVER_IFACE);
    ip('-6', 'route', 'add', 'default', 'dev', RECEIVER_IFACE);
    const sysctls = [
      'net.ipv4.conf.all.rp_filter=0',
      `net.ipv4.conf.${RECEIVER_IFACE}.rp_filter=0`,
      'net.netfilter.nf_conntrack_tcp_loose=0',
    ];
    this.exec('sysctl', '-qw', ...sysctls);
    this.exec('iptables-legacy', '-t', 'raw', '-A', 'OUTPUT', '-j', 'DROP');
    this.exec('ip6tables-legacy', '-t', 'raw', '-A', 'OUTPUT', '-j', 'DROP');
    const mode = this.nftMarker ? ['--nft', this.nftMarker] : [];
    this.probe = spawn('ip', ['netns', 'exec', this.ns.name, 'python3', PROBE, this.ns.peer, 'veth1', ...mode]);
    this.probe.stderr.on('data', (d) => (this.probeErrors += d));
    this.answers = createInterface({ input: this.probe.stdout });
    this.probeEnded = new Promise((_, reject) =>
      this.probe!.on('exit', (code) => reject(new Error(`verdict-probe.py ended (${code}):\n${this.probeErrors}`))),
    );
    this.probeEnded.catch(() => undefined);
  }

  /** Kills the probe and removes both namespaces; never throws. */
  destroy(): void {
    this.answers?.close();
    if (this.probe?.exitCode === null) this.probe.kill();
    this.ns.destroy();
    if (this.scratch) fs.rmSync(this.scratch, { recursive: true, force: true });
  }

  /** Runs a command in the receiving namespace; its stdout. */
  exec(command: string, ...args: string[]): string {
    return run('ip', ['netns', 'exec', this.ns.name, command, ...args]);
  }

  /**
   * Runs nft in the receiving namespace with `input` as its file (`-f`) after `args`; its stdout.
   * The file is a real one: nft opens `-f -` as /dev/stdin, which a socket (Node's pipe) is not.
   */
  nft(args: string[], input?: string): string {
    let file: string[] = [];
    if (input !== undefined) {
      this.scratch ??= fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-nft-lab-'));
      fs.writeFileSync(path.join(this.scratch, 'ruleset'), input);
      file = ['-f', path.join(this.scratch, 'ruleset')];
    }
    try {
      return run('ip', ['netns', 'exec', this.ns.name, 'nft', ...args, ...file], { stdio: 'pipe' });
    } catch (error) {
      throw new Error(`nft ${args.join(' ')} fails: ${(error as { stderr?: string }).stderr}\n${input ?? ''}`);
    }
  }

  /** Replaces table filter with the dump's; the table as iptables-legacy-save writes it back. */
  restore(dump: string): string {
    try {
      run('ip', ['netns', 'exec', this.ns.name, 'iptables-legacy-restore'], { input: filterSection(dump), stdio: 'pipe' });
    } catch (error) {
      throw new Error(`iptables-legacy-restore refuses the dump: ${(error as { stderr?: string }).stderr}\n${dump}`);
    }
    return this.exec('iptables-legacy-save', '-t', 'filter');
  }

  /** Each packet sent in turn, with its deciding entry. */
  async decide(packets: readonly PacketSpec[]): Promise<KernelDecision[]> {
    return this.ask<KernelDecision>(packets);
  }

  /** Each packet sent in turn, with the nft rule counters it moved (the lab made with `nftMarker`). */
  async countNft(packets: readonly PacketSpec[]): Promise<NftCounts[]> {
    return (await this.ask<{ moved: NftCounts }>(packets)).map((a) => a.moved);
  }

  private async ask<T extends object>(packets: readonly PacketSpec[]): Promise<T[]> {
    const { probe, answers, probeEnded } = this;
    if (!probe || !answers || !probeEnded) throw new Error('the lab is not created');
    const line = packets.map((p) => Buffer.from(buildFrame(p)).toString('hex')).join(' ');
    const answer = new Promise<string>((resolve) => answers.once('line', resolve));
    probe.stdin.write(line + '\n');
    const parsed = JSON.parse(await Promise.race([answer, probeEnded])) as (T | { error: string })[] | { error: string };
    if (!Array.isArray(parsed)) throw new Error(`verdict-probe.py: ${parsed.error}`);
    return parsed.map((d, k) => {
      if ('error' in d) throw new Error(`verdict-probe.py, packet ${JSON.stringify(packets[k])}: ${d.error}`);
      return d;
    });
  }
}
