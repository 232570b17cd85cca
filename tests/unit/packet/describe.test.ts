import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../../src/packet/build.js';
import { formatPacket, MAX_TEST_FRAME, PacketSyntaxError, parsePacket } from '../../../src/packet/describe.js';
import { icmpTypeByName, icmpTypeName, icmpTypeNames } from '../../../src/packet/icmp-names.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { tcpFlagByLetter, tcpFlagByName, tcpFlagLetters, tcpFlagNames } from '../../../src/packet/tcp-flags.js';

describe('parsePacket', () => {
  it('reads a TCP packet with ports and flag letters', () => {
    expect(parsePacket('tcp 198.51.100.1:4242 > 192.0.2.1:22 flags S')).toEqual({
      family: 4,
      protocol: 6,
      src: '198.51.100.1',
      dst: '192.0.2.1',
      sport: 4242,
      dport: 22,
      tcpFlags: 0x02,
    });
  });

  it('reads a UDP packet between bracketed IPv6 addresses', () => {
    expect(parsePacket('udp [2001:db8::1]:53 > [2001:db8::2]:53')).toEqual({
      family: 6,
      protocol: 17,
      src: '2001:db8::1',
      dst: '2001:db8::2',
      sport: 53,
      dport: 53,
    });
  });

  it('reads an ICMP type by name and an ICMPv6 type by number', () => {
    expect(parsePacket('icmp 198.51.100.1 > 192.0.2.1 type echo-request')).toMatchObject({
      family: 4,
      protocol: 1,
      icmpType: 8,
    });
    expect(parsePacket('icmpv6 2001:db8::1 > 2001:db8::2 type 135 code 0')).toMatchObject({
      family: 6,
      protocol: 58,
      icmpType: 135,
      icmpCode: 0,
    });
  });

  it('reads any other protocol by number, with addresses of either family', () => {
    expect(parsePacket('proto 47 10.0.0.1 > 10.0.0.2')).toEqual({ family: 4, protocol: 47, src: '10.0.0.1', dst: '10.0.0.2' });
    expect(parsePacket('proto 1 [2001:db8::1] > 2001:db8::2')).toMatchObject({ family: 6, protocol: 1 });
  });

  it('reads VLAN tags outermost first, fragments, payload length and IPv4 options', () => {
    expect(parsePacket('tcp 10.0.0.1:1 > 10.0.0.2:2 svlan 100 vlan 200 frag 0 mf len 1200 ipopt')).toMatchObject({
      vlans: [
        { tpid: 0x88a8, id: 100 },
        { tpid: 0x8100, id: 200 },
      ],
      fragment: { offset: 0, moreFragments: true },
      payloadLength: 1200,
      ipv4Options: [1, 0],
    });
    expect(parsePacket('proto 47 10.0.0.1 > 10.0.0.2 frag 185')).toMatchObject({ fragment: { offset: 185, moreFragments: false } });
  });

  it('reads IPv6 extension headers by name or number, and a truncation', () => {
    expect(parsePacket('udp [::1]:1 > [::2]:2 ext hopopts,43,ah,dstopts trunc 60')).toMatchObject({
      ipv6ExtensionHeaders: [0, 43, 51, 60],
      truncateTo: 60,
    });
  });

  it('reads flags as letters, names, a number or none, all meaning the same byte', () => {
    const flags = (text: string): number | undefined => parsePacket(`tcp 10.0.0.1:1 > 10.0.0.2:2 flags ${text}`).tcpFlags;
    expect(flags('SA')).toBe(0x12);
    expect(flags('syn,ack')).toBe(0x12);
    expect(flags('SYN,ACK')).toBe(0x12);
    expect(flags('0x12')).toBe(0x12);
    expect(flags('18')).toBe(0x12);
    expect(flags('FSRPAUEC')).toBe(0xff);
    expect(flags('ece')).toBe(0x40);
    expect(flags('none')).toBe(0);
  });

  it('normalises addresses and accepts keywords in any case and a glued arrow', () => {
    expect(parsePacket('ICMPv6 2001:DB8:0:0::1 > 2001:db8::2 TYPE Echo-Request')).toMatchObject({ src: '2001:db8::1', icmpType: 128 });
    expect(parsePacket('UDP [2001:DB8:0:0::1]:1>[2001:db8::2]:2')).toMatchObject({ src: '2001:db8::1', dst: '2001:db8::2' });
  });

  it('reads ipopt N as N-1 NOPs and an EOL, and ipopt 0xHEX as those bytes', () => {
    expect(parsePacket('udp 10.0.0.1:1 > 10.0.0.2:2 ipopt 40').ipv4Options).toEqual([...new Array<number>(39).fill(1), 0]);
    expect(parsePacket('udp 10.0.0.1:1 > 10.0.0.2:2 ipopt 0x94040000').ipv4Options).toEqual([0x94, 4, 0, 0]);
  });
});

describe('formatPacket', () => {
  const canonical = [
    'tcp 198.51.100.1:4242 > 192.0.2.1:22 flags S',
    'tcp 198.51.100.1:4242 > 192.0.2.1:22 flags SA vlan 100',
    'tcp 10.0.0.1:0 > 10.0.0.2:0 flags none',
    'udp [2001:db8::1]:53 > [2001:db8::2]:53',
    'icmp 198.51.100.1 > 192.0.2.1 type echo-request',
    'icmp 198.51.100.1 > 192.0.2.1 type 200 code 4',
    'icmpv6 2001:db8::1 > 2001:db8::2 type nd-neighbor-solicit',
    'proto 47 10.0.0.1 > 10.0.0.2',
    'proto 1 2001:db8::1 > 2001:db8::2',
    'proto 58 10.0.0.1 > 10.0.0.2',
    'udp 10.0.0.1:1 > 10.0.0.2:2 svlan 100 vlan 200 ipopt frag 0 mf len 1200 trunc 60',
    'udp 10.0.0.1:1 > 10.0.0.2:2 ipopt 12 frag 185',
    'udp 10.0.0.1:1 > 10.0.0.2:2 ipopt 0x07030400',
    'udp [::1]:1 > [::2]:2 ext hopopts,routing,fragment,ah,dstopts frag 0 mf',
    'udp [::1]:1 > [::2]:2 ext hopopts,routing,fragment frag 3 mf',
  ];

  it.each(canonical)('prints %s back exactly as it was read', (text) => {
    expect(formatPacket(parsePacket(text))).toBe(text);
  });

  it('gives back the same spec when its text is parsed again', () => {
    const specs: PacketSpec[] = [
      { family: 4, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2', sport: 1, dport: 2, tcpFlags: 0x29 },
      { family: 6, protocol: 58, src: 'fe80::1', dst: 'ff02::1', icmpType: 143, icmpCode: 0 },
      { family: 6, protocol: 17, src: '::1', dst: '::2', sport: 0, dport: 0, fragment: { offset: 8191, moreFragments: false } },
      { family: 4, protocol: 132, src: '10.0.0.1', dst: '10.0.0.2', vlans: [{ tpid: 0x8100, id: 4095 }], payloadLength: 0 },
    ];
    for (const spec of specs) expect(parsePacket(formatPacket(spec))).toEqual(spec);
  });

  it('prints defaults explicitly for ports and leaves out fields the protocol does not have', () => {
    expect(formatPacket({ family: 4, protocol: 6, src: '10.0.0.1', dst: '10.0.0.2' })).toBe('tcp 10.0.0.1:0 > 10.0.0.2:0');
    expect(formatPacket({ family: 4, protocol: 1, src: '10.0.0.1', dst: '10.0.0.2', sport: 5, tcpFlags: 2 })).toBe(
      'icmp 10.0.0.1 > 10.0.0.2',
    );
  });
});

describe('PacketSyntaxError', () => {
  const cases: [string, number, string][] = [
    ['', 1, 'expected a protocol (tcp, udp, icmp, icmpv6 or proto N) at the end'],
    ['tpc 10.0.0.1:1 > 10.0.0.2:2', 1, "unknown protocol 'tpc' (expected tcp, udp, icmp, icmpv6 or proto N)"],
    ['proto 300 10.0.0.1 > 10.0.0.2', 7, 'protocol number 300 is out of range 0–255'],
    ['proto 6 10.0.0.1 > 10.0.0.2', 1, "write 'tcp' instead of 'proto 6'"],
    ['tcp 10.0.0.1 > 10.0.0.2:22', 5, 'expected an address with a port, like 10.0.0.1:80'],
    ['tcp 2001:db8::1 > [2001:db8::2]:22', 5, 'expected an address with a port, like [2001:db8::1]:80'],
    ['tcp 10.0.0.1:99999 > 10.0.0.2:22', 14, 'port 99999 is out of range 0–65535'],
    ['tcp 10.0.0.1:1 > [2001:db8::2]:22', 18, 'destination is IPv6 but the source is IPv4'],
    ['tcp 10.0.0.1:1 10.0.0.2:22', 16, "expected '>' between source and destination, found '10.0.0.2:22'"],
    ['tcp 10.0.0.1:1 >', 17, 'expected a destination address at the end'],
    ['udp 10.0.0.300:1 > 10.0.0.2:2', 5, "'10.0.0.300' is not an IPv4 or IPv6 address"],
    ['udp [10.0.0.1]:1 > 10.0.0.2:2', 5, "'10.0.0.1' in brackets is not an IPv6 address"],
    ['icmp 10.0.0.1:5 > 10.0.0.2', 6, "a port needs tcp or udp; '10.0.0.1:5' has one"],
    ['icmp 2001:db8::1 > 2001:db8::2', 1, 'icmp is ICMP for IPv4; use icmpv6 with IPv6 addresses (or proto 1 for ICMP carried by IPv6)'],
    ['icmp 10.0.0.1 > 10.0.0.2 type echo-requets', 31, "unknown ICMP type 'echo-requets'"],
    [
      'tcp 10.0.0.1:1 > 10.0.0.2:2 flags syn,akc',
      39,
      "unknown TCP flag 'akc' (letters FSRPAUEC, or names fin, syn, rst, psh, ack, urg, ece, cwr)",
    ],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 flags S', 29, "'flags' needs tcp"],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 vlna 5', 29, "unknown word 'vlna' (expected vlan, svlan, frag, ext, ipopt, len, trunc or ct)"],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 vlan 4096', 34, 'VLAN id 4096 is out of range 0–4095'],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 len 5 len 6', 35, "'len' is given twice"],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 ext hopopts', 29, "'ext' (extension headers) needs IPv6 addresses"],
    ['udp [::1]:1 > [::2]:2 ipopt', 23, "'ipopt' (IPv4 options) needs IPv4 addresses"],
    ['udp [::1]:1 > [::2]:2 ext hopopts,esp', 35, "unknown IPv6 extension header 'esp'"],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 frag', 33, 'expected a fragment offset (in 8-byte units) at the end'],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 frag 8192', 34, 'fragment offset 8192 is out of range 0–8191'],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 len many', 33, "expected a payload length, found 'many'"],
    [
      'udp [::1]:1 > [::2]:2 ext hopopts,fragment,dstopts frag 3',
      1,
      'a non-first fragment cannot carry extension headers after its fragment header',
    ],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 trunc 13', 35, 'frame length 13 is out of range 14–3520'],
    ['udp 10.0.0.1:1 > 10.0.0.2:2 trunc 0', 35, 'frame length 0 is out of range 14–3520'],
    [
      'udp 10.0.0.1:1 > 10.0.0.2:2 len 3479',
      1,
      "the frame would be 3521 bytes; a test frame is at most 3520 (fewer 'len' bytes or 'vlan' tags)",
    ],
    [`udp 10.0.0.1:1 > 10.0.0.2:2${' vlan 1'.repeat(3000)}`, 1, 'the frame would be 12042 bytes; a test frame is at most 3520'],
  ];

  it.each(cases)('rejects %j at column %i: %s', (text, column, message) => {
    let error: unknown;
    try {
      parsePacket(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PacketSyntaxError);
    const syntax = error as PacketSyntaxError;
    expect(syntax.column).toBe(column);
    expect(syntax.reason).toContain(message);
    expect(syntax.message).toBe(`column ${column}: ${syntax.reason}`);
    expect(syntax.code).toBe('packet-syntax');
  });

  it('takes the largest frame a test run takes, and a frame cut to its Ethernet header', () => {
    expect(buildFrame(parsePacket('udp 10.0.0.1:1 > 10.0.0.2:2 len 3478')).length).toBe(MAX_TEST_FRAME);
    expect(buildFrame(parsePacket('udp 10.0.0.1:1 > 10.0.0.2:2 trunc 14')).length).toBe(14);
  });

  it('points a caret at the column in its excerpt', () => {
    try {
      parsePacket('tcp 10.0.0.1:1 > 10.0.0.2:2 flags Q');
      expect.unreachable();
    } catch (e) {
      expect((e as PacketSyntaxError).excerpt()).toBe(`tcp 10.0.0.1:1 > 10.0.0.2:2 flags Q\n${' '.repeat(34)}^`);
    }
  });
});

describe('name tables', () => {
  it('maps ICMP and ICMPv6 names to their numbers and back, per family', () => {
    expect(icmpTypeByName(4, 'echo-request')).toBe(8);
    expect(icmpTypeByName(6, 'echo-request')).toBe(128);
    expect(icmpTypeByName(6, 'ND-Neighbor-Solicit')).toBe(135);
    expect(icmpTypeByName(4, 'nd-neighbor-solicit')).toBeUndefined();
    expect(icmpTypeByName(4, 'constructor')).toBeUndefined();
    expect(icmpTypeName(4, 3)).toBe('destination-unreachable');
    expect(icmpTypeName(6, 132)).toBe('mld-listener-done');
    expect(icmpTypeName(6, 200)).toBeUndefined();
    expect(icmpTypeNames(6)).toContain('mld2-listener-report');
  });

  it('maps TCP flag names and letters to header bits and prints letters in FSRPAUEC order', () => {
    expect(tcpFlagByName('cwr')).toBe(0x80);
    expect(tcpFlagByLetter('u')).toBe(0x20);
    expect(tcpFlagByName('nope')).toBeUndefined();
    expect(tcpFlagLetters(0x12)).toBe('SA');
    expect(tcpFlagLetters(0xff)).toBe('FSRPAUEC');
    expect(tcpFlagNames(0x11)).toEqual(['fin', 'ack']);
  });
});
