/**
 * `reject` in the real program (BPF_PROG_TEST_RUN): the frame it sends back
 * (XDP_TX) read byte by byte — addresses and ports swapped, VLAN tags
 * kept, RST sequence numbers of RFC 9293 §3.10.7.1, the ICMP error's quote,
 * every checksum — and the packets it must leave unanswered (XDP_DROP).
 */
import ipaddr from 'ipaddr.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FRAME_DST_MAC, FRAME_SRC_MAC, layOutFrame } from '../../../src/packet/build.js';
import { parsePacket } from '../../../src/packet/describe.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { REJECT_BURST, REJECT_QUOTE } from '../../../src/contract/kernel.js';
import type { PolicyJudge } from '../../../src/xdp/judge.js';
import { TestRunner } from '../../../src/xdp/test-run.js';
import { judgePolicy, skipWithoutRoot } from '../../support/kernel.js';
import { parseAnswer } from './answer-frame.js';

const XDP_DROP = 1;
const XDP_TX = 3;
const RST = 0x04;
const ACK = 0x10;

const POLICY = `
interface eth0 {
  allow udp dport 53
  reject tcp dport 25 name "smtp"
  reject
}
`;
const RULE = { smtp: 1, catchAll: 2 };

const normal = (family: 4 | 6, text: string) => (family === 4 ? text : ipaddr.IPv6.parse(text).toNormalizedString());

describe.skipIf(skipWithoutRoot('reject answers'))('reject answers from XDP', () => {
  let judge: PolicyJudge;
  let runner: TestRunner;
  beforeAll(async () => {
    judge = await judgePolicy(POLICY);
    runner = new TestRunner(judge.progFd);
  });
  afterAll(() => judge.close());

  /** Runs a frame; the answer, and how the counters moved. */
  function reject(frame: Uint8Array) {
    const before = judge.counters();
    const out = runner.runWithOutput(frame);
    const after = judge.counters();
    const moved = (name: 'rejectSent' | 'rejectSuppressed') => after.global[name].packets - before.global[name].packets;
    const ruleMoved = after.rules.map((c, i) => c.packets - before.rules[i].packets);
    return { ...out, sent: moved('rejectSent'), suppressed: moved('rejectSuppressed'), ruleMoved };
  }

  function expectSwapped(spec: PacketSpec, answer: ReturnType<typeof parseAnswer>): void {
    expect(answer.dstMac).toBe(FRAME_SRC_MAC);
    expect(answer.srcMac).toBe(FRAME_DST_MAC);
    expect(answer.vlans).toEqual((spec.vlans ?? []).map((v) => ({ tpid: v.tpid, tci: v.id })));
    expect(answer.family).toBe(spec.family);
    expect(answer.src).toBe(normal(spec.family, spec.dst));
    expect(answer.dst).toBe(normal(spec.family, spec.src));
    expect(answer.ipChecksumOk).toBe(true);
    expect(answer.ttl).toBe(64);
  }

  it('answers a TCP SYN with RST+ACK, seq 0, ack = its seq + 1, and counts a drop of its rule', () => {
    const spec = parsePacket('tcp 198.51.100.7:40000 > 192.0.2.1:25 flags S');
    const r = reject(layOutFrame(spec).bytes);
    expect(r.action).toBe(XDP_TX);
    expect(r.sent).toBe(1n);
    expect(r.ruleMoved[RULE.smtp]).toBe(1n);
    const answer = parseAnswer(r.frame);
    expectSwapped(spec, answer);
    expect(r.frame.length).toBe(14 + 20 + 20);
    expect(answer.ipLength).toBe(40);
    expect(answer.tcp).toEqual({ sport: 25, dport: 40000, seq: 0, ack: 2, flags: RST | ACK, dataOffset: 20, checksumOk: true });
  });

  it('answers a TCP segment with ACK and payload with a bare RST whose seq is its ack number, behind a VLAN tag, over IPv6', () => {
    const spec = parsePacket('tcp [2001:db8::7]:40000 > [2001:db8::1]:25 flags PA vlan 10 len 100');
    const { bytes, l4Offset } = layOutFrame(spec);
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    view.setUint32(l4Offset! + 4, 0x10000000); // seq
    view.setUint32(l4Offset! + 8, 0xfffffff0); // ack
    const r = reject(bytes);
    expect(r.action).toBe(XDP_TX);
    const answer = parseAnswer(r.frame);
    expectSwapped(spec, answer);
    expect(r.frame.length).toBe(18 + 40 + 20);
    expect(answer.tcp).toEqual({ sport: 25, dport: 40000, seq: 0xfffffff0, ack: 0, flags: RST, dataOffset: 20, checksumOk: true });
  });

  it('acknowledges payload, SYN and FIN of a segment without ACK, and drops its IPv4 options', () => {
    const spec = parsePacket('tcp 198.51.100.7:40000 > 192.0.2.1:25 flags SF len 33 ipopt 8');
    const { bytes, l4Offset } = layOutFrame(spec);
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(l4Offset! + 4, 0xffffffff); // seq: the ack wraps
    const answer = parseAnswer(reject(bytes).frame);
    expectSwapped(spec, answer);
    expect(answer.tcp).toMatchObject({ seq: 0, ack: 34, flags: RST | ACK, checksumOk: true });
  });

  it('answers UDP over IPv4 with ICMP administratively prohibited quoting the datagram, behind two tags', () => {
    const spec = parsePacket('udp 198.51.100.7:5000 > 192.0.2.1:9999 svlan 100 vlan 10 len 20');
    const { bytes, l3Offset } = layOutFrame(spec);
    const r = reject(bytes);
    expect(r.action).toBe(XDP_TX);
    expect(r.ruleMoved[RULE.catchAll]).toBe(1n);
    const answer = parseAnswer(r.frame);
    expectSwapped(spec, answer);
    expect(answer.protocol).toBe(1);
    expect(answer.icmp).toMatchObject({ type: 3, code: 13, unused: 0, checksumOk: true });
    expect(Buffer.from(answer.icmp!.quoted)).toEqual(Buffer.from(bytes.subarray(l3Offset)));
    expect(answer.ipLength).toBe(20 + 8 + (bytes.length - l3Offset));
    expect(r.frame.length).toBe(answer.l3Offset + answer.ipLength);
  });

  it('answers UDP over IPv6 with ICMPv6 administratively prohibited, quoting at most XDPFW_REJECT_QUOTE bytes', () => {
    const spec = parsePacket('udp [2001:db8::7]:5000 > [2001:db8::1]:9999 len 1000');
    const { bytes, l3Offset } = layOutFrame(spec);
    const r = reject(bytes);
    expect(r.action).toBe(XDP_TX);
    const answer = parseAnswer(r.frame);
    expectSwapped(spec, answer);
    expect(answer.protocol).toBe(58);
    expect(answer.icmp).toMatchObject({ type: 1, code: 1, unused: 0, checksumOk: true });
    expect(Buffer.from(answer.icmp!.quoted)).toEqual(Buffer.from(bytes.subarray(l3Offset, l3Offset + REJECT_QUOTE)));
    expect(r.frame.length).toBe(14 + 40 + 8 + REJECT_QUOTE);
  });

  it('answers an odd-length UDP datagram with a valid ICMP checksum', () => {
    const spec = parsePacket('udp 198.51.100.7:5000 > 192.0.2.1:9999 len 3');
    const answer = parseAnswer(reject(layOutFrame(spec).bytes).frame);
    expect(answer.icmp).toMatchObject({ type: 3, code: 13, checksumOk: true });
    expect(answer.icmp!.quoted.length).toBe(20 + 8 + 3);
  });

  it('answers an ICMP echo request, which is not an error', () => {
    const r = reject(layOutFrame(parsePacket('icmp 198.51.100.7 > 192.0.2.1 type echo-request')).bytes);
    expect(r.action).toBe(XDP_TX);
    expect(parseAnswer(r.frame).icmp).toMatchObject({ type: 3, code: 13, checksumOk: true });
  });

  const unanswered: [string, PacketSpec | Uint8Array][] = [
    [
      'an ICMP error',
      {
        ...parsePacket('icmp 198.51.100.7 > 192.0.2.1 type destination-unreachable'),
        icmpInner: parsePacket('udp 192.0.2.1:5000 > 198.51.100.7:53'),
      },
    ],
    [
      'an ICMPv6 error',
      {
        ...parsePacket('icmpv6 2001:db8::7 > 2001:db8::1 type 1'),
        icmpInner: parsePacket('udp [2001:db8::1]:5000 > [2001:db8::7]:53'),
      },
    ],
    ['a TCP RST', parsePacket('tcp 198.51.100.7:40000 > 192.0.2.1:25 flags RA')],
    ['an IPv4 multicast destination', parsePacket('udp 198.51.100.7:5000 > 224.0.0.251:5353')],
    ['the IPv4 broadcast address', parsePacket('udp 198.51.100.7:68 > 255.255.255.255:67')],
    ['an IPv6 multicast destination', parsePacket('udp [fe80::7]:5000 > [ff02::fb]:5353')],
    ['an Ethernet broadcast', layOutFrame(parsePacket('udp 198.51.100.7:5000 > 192.0.2.1:9999'), { dstMac: 'ff:ff:ff:ff:ff:ff' }).bytes],
    ['a first IPv4 fragment', parsePacket('udp 198.51.100.7:5000 > 192.0.2.1:9999 frag 0 mf len 64')],
    ['a non-first IPv4 fragment', parsePacket('udp 198.51.100.7:5000 > 192.0.2.1:9999 frag 8 len 64')],
    ['a first IPv6 fragment', parsePacket('tcp [2001:db8::7]:40000 > [2001:db8::1]:25 flags S frag 0 mf')],
    ['a non-first IPv6 fragment', parsePacket('udp [2001:db8::7]:5000 > [2001:db8::1]:9999 frag 8 len 64')],
  ];
  for (const [what, packet] of unanswered) {
    it(`drops ${what} without an answer, counted as suppressed`, () => {
      const r = reject(packet instanceof Uint8Array ? packet : layOutFrame(packet).bytes);
      expect(r.action).toBe(XDP_DROP);
      expect(r.sent).toBe(0n);
      expect(r.suppressed).toBe(1n);
      expect(r.ruleMoved.reduce((a, b) => a + b, 0n)).toBe(1n);
    });
  }

  it('judges a rejected packet as reject, answered or not', () => {
    expect(judge.judge(layOutFrame(parsePacket('tcp 198.51.100.7:1 > 192.0.2.1:25 flags S')).bytes)).toMatchObject({
      action: 'reject',
      answered: true,
      matched: RULE.smtp,
    });
    expect(judge.judge(layOutFrame(parsePacket('tcp 198.51.100.7:1 > 192.0.2.1:25 flags R')).bytes)).toMatchObject({
      action: 'reject',
      answered: false,
      matched: RULE.smtp,
    });
    expect(judge.judge(layOutFrame(parsePacket('udp 198.51.100.7:1 > 192.0.2.1:53')).bytes)).toMatchObject({ action: 'allow' });
  });
});

describe.skipIf(skipWithoutRoot('reject rate'))('reject answers are rate-limited', () => {
  it('answers a burst of XDPFW_REJECT_BURST at once, then about one a millisecond, and drops the rest unanswered', async () => {
    const judge = await judgePolicy('interface eth0 {\n  default reject\n}\n');
    try {
      const runner = new TestRunner(judge.progFd);
      const frame = layOutFrame(parsePacket('udp 198.51.100.7:5000 > 192.0.2.1:9999')).bytes;
      const started = process.hrtime.bigint();
      const actions = Array.from({ length: 400 }, () => runner.run(frame));
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      const sent = actions.filter((a) => a === XDP_TX).length;
      expect(actions.every((a) => a === XDP_TX || a === XDP_DROP)).toBe(true);
      expect(sent).toBeGreaterThanOrEqual(REJECT_BURST);
      // 1,000 tokens a second on a clock that ticks every few ms: a tick of slack.
      expect(sent).toBeLessThanOrEqual(REJECT_BURST + Math.ceil(elapsedMs) + 10);
      const g = judge.counters().global;
      expect(g.rejectSent.packets).toBe(BigInt(sent));
      expect(g.rejectSuppressed.packets).toBe(BigInt(400 - sent));
      expect(g.default.packets).toBe(400n);
    } finally {
      judge.close();
    }
  });
});
