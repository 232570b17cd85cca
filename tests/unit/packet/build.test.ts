import { describe, expect, it } from 'vitest';
import { buildFrame, internetChecksum, layOutFrame } from '../../../src/packet/build.js';
import type { PacketSpec } from '../../../src/packet/spec.js';

const u16 = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1];
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A header whose checksum field is right sums to 0 (RFC 1071). */
const sumsToZero = (bytes: Uint8Array): boolean => internetChecksum(bytes) === 0;

function pseudo4(frame: Uint8Array, l3: number, protocol: number, length: number): Uint8Array {
  const out = new Uint8Array(12);
  out.set(frame.subarray(l3 + 12, l3 + 20), 0);
  out[9] = protocol;
  out[10] = length >> 8;
  out[11] = length & 0xff;
  return out;
}

function pseudo6(frame: Uint8Array, l3: number, protocol: number, length: number): Uint8Array {
  const out = new Uint8Array(40);
  out.set(frame.subarray(l3 + 8, l3 + 40), 0);
  new DataView(out.buffer).setUint32(32, length);
  out[39] = protocol;
  return out;
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => Uint8Array.from([...a, ...b]);

const tcp4: PacketSpec = {
  family: 4,
  protocol: 6,
  src: '198.51.100.1',
  dst: '192.0.2.1',
  sport: 4242,
  dport: 22,
  tcpFlags: 0x02,
};

describe('buildFrame for IPv4', () => {
  it('lays out Ethernet, a 20-byte IPv4 header and a 20-byte TCP header with every field in place', () => {
    const frame = buildFrame(tcp4);
    expect(frame.length).toBe(14 + 20 + 20);
    expect(hex(frame.subarray(0, 14))).toBe('020000000002' + '020000000001' + '0800');
    expect(frame[14]).toBe(0x45);
    expect(u16(frame, 16)).toBe(40); // total length
    expect(u16(frame, 20)).toBe(0); // no fragment flags, offset 0
    expect(frame[22]).toBe(64); // TTL
    expect(frame[23]).toBe(6);
    expect([...frame.subarray(26, 30)]).toEqual([198, 51, 100, 1]);
    expect([...frame.subarray(30, 34)]).toEqual([192, 0, 2, 1]);
    expect(u16(frame, 34)).toBe(4242);
    expect(u16(frame, 36)).toBe(22);
    expect(frame[46] >> 4).toBe(5); // data offset
    expect(frame[47]).toBe(0x02); // SYN
  });

  it('writes a correct IPv4 header checksum and a correct TCP checksum', () => {
    const frame = buildFrame({ ...tcp4, payloadLength: 33 });
    expect(sumsToZero(frame.subarray(14, 34))).toBe(true);
    expect(sumsToZero(concat(pseudo4(frame, 14, 6, 20 + 33), frame.subarray(34)))).toBe(true);
  });

  it('writes UDP ports, the UDP length and a checksum over the pseudo-header', () => {
    const frame = buildFrame({ family: 4, protocol: 17, src: '10.0.0.1', dst: '10.0.0.2', sport: 53, dport: 5353, payloadLength: 11 });
    expect(frame.length).toBe(14 + 20 + 8 + 11);
    expect(u16(frame, 34)).toBe(53);
    expect(u16(frame, 36)).toBe(5353);
    expect(u16(frame, 38)).toBe(19);
    expect(u16(frame, 40)).not.toBe(0);
    expect(sumsToZero(concat(pseudo4(frame, 14, 17, 19), frame.subarray(34)))).toBe(true);
  });

  it('writes the ICMP type and code first in the ICMP header, checksummed without a pseudo-header', () => {
    const frame = buildFrame({ family: 4, protocol: 1, src: '10.0.0.1', dst: '10.0.0.2', icmpType: 8, icmpCode: 3, payloadLength: 5 });
    expect(frame.length).toBe(14 + 20 + 8 + 5);
    expect(frame[34]).toBe(8);
    expect(frame[35]).toBe(3);
    expect(sumsToZero(frame.subarray(34))).toBe(true);
  });

  it('carries only payload after the IP header for a protocol without an L4 header xdpfw reads', () => {
    const layout = layOutFrame({ family: 4, protocol: 47, src: '10.0.0.1', dst: '10.0.0.2', payloadLength: 4 });
    expect(layout.bytes.length).toBe(14 + 20 + 4);
    expect(layout.l4Offset).toBeNull();
    expect(layout.payloadOffset).toBe(34);
    expect([...layout.bytes.subarray(34)]).toEqual([0, 1, 2, 3]);
  });

  it('treats ICMPv6 carried by IPv4 as a protocol without an L4 header', () => {
    const layout = layOutFrame({ family: 4, protocol: 58, src: '10.0.0.1', dst: '10.0.0.2', icmpType: 128 });
    expect(layout.l4Offset).toBeNull();
    expect(layout.bytes.length).toBe(34);
  });

  it('pads IPv4 options to a multiple of 4 and raises IHL, moving the TCP header', () => {
    const layout = layOutFrame({ ...tcp4, ipv4Options: [1, 0] });
    const frame = layout.bytes;
    expect(frame[14]).toBe(0x46);
    expect(u16(frame, 16)).toBe(24 + 20);
    expect([...frame.subarray(34, 38)]).toEqual([1, 0, 0, 0]);
    expect(layout.l4Offset).toBe(38);
    expect(u16(frame, 38)).toBe(4242);
    expect(sumsToZero(frame.subarray(14, 38))).toBe(true);
  });

  it('accepts 40 bytes of IPv4 options (IHL 15) and refuses 41', () => {
    expect(buildFrame({ ...tcp4, ipv4Options: new Array<number>(40).fill(1) })[14]).toBe(0x4f);
    expect(() => buildFrame({ ...tcp4, ipv4Options: new Array<number>(41).fill(1) })).toThrow(/do not fit in 40/);
  });

  it('marks a first fragment with MF and offset 0 and keeps its TCP header', () => {
    const layout = layOutFrame({ ...tcp4, fragment: { offset: 0, moreFragments: true } });
    expect(u16(layout.bytes, 20)).toBe(0x2000);
    expect(u16(layout.bytes, 18)).not.toBe(0); // identification
    expect(layout.l4Offset).toBe(34);
    expect(sumsToZero(layout.bytes.subarray(14, 34))).toBe(true);
  });

  it('gives a non-first fragment its offset and payload bytes but no L4 header', () => {
    const layout = layOutFrame({ ...tcp4, fragment: { offset: 185, moreFragments: false }, payloadLength: 16 });
    expect(u16(layout.bytes, 20)).toBe(185);
    expect(layout.l4Offset).toBeNull();
    expect(layout.bytes.length).toBe(14 + 20 + 16);
    expect(u16(layout.bytes, 16)).toBe(36);
  });
});

describe('buildFrame for VLAN tags', () => {
  it('inserts one 802.1Q tag between the MAC addresses and the IPv4 ethertype', () => {
    const frame = buildFrame({ ...tcp4, vlans: [{ tpid: 0x8100, id: 100 }] });
    expect(hex(frame.subarray(12, 18))).toBe('8100' + '0064' + '0800');
    expect(frame[18]).toBe(0x45);
  });

  it('stacks an 802.1ad tag outside an 802.1Q tag, outermost first', () => {
    const frame = buildFrame({
      ...tcp4,
      vlans: [
        { tpid: 0x88a8, id: 200 },
        { tpid: 0x8100, id: 100 },
      ],
    });
    expect(hex(frame.subarray(12, 22))).toBe('88a8' + '00c8' + '8100' + '0064' + '0800');
    expect(frame.length).toBe(54 + 8);
  });

  it('builds three tags when asked, which the data plane judges malformed', () => {
    const frame = buildFrame({ ...tcp4, vlans: [1, 2, 3].map((id) => ({ tpid: 0x8100 as const, id })) });
    expect(hex(frame.subarray(12, 26))).toBe('810000018100000281000003' + '0800');
  });

  it('refuses a VLAN id above 4095', () => {
    expect(() => buildFrame({ ...tcp4, vlans: [{ tpid: 0x8100, id: 4096 }] })).toThrow(/vlan id 4096 is out of range/);
  });
});

const udp6: PacketSpec = {
  family: 6,
  protocol: 17,
  src: '2001:db8::1',
  dst: '2001:db8::2',
  sport: 53,
  dport: 53,
};

describe('buildFrame for IPv6', () => {
  it('lays out a 40-byte IPv6 header with payload length, next header and addresses', () => {
    const frame = buildFrame({ ...udp6, payloadLength: 4 });
    expect(u16(frame, 12)).toBe(0x86dd);
    expect(frame[14] >> 4).toBe(6);
    expect(u16(frame, 18)).toBe(12); // payload length: UDP 8 + 4
    expect(frame[20]).toBe(17);
    expect(frame[21]).toBe(64);
    expect(hex(frame.subarray(22, 38))).toBe('20010db8000000000000000000000001');
    expect(hex(frame.subarray(38, 54))).toBe('20010db8000000000000000000000002');
    expect(u16(frame, 54)).toBe(53);
    expect(sumsToZero(concat(pseudo6(frame, 14, 17, 12), frame.subarray(54)))).toBe(true);
  });

  it('writes the ICMPv6 type and a checksum over the IPv6 pseudo-header', () => {
    const frame = buildFrame({ family: 6, protocol: 58, src: 'fe80::1', dst: 'ff02::1', icmpType: 135 });
    expect(frame[54]).toBe(135);
    expect(sumsToZero(concat(pseudo6(frame, 14, 58, 8), frame.subarray(54)))).toBe(true);
  });

  it('chains extension headers in the order given, each naming the next, ending with the L4 protocol', () => {
    const layout = layOutFrame({ ...udp6, ipv6ExtensionHeaders: [0, 43, 60, 51] });
    const f = layout.bytes;
    expect(f[20]).toBe(0); // IPv6 next header: hop-by-hop
    expect([f[54], f[55]]).toEqual([43, 0]); // hop-by-hop: next routing, 8 bytes
    expect([f[62], f[63]]).toEqual([60, 0]); // routing: next destination options
    expect([f[70], f[71]]).toEqual([51, 0]); // destination options: next AH
    expect([f[78], f[79]]).toEqual([17, 4]); // AH: next UDP, (4 + 2) * 4 = 24 bytes
    expect(layout.l4Offset).toBe(54 + 8 + 8 + 8 + 24);
    expect(u16(f, 18)).toBe(48 + 8);
    expect(u16(f, layout.l4Offset!)).toBe(53);
  });

  it('appends a fragment header after the listed extension headers for a fragment', () => {
    const layout = layOutFrame({ ...udp6, ipv6ExtensionHeaders: [0], fragment: { offset: 0, moreFragments: true } });
    const f = layout.bytes;
    expect([f[20], f[54]]).toEqual([0, 44]);
    expect(f[62]).toBe(17);
    expect(u16(f, 64)).toBe(0x0001); // offset 0, M
    expect(layout.l4Offset).toBe(54 + 8 + 8);
  });

  it('gives a non-first fragment the offset in its fragment header and no L4 header', () => {
    const layout = layOutFrame({ ...udp6, fragment: { offset: 185, moreFragments: true }, payloadLength: 8 });
    const f = layout.bytes;
    expect(f[20]).toBe(44);
    expect(f[54]).toBe(17);
    expect(u16(f, 56)).toBe((185 << 3) | 1);
    expect(layout.l4Offset).toBeNull();
    expect(f.length).toBe(54 + 8 + 8);
  });

  it('places the fragment header where the list names it, as an atomic fragment without a fragment spec', () => {
    const f = buildFrame({ ...udp6, ipv6ExtensionHeaders: [44, 60] });
    expect([f[20], f[54], f[62]]).toEqual([44, 60, 17]);
    expect(u16(f, 56)).toBe(0);
  });

  it('refuses a non-first fragment with extension headers after its fragment header', () => {
    const spec: PacketSpec = { ...udp6, ipv6ExtensionHeaders: [44, 60], fragment: { offset: 1, moreFragments: false } };
    expect(() => buildFrame(spec)).toThrow(/travel in the first fragment/);
  });

  it('refuses a next-header value that is not an extension header xdpfw skips', () => {
    expect(() => buildFrame({ ...udp6, ipv6ExtensionHeaders: [135] })).toThrow(/not an IPv6 extension header/);
  });
});

describe('buildFrame options and validation', () => {
  it('cuts the frame at truncateTo but keeps the lengths of the whole packet in the headers', () => {
    const frame = buildFrame({ ...tcp4, truncateTo: 40 });
    expect(frame.length).toBe(40);
    expect(u16(frame, 16)).toBe(40);
  });

  it('leaves a frame shorter than truncateTo as it is', () => {
    expect(buildFrame({ ...tcp4, truncateTo: 1000 }).length).toBe(54);
  });

  it('uses the MAC addresses it is given', () => {
    const frame = buildFrame(tcp4, { srcMac: 'aa:bb:cc:dd:ee:ff', dstMac: '11:22:33:44:55:66' });
    expect(hex(frame.subarray(0, 12))).toBe('112233445566aabbccddeeff');
  });

  it('refuses an address of the wrong family, naming the field', () => {
    expect(() => buildFrame({ ...tcp4, dst: '2001:db8::1' })).toThrow("dst '2001:db8::1' is not an IPv4 address");
    expect(() => buildFrame({ ...udp6, src: '10.0.0.1' })).toThrow("src '10.0.0.1' is not an IPv6 address");
  });

  it('refuses ports and protocols out of range', () => {
    expect(() => buildFrame({ ...tcp4, dport: 65536 })).toThrow(/dport 65536 is out of range/);
    expect(() => buildFrame({ ...tcp4, protocol: 256 })).toThrow(/protocol 256 is out of range/);
  });
});
