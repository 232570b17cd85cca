/**
 * The fast path (src/xdp/fast-path.ts) against the C program it is put in
 * front of, frame by frame. Frames start as IPv4 and IPv6 TCP and UDP
 * packets the fast path takes and are bent across every condition it tests:
 * cut at every length, other IHLs and versions, total and payload lengths
 * around the header sizes and the frame's end, fragment bits, next headers
 * and extension headers, TCP data offsets, other protocols and Ethertypes,
 * one or two VLAN tags (cut, with other inner Ethertypes), trailing bytes. Both programs must return the same
 * action and count the same packets and bytes in the same counters; the
 * frames must fall on both sides of the fast path's conditions. Then
 * seeded random bendings of the same frames (FUZZED per policy).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { buildFrame } from '../../src/packet/build.js';
import { decodeFrame } from '../../src/packet/decode.js';
import type { PacketSpec } from '../../src/packet/spec.js';
import { PolicyJudge } from '../../src/xdp/judge.js';
import { takenByFastPath } from '../support/fast-path.js';
import { compileInterfaceText, skipWithoutRoot } from '../support/kernel.js';
import { Random } from '../support/random.js';

const POLICIES: Record<string, string> = {
  'ports, flags, prefixes and negations': `interface eth0 {
  default drop
  allow tcp dport 22 src 10.0.0.0/8
  drop udp sport 53 dst ! 192.0.2.0/24
  allow tcp flags syn / syn,ack dport 1000-2000
  allow tcp sport 1-1023 dport 80
  drop src 10.1.2.3
  allow udp dport 0-99 src ! 0.0.0.0/0
  allow ip4 dst 198.51.100.0/25
}
`,
  'a rule that holds for every TCP and UDP packet, then more': `interface eth0 {
  default drop
  drop tcp dport 23
  allow ip4
  drop udp
}
`,
  'prefixes of length 0, plain and negated': `interface eth0 {
  default allow
  drop udp src ! 0.0.0.0/0
  drop tcp src 0.0.0.0/0 dport 1500
  drop udp dst 0.0.0.0/0 sport 7
  allow dst 0.0.0.0/0
}
`,
  'IPv6 prefixes, plain, negated and /0': `interface eth0 {
  default drop
  allow tcp src 2001:db8:1::/48 dport 22
  drop udp dst ! 2001:db8:ffff::/48
  allow tcp src ! 2001:db8::/32 dport 22
  allow tcp flags syn / syn,ack sport 1000-2000
  drop udp src ::/0 sport 53
  drop tcp dst ! ::/0
  allow ip6 dst 2001:db8:ffff::/64
  allow src 10.0.0.0/8
}
`,
  'only rules the fast path cannot take': `interface eth0 {
  default allow
  drop icmp type echo-request
  drop icmpv6 type echo-request
  drop proto 47
  drop src 2001:db8::/32 proto 50
}
`,
  'no rules': 'interface eth0 {\n  default drop\n}\n',
};

const BASE: PacketSpec[] = [
  { family: 4, protocol: 6, src: '10.1.2.3', dst: '192.0.2.7', sport: 1500, dport: 22, tcpFlags: 0x02, payloadLength: 6 },
  { family: 4, protocol: 6, src: '203.0.113.5', dst: '198.51.100.9', sport: 80, dport: 1500, tcpFlags: 0x02 },
  { family: 4, protocol: 17, src: '10.9.9.9', dst: '198.51.100.200', sport: 53, dport: 53, payloadLength: 3 },
  { family: 4, protocol: 17, src: '192.0.2.1', dst: '192.0.2.2', sport: 7, dport: 99 },
  { family: 6, protocol: 6, src: '2001:db8:1::5', dst: '2001:db8::9', sport: 1500, dport: 22, tcpFlags: 0x02, payloadLength: 4 },
  { family: 6, protocol: 17, src: '2001:db8:2::1', dst: '2001:db8:ffff::1', sport: 53, dport: 99, payloadLength: 2 },
  { family: 6, protocol: 17, src: '2001:db9::1', dst: '2001:db7::1', sport: 7, dport: 7 },
  { family: 6, protocol: 17, src: '2001:db8:1::7', dst: '2001:db8:1::1', sport: 8, dport: 8 },
];

const ETH = 14;
/** One 802.1Q tag, one 802.1ad tag, and both (QinQ, which the fast path leaves to the C program). */
const TAGS: NonNullable<PacketSpec['vlans']>[] = [
  [{ tpid: 0x8100, id: 5 }],
  [{ tpid: 0x88a8, id: 7 }],
  [
    { tpid: 0x88a8, id: 1 },
    { tpid: 0x8100, id: 2 },
  ],
];

/** `frame` with `edit` applied to a copy. */
function bent(frame: Uint8Array, edit: (b: Buffer) => void): Uint8Array {
  const copy = Buffer.from(frame);
  edit(copy);
  return copy;
}

/** The frames for one base packet: itself and every bend of it. */
function* frames(spec: PacketSpec): Generator<Uint8Array> {
  const frame = buildFrame(spec);
  yield frame;
  for (let length = ETH; length < frame.length; length++) yield frame.slice(0, length);
  yield Buffer.concat([frame, Buffer.alloc(9, 0xee)]); // trailing bytes past the datagram
  for (const type of [0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x0008, 0xdd86]) yield bent(frame, (b) => b.writeUInt16BE(type, 12));
  for (const vlans of TAGS) {
    const tagged = buildFrame({ ...spec, vlans });
    yield tagged;
    for (let length = ETH; length < tagged.length; length++) yield tagged.slice(0, length);
    for (const type of [0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806]) yield bent(tagged, (b) => b.writeUInt16BE(type, ETH + 2));
  }
  yield buildFrame({ ...spec, fragment: { offset: 0, moreFragments: true } });
  yield buildFrame({ ...spec, fragment: { offset: 3, moreFragments: false } });
  yield* spec.family === 4 ? bends4(spec, frame) : bends6(spec, frame);
}

/** Each flag and offset bit alone, and a few together. */
const FRAGMENT_WORDS = [...Array.from({ length: 16 }, (_, bit) => 1 << bit), 0x1fff, 0x3fff, 0xe000];
/** Data offsets 0..15 in the TCP header at `l4`. */
function* offsets(frame: Uint8Array, l4: number): Generator<Uint8Array> {
  for (let offset = 0; offset < 16; offset++) yield bent(frame, (b) => (b[l4 + 12] = (offset << 4) | (b[l4 + 12] & 0x0f)));
}

function* bends4(spec: PacketSpec, frame: Uint8Array): Generator<Uint8Array> {
  const total = frame.length - ETH;
  for (const first of [0x40, 0x44, 0x46, 0x4f, 0x55, 0x65, 0x35]) yield bent(frame, (b) => (b[ETH] = first));
  for (const length of [0, 19, 20, 27, 28, 29, 39, 40, 41, total - 1, total + 1, 0xffff]) {
    yield bent(frame, (b) => b.writeUInt16BE(length, ETH + 2));
  }
  for (const fragment of FRAGMENT_WORDS) yield bent(frame, (b) => b.writeUInt16BE(fragment, ETH + 6));
  for (const protocol of [0, 1, 6, 17, 47, 58, 132]) yield bent(frame, (b) => (b[ETH + 9] = protocol));
  yield* offsets(frame, ETH + 20);
  yield buildFrame({ ...spec, ipv4Options: [1, 1, 1, 0] });
}

function* bends6(spec: PacketSpec, frame: Uint8Array): Generator<Uint8Array> {
  const payload = frame.length - ETH - 40;
  for (const first of [0x60, 0x6f, 0x40, 0x45, 0x70, 0x00]) yield bent(frame, (b) => (b[ETH] = first));
  for (const length of [0, 7, 8, 9, 19, 20, 21, payload - 1, payload + 1, 0xffff]) {
    yield bent(frame, (b) => b.writeUInt16BE(length, ETH + 4));
  }
  for (const next of [0, 6, 17, 43, 44, 50, 51, 58, 59, 60]) yield bent(frame, (b) => (b[ETH + 6] = next));
  yield* offsets(frame, ETH + 40);
  for (const extension of [0, 43, 60]) yield buildFrame({ ...spec, ipv6ExtensionHeaders: [extension] });
}

/**
 * Random frames near the fast path's edge: a base frame with one to three
 * of its header bytes (IPv4 and IPv6 fields, or any of the first 80) set
 * to a random value or with a bit flipped, sometimes cut or padded.
 * Seeded: a failure reproduces.
 */
function* fuzzed(random: Random, count: number): Generator<Uint8Array> {
  const bases = BASE.flatMap((spec) => [buildFrame(spec), buildFrame({ ...spec, vlans: TAGS[0] })]);
  for (let n = 0; n < count; n++) {
    const frame = Buffer.from(random.pick(bases));
    for (let k = random.int(1, 3); k > 0; k--) {
      const fields = [12, 13, ETH, ETH + 2, ETH + 3, ETH + 4, ETH + 5, ETH + 6, ETH + 7, ETH + 9, ETH + 32, ETH + 33, ETH + 52, ETH + 53];
      const at = random.chance(0.7) ? random.pick(fields) : random.int(0, 79);
      if (at < frame.length) frame[at] = random.chance(0.5) ? random.int(0, 255) : frame[at] ^ (1 << random.int(0, 7));
    }
    const cut = random.chance(0.2) ? random.int(ETH, frame.length) : frame.length;
    yield random.chance(0.1) ? Buffer.concat([frame, Buffer.alloc(random.int(1, 40))]) : frame.subarray(0, cut);
  }
}

/** Random bendings per policy. */
const FUZZED = 3000;
const seen = { frames: 0, fast: 0, slow: 0 };

describe.skipIf(skipWithoutRoot('fast path'))('the fast path against the C program alone', () => {
  afterAll(() => console.log(`fast path: ${seen.frames} frames, ${seen.fast} for the fast path, ${seen.slow} for the C program`));

  for (const [seed, [name, text]] of Object.entries(POLICIES).entries()) {
    it(`judges and counts every bent frame as the C program does: ${name}`, async () => {
      const compiled = compileInterfaceText(text);
      expect(compiled.constants.linear, 'the policy takes the linear path').toBeTruthy();
      const fast = await PolicyJudge.load(compiled);
      const alone = await PolicyJudge.load(compiled, { fastPath: false });
      const mismatches: string[] = [];
      try {
        const bent = BASE.flatMap((spec) => [...frames(spec)]);
        for (const frame of [...bent, ...fuzzed(new Random(seed + 1), FUZZED)]) {
          seen.frames++;
          if (takenByFastPath(frame)) seen.fast++;
          else seen.slow++;
          const [a, b] = [fast.judge(frame), alone.judge(frame)];
          if (JSON.stringify(a) !== JSON.stringify(b)) {
            mismatches.push(`${Buffer.from(frame).toString('hex')}: fast path ${JSON.stringify(a)}, C ${JSON.stringify(b)}`);
          }
        }
        expect(mismatches).toEqual([]);
        expect(fast.counters()).toEqual(alone.counters());
      } finally {
        fast.close();
        alone.close();
      }
    });
  }

  it('sent a good share of the frames each way', () => {
    expect(seen.fast).toBeGreaterThan(1000);
    expect(seen.slow).toBeGreaterThan(5000);
  });

  it("agrees with `xdpfw trace`'s decoder on which frames are malformed and which are not IP", async () => {
    const judge = await PolicyJudge.load(compileInterfaceText(Object.values(POLICIES)[0]), { fastPath: false });
    const disagreements: string[] = [];
    try {
      for (const frame of [...BASE.flatMap((spec) => [...frames(spec)]), ...fuzzed(new Random(99), FUZZED)]) {
        const kernel = judge.judge(frame).matched;
        const decoded = decodeFrame(frame);
        const said = decoded.malformed !== undefined ? 'malformed' : decoded.ethertype !== undefined ? 'non-ip' : 'judged';
        const was = kernel === 'malformed' || kernel === 'non-ip' ? kernel : 'judged';
        if (said !== was) disagreements.push(`${Buffer.from(frame).toString('hex')}: kernel ${was}, decoder ${said}`);
      }
      expect(disagreements).toEqual([]);
    } finally {
      judge.close();
    }
  });
});
