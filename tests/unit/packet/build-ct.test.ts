import { describe, expect, it } from 'vitest';
import { buildFrame, internetChecksum } from '../../../src/packet/build.js';
import type { PacketSpec } from '../../../src/packet/spec.js';

// What connection tracking reads beyond the classifier's fields: the echo
// identifier, the fragment identification and the datagram an ICMP error
// quotes. Offsets are counted by hand from the start of the frame.

const u16 = (b: Uint8Array, at: number): number => (b[at] << 8) | b[at + 1];
const u32 = (b: Uint8Array, at: number): number => new DataView(b.buffer, b.byteOffset).getUint32(at);
const sumsToZero = (bytes: Uint8Array): boolean => internetChecksum(bytes) === 0;

function icmpv6SumsToZero(frame: Uint8Array, l3: number): boolean {
  const pseudo = new Uint8Array(40);
  pseudo.set(frame.subarray(l3 + 8, l3 + 40), 0);
  new DataView(pseudo.buffer).setUint32(32, frame.length - l3 - 40);
  pseudo[39] = 58;
  return sumsToZero(Uint8Array.from([...pseudo, ...frame.subarray(l3 + 40)]));
}

const vlan = { tpid: 0x8100 as const, id: 7 };

describe('the ICMP echo identifier', () => {
  it('is written in bytes 4–5 of an ICMP header behind a VLAN tag, inside the checksum', () => {
    const frame = buildFrame({ family: 4, protocol: 1, src: '10.0.0.1', dst: '10.0.0.2', icmpType: 8, icmpId: 0x1f2e, vlans: [vlan] });
    // 18 bytes of Ethernet + tag, 20 of IPv4: the ICMP header at 38.
    expect(frame.length).toBe(18 + 20 + 8);
    expect(frame[38]).toBe(8);
    expect(u16(frame, 42)).toBe(0x1f2e);
    expect(sumsToZero(frame.subarray(38))).toBe(true);
  });

  it('is written in bytes 4–5 of an ICMPv6 header behind two tags', () => {
    const frame = buildFrame({
      family: 6,
      protocol: 58,
      src: '2001:db8::1',
      dst: '2001:db8::2',
      icmpType: 129,
      icmpId: 0xbeef,
      vlans: [{ tpid: 0x88a8, id: 1 }, vlan],
    });
    // 22 bytes of Ethernet + tags, 40 of IPv6: the ICMPv6 header at 62.
    expect(frame[62]).toBe(129);
    expect(u16(frame, 66)).toBe(0xbeef);
    expect(icmpv6SumsToZero(frame, 22)).toBe(true);
  });

  it('is zero when not given and refused beyond 16 bits', () => {
    const echo: PacketSpec = { family: 4, protocol: 1, src: '10.0.0.1', dst: '10.0.0.2', icmpType: 8 };
    expect(u16(buildFrame(echo), 38)).toBe(0);
    expect(() => buildFrame({ ...echo, icmpId: 0x10000 })).toThrow(/icmpId 65536 is out of range/);
  });
});

describe('the fragment identification', () => {
  it('is the IPv4 identification field, behind a VLAN tag', () => {
    const frame = buildFrame({
      family: 4,
      protocol: 17,
      src: '10.0.0.1',
      dst: '10.0.0.2',
      vlans: [vlan],
      fragment: { offset: 3, moreFragments: true, id: 0xabcd },
    });
    expect(u16(frame, 18 + 4)).toBe(0xabcd);
    expect(u16(frame, 18 + 6)).toBe(0x2000 | 3);
    expect(sumsToZero(frame.subarray(18, 38))).toBe(true);
  });

  it('is the 32-bit identification of the IPv6 fragment header', () => {
    const frame = buildFrame({
      family: 6,
      protocol: 17,
      src: '2001:db8::1',
      dst: '2001:db8::2',
      vlans: [vlan],
      fragment: { offset: 0, moreFragments: true, id: 0xdeadbeef },
    });
    // The fragment header follows the 40-byte IPv6 header at 18.
    expect(frame[18 + 6]).toBe(44);
    expect(frame[58]).toBe(17);
    expect(u32(frame, 58 + 4)).toBe(0xdeadbeef);
  });

  it('defaults to 0x1234 and is refused beyond the field of the family', () => {
    const udp: PacketSpec = { family: 4, protocol: 17, src: '10.0.0.1', dst: '10.0.0.2' };
    expect(u16(buildFrame({ ...udp, fragment: { offset: 0, moreFragments: true } }), 18)).toBe(0x1234);
    expect(() => buildFrame({ ...udp, fragment: { offset: 0, moreFragments: true, id: 0x10000 } })).toThrow(/fragment id/);
  });
});

describe('the datagram an ICMP error quotes', () => {
  const udpWithOptions: PacketSpec = {
    family: 4,
    protocol: 17,
    src: '10.0.0.1',
    dst: '192.0.2.9',
    sport: 5353,
    dport: 53,
    ipv4Options: [1, 1, 1, 1],
    payloadLength: 100,
  };

  it('follows the 8-byte ICMP header: the IPv4 header with options and 8 bytes of UDP', () => {
    const frame = buildFrame({
      family: 4,
      protocol: 1,
      src: '192.0.2.9',
      dst: '10.0.0.1',
      icmpType: 3,
      icmpCode: 3,
      icmpInner: udpWithOptions,
    });
    // ICMP header at 34, quoted IPv4 header (24 bytes) at 42, quoted UDP at 66.
    expect(frame.length).toBe(42 + 24 + 8);
    expect(u16(frame, 16)).toBe(20 + 8 + 24 + 8); // outer total length
    expect(frame[42]).toBe(0x46);
    expect(u16(frame, 44)).toBe(24 + 8 + 100); // the original datagram's length, as it was sent
    expect(frame[51]).toBe(17);
    expect([...frame.subarray(54, 58)]).toEqual([10, 0, 0, 1]);
    expect([...frame.subarray(58, 62)]).toEqual([192, 0, 2, 9]);
    expect([...frame.subarray(62, 66)]).toEqual([1, 1, 1, 1]);
    expect(u16(frame, 66)).toBe(5353);
    expect(u16(frame, 68)).toBe(53);
    expect(u16(frame, 70)).toBe(108);
    expect(sumsToZero(frame.subarray(42, 66))).toBe(true); // the quoted header keeps its checksum
    expect(sumsToZero(frame.subarray(34))).toBe(true);
  });

  it('quotes the first 8 bytes of TCP and of an ICMP echo with its identifier', () => {
    const tcp = buildFrame({
      family: 4,
      protocol: 1,
      src: '192.0.2.9',
      dst: '10.0.0.1',
      icmpType: 11,
      vlans: [vlan],
      icmpInner: { family: 4, protocol: 6, src: '10.0.0.1', dst: '192.0.2.9', sport: 40000, dport: 443, tcpFlags: 0x02 },
    });
    expect(tcp.length).toBe(18 + 20 + 8 + 20 + 8);
    expect(u16(tcp, 66)).toBe(40000);
    expect(u16(tcp, 68)).toBe(443);
    expect(u32(tcp, 70)).toBe(1); // the sequence number; the flags are not quoted

    const echo = buildFrame({
      family: 4,
      protocol: 1,
      src: '192.0.2.9',
      dst: '10.0.0.1',
      icmpType: 3,
      icmpInner: { family: 4, protocol: 1, src: '10.0.0.1', dst: '192.0.2.9', icmpType: 8, icmpId: 777, payloadLength: 56 },
    });
    expect(echo.length).toBe(34 + 8 + 20 + 8);
    expect(echo[62]).toBe(8);
    expect(u16(echo, 66)).toBe(777);
  });

  it('quotes an IPv6 datagram with its extension headers behind a VLAN tag', () => {
    const frame = buildFrame({
      family: 6,
      protocol: 58,
      src: '2001:db8::9',
      dst: '2001:db8::1',
      icmpType: 1,
      icmpCode: 4,
      vlans: [vlan],
      icmpInner: { family: 6, protocol: 6, src: '2001:db8::1', dst: '2001:db8::9', sport: 41000, dport: 22, ipv6ExtensionHeaders: [0] },
    });
    // Outer IPv6 at 18, ICMPv6 at 58, quoted IPv6 at 66, its hop-by-hop header at 106, TCP at 114.
    expect(frame.length).toBe(114 + 8);
    expect(u16(frame, 22)).toBe(8 + 40 + 8 + 8); // outer payload length
    expect(frame[66] >> 4).toBe(6);
    expect(u16(frame, 70)).toBe(8 + 20); // the original payload length
    expect(frame[72]).toBe(0); // next header: hop-by-hop
    expect(frame[106]).toBe(6);
    expect(u16(frame, 114)).toBe(41000);
    expect(u16(frame, 116)).toBe(22);
    expect(icmpv6SumsToZero(frame, 18)).toBe(true);
  });

  it("quotes less when the inner spec's truncateTo says so, counted from its IP header", () => {
    const frame = buildFrame({
      family: 4,
      protocol: 1,
      src: '192.0.2.9',
      dst: '10.0.0.1',
      icmpType: 3,
      icmpInner: { ...udpWithOptions, truncateTo: 26 },
    });
    expect(frame.length).toBe(42 + 26);
    expect(u16(frame, 66)).toBe(5353);
  });

  it('is refused without an ICMP header or across families', () => {
    const inner: PacketSpec = { family: 4, protocol: 17, src: '10.0.0.1', dst: '10.0.0.2' };
    expect(() => buildFrame({ ...inner, icmpInner: inner })).toThrow(/needs an ICMP header/);
    expect(() => buildFrame({ family: 6, protocol: 58, src: '2001:db8::1', dst: '2001:db8::2', icmpType: 1, icmpInner: inner })).toThrow(
      /cannot quote an IPv4 datagram/,
    );
  });
});
