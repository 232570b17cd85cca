/**
 * Connection tracking in the kernel, packet by packet through
 * BPF_PROG_TEST_RUN: the egress recorder and the XDP program of one policy
 * share the namespace's tables, as on an interface. Each case says which
 * rule takes the reply: 0 `allow ct state established,related`, 1 `drop ct
 * state invalid`, 2 `allow tcp dport 22 ct state new`, 3 `allow icmp type
 * echo-request ct state new`, else the default (drop).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { compileSource } from '../../../src/compiler/index.js';
import { buildFrame } from '../../../src/packet/build.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { PolicyJudge, type Judgement } from '../../../src/xdp/judge.js';
import { ensureBpffs } from '../../../src/xdp/pins.js';
import { skipWithoutRoot } from '../../support/kernel.js';
import { MemoryHost } from '../../support/memory-host.js';
import { age, clear, removeTables, testTables } from './tables.js';

const POLICY = `
interface eth0 {
  default drop
  allow ct state established,related
  drop ct state invalid
  allow tcp dport 22 ct state new
  allow icmp type echo-request ct state new
}
`;

const H = '10.0.0.1';
const R = '192.0.2.9';
const H6 = '2001:db8::1';
const R6 = '2001:db8:ffff::9';
const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;

const tcp = (src: string, dst: string, sport: number, dport: number, tcpFlags: number, extra: Partial<PacketSpec> = {}): PacketSpec => ({
  family: src.includes(':') ? 6 : 4,
  protocol: 6,
  src,
  dst,
  sport,
  dport,
  tcpFlags,
  ...extra,
});
const udp = (src: string, dst: string, sport: number, dport: number, extra: Partial<PacketSpec> = {}): PacketSpec => ({
  family: src.includes(':') ? 6 : 4,
  protocol: 17,
  src,
  dst,
  sport,
  dport,
  ...extra,
});

async function loadJudge(text: string, tables = testTables('seq')): Promise<PolicyJudge> {
  const compiled = compileSource('ct.xdpfw', new MemoryHost({ 'ct.xdpfw': text }));
  expect(compiled.rendered.filter((d) => d.includes('error'))).toEqual([]);
  return PolicyJudge.load(compiled.compiled!.interfaces[0], { pins: tables });
}

describe.skipIf(skipWithoutRoot('connection tracking test runs'))('connection tracking, packet by packet', () => {
  const tables = testTables('seq');
  let judge: PolicyJudge;
  const out = (p: PacketSpec) => judge.record(buildFrame(p));
  const into = (p: PacketSpec): Judgement['matched'] => judge.judge(buildFrame(p)).matched;

  beforeAll(async () => {
    ensureBpffs();
    judge = await loadJudge(POLICY, tables);
  });
  afterAll(() => {
    judge?.close();
    removeTables(tables);
  });
  beforeEach(() => clear(tables));

  it('lets the reply of an outbound TCP connection in, and nothing else', () => {
    expect(into(tcp(R, H, 443, 40000, SYN | ACK))).toBe(1); // no connection: invalid
    out(tcp(H, R, 40000, 443, SYN));
    expect(into(tcp(R, H, 443, 40000, SYN | ACK))).toBe(0);
    out(tcp(H, R, 40000, 443, ACK));
    expect(into(tcp(R, H, 443, 40000, ACK, { payloadLength: 100 }))).toBe(0);
    expect(into(tcp(R, H, 443, 40001, ACK))).toBe(1); // another port
    expect(into(tcp('192.0.2.10', H, 443, 40000, ACK))).toBe(1); // another host
    expect(into(tcp(R, H, 443, 40002, SYN))).toBe('default'); // new, but not to port 22
  });

  it('answers an inbound connection: SYN new, then established once the host answered', () => {
    expect(into(tcp(R, H, 50000, 22, SYN))).toBe(2);
    expect(into(tcp(R, H, 50000, 22, ACK))).toBe(1); // the host has not answered yet
    out(tcp(H, R, 22, 50000, SYN | ACK));
    expect(into(tcp(R, H, 50000, 22, ACK))).toBe(0);
  });

  it('expires half-open connections in seconds and established ones in hours', () => {
    out(tcp(H, R, 40000, 443, SYN));
    age(tables, 58);
    expect(into(tcp(R, H, 443, 40000, SYN | ACK))).toBe(0);
    out(tcp(H, R, 40001, 443, SYN));
    age(tables, 62);
    expect(into(tcp(R, H, 443, 40001, SYN | ACK))).toBe(1);
    // 40000 was established at the reply: it lasts tcp-established (6 h) from there
    age(tables, 6 * 3600 - 62 - 30);
    expect(into(tcp(R, H, 443, 40000, ACK))).toBe(0);
    age(tables, 6 * 3600 + 10);
    expect(into(tcp(R, H, 443, 40000, ACK))).toBe(1);
  });

  it('closes on RST, and on FIN both ways, within tcp-close', () => {
    const open = (port: number) => {
      out(tcp(H, R, port, 443, SYN));
      expect(into(tcp(R, H, 443, port, SYN | ACK))).toBe(0);
    };
    open(41000);
    expect(into(tcp(R, H, 443, 41000, RST))).toBe(0);
    open(41001);
    out(tcp(H, R, 41001, 443, FIN | ACK));
    expect(into(tcp(R, H, 443, 41001, FIN | ACK))).toBe(0);
    open(41002);
    out(tcp(H, R, 41002, 443, FIN | ACK)); // half-closed: the peer may go on sending
    age(tables, 12);
    expect(into(tcp(R, H, 443, 41000, ACK))).toBe(1);
    expect(into(tcp(R, H, 443, 41001, ACK))).toBe(1);
    expect(into(tcp(R, H, 443, 41002, ACK, { payloadLength: 500 }))).toBe(0);
  });

  it('takes up a connection older than the table from its first packet out', () => {
    out(tcp(H, R, 42000, 443, ACK, { payloadLength: 10 }));
    expect(into(tcp(R, H, 443, 42000, ACK))).toBe(0);
    out(tcp(H, R, 42001, 443, RST)); // a RST creates nothing
    expect(into(tcp(R, H, 443, 42001, ACK))).toBe(1);
  });

  it('tracks UDP: short until answered, longer once answered', () => {
    out(udp(H, R, 5353, 53));
    age(tables, 28);
    expect(into(udp(R, H, 53, 5353))).toBe(0);
    age(tables, 100);
    expect(into(udp(R, H, 53, 5353))).toBe(0); // replied: udp-stream, 120 s
    out(udp(H, R, 5354, 53));
    age(tables, 32);
    expect(into(udp(R, H, 53, 5354))).toBe('default'); // unreplied expired: new
  });

  it('tracks ICMP echo by identifier, both ways', () => {
    const echo = (src: string, dst: string, icmpType: number, icmpId: number): PacketSpec => ({
      family: 4,
      protocol: 1,
      src,
      dst,
      icmpType,
      icmpId,
    });
    out(echo(H, R, 8, 77));
    expect(into(echo(R, H, 0, 77))).toBe(0);
    expect(into(echo(R, H, 0, 78))).toBe(1); // a reply to nothing: invalid
    expect(into(echo(R, H, 8, 79))).toBe(3); // a request in: new
  });

  it('relates ICMP errors to the connection their quoted header belongs to', () => {
    const sent = tcp(H, R, 43000, 443, SYN);
    out(sent);
    const error = (inner: PacketSpec, extra: Partial<PacketSpec> = {}): PacketSpec => ({
      family: 4,
      protocol: 1,
      src: '198.51.100.1',
      dst: H,
      icmpType: 3,
      icmpCode: 4,
      icmpInner: inner,
      ...extra,
    });
    expect(into(error(sent))).toBe(0);
    expect(into(error(tcp(H, R, 43001, 443, SYN)))).toBe(1);
    expect(into(error({ ...sent, truncateTo: 24 }))).toBe(1); // 4 bytes of TCP quoted: not enough
    const sent6 = udp(H6, R6, 6000, 53);
    out(sent6);
    const tooBig = { family: 6 as const, protocol: 58, src: '2001:db8:1::1', dst: H6, icmpType: 2, icmpInner: sent6 };
    expect(into(tooBig)).toBe(0);
    expect(into({ ...tooBig, icmpInner: udp(H6, R6, 6001, 53) })).toBe(1);
  });

  it('finds IPv6 connections behind extension headers, and VLAN-tagged ones', () => {
    out(udp(H6, R6, 7000, 123, { ipv6ExtensionHeaders: [0] }));
    expect(into(udp(R6, H6, 123, 7000, { ipv6ExtensionHeaders: [60, 43] }))).toBe(0);
    const tag = { vlans: [{ tpid: 0x8100 as const, id: 7 }] };
    out(tcp(H, R, 44000, 443, SYN, tag));
    expect(into(tcp(R, H, 443, 44000, SYN | ACK, tag))).toBe(0);
    expect(into(tcp(R, H, 443, 44000, ACK))).toBe(0); // the tag is not part of the connection
  });

  it('gives later fragments the state of their datagram, through its first fragment', () => {
    out(udp(H, R, 5355, 53));
    const first = udp(R, H, 53, 5355, { fragment: { offset: 0, moreFragments: true, id: 0x4242 }, payloadLength: 64 });
    const later = udp(R, H, 53, 5355, { fragment: { offset: 9, moreFragments: false, id: 0x4242 } });
    expect(into(later)).toBe(1); // its first fragment was not seen
    expect(into(first)).toBe(0);
    expect(into(later)).toBe(0);
    expect(into({ ...later, fragment: { offset: 9, moreFragments: false, id: 0x4343 } })).toBe(1);
  });

  it('shares the tables with the next policy loaded: a reload keeps the connections', async () => {
    out(tcp(H, R, 45000, 443, SYN));
    const next = await loadJudge(POLICY.replace(/}\s*$/, '  drop udp dport 9\n}\n'), tables);
    try {
      expect(next.judge(buildFrame(tcp(R, H, 443, 45000, SYN | ACK))).matched).toBe(0);
    } finally {
      next.close();
    }
  });

  it('attaches no recorder to a policy without ct, which reads no table', async () => {
    const plain = await loadJudge('interface eth0 {\n  default drop\n  allow tcp dport 22\n}\n', tables);
    try {
      expect(() => plain.record(buildFrame(tcp(H, R, 1, 2, SYN)))).toThrow(/does not use ct state/);
      expect(plain.judge(buildFrame(tcp(R, H, 2, 22, SYN))).matched).toBe(0);
    } finally {
      plain.close();
    }
  });
});
