/**
 * IPv6 parsing (DESIGN "Packet semantics" 4, 5, 7): the payload length
 * bounding the datagram, extension headers (each kind, at most eight, cut
 * ones malformed), fragment headers, and the next headers that carry no
 * ICMP type.
 */
import { ALLOW_ALL, PARSING, RULE } from './policies.js';
import { edited, verdictTable, type VerdictCase } from './table.js';

const TCP_80 = 'tcp [2001:db8::1]:40000 > [2001:db8::2]:80';
const UDP_53 = 'udp [2001:db8::1]:5000 > [2001:db8::2]:53';
const ICMPV6_ECHO = 'icmpv6 2001:db8::1 > 2001:db8::2 type echo-request';
/** Offsets in the IPv6 header, and its length. */
const VERSION = 0;
const PAYLOAD_LENGTH = 4;
const IPV6_HEADER = 40;
/** Offset of the length byte in an extension header. */
const EXT_LENGTH = 1;

const header: VerdictCase[] = [
  {
    description: 'a plain IPv6 UDP packet is judged by its ports',
    policy: PARSING,
    packet: UDP_53,
    verdict: 'allow',
    matched: RULE.udpDport53,
    countsBytes: true,
  },
  {
    description: 'a frame cut inside the 40-byte IPv6 header is malformed',
    policy: ALLOW_ALL,
    packet: `${UDP_53} trunc 53`,
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'version 4 in an IPv6 ethertype is malformed',
    policy: ALLOW_ALL,
    packet: edited(UDP_53, (f) => f.set8(f.l3 + VERSION, 0x40)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a payload length longer than the frame is a truncated datagram: malformed',
    policy: ALLOW_ALL,
    packet: edited(UDP_53, (f) => f.set16(f.l3 + PAYLOAD_LENGTH, f.get16(f.l3 + PAYLOAD_LENGTH) + 1)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a zero payload length (jumbogram) lets the L4 header extend to the end of the frame',
    policy: PARSING,
    packet: edited(UDP_53, (f) => f.set16(f.l3 + PAYLOAD_LENGTH, 0)),
    verdict: 'allow',
    matched: RULE.udpDport53,
  },
  {
    description: 'bytes after the payload length are ignored',
    policy: PARSING,
    packet: edited(UDP_53, (f) => f.padTo(f.bytes.length + 6, 0xff)),
    verdict: 'allow',
    matched: RULE.udpDport53,
  },
  {
    description: 'a UDP header reaching past the payload length is malformed though the frame holds it',
    policy: PARSING,
    packet: edited(UDP_53, (f) => f.set16(f.l3 + PAYLOAD_LENGTH, 4)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a frame cut inside the TCP header is malformed',
    policy: ALLOW_ALL,
    packet: `${TCP_80} trunc 70`,
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'an IPv6 TCP data offset of 4 is malformed',
    policy: ALLOW_ALL,
    packet: edited(TCP_80, (f) => f.set8(f.l4 + 12, 0x40)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'an ICMPv6 header of 3 bytes, the payload ending there, is malformed',
    policy: PARSING,
    packet: edited(ICMPV6_ECHO, (f) => f.set16(f.l3 + PAYLOAD_LENGTH, 3).cut(f.l4 + 3)),
    verdict: 'drop',
    matched: 'malformed',
  },
];

const extensions: VerdictCase[] = [
  {
    description: 'a hop-by-hop options header is skipped before the ports are read',
    policy: PARSING,
    packet: `${TCP_80} ext hopopts`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'a routing header is skipped',
    policy: PARSING,
    packet: `${TCP_80} ext routing`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'a destination options header is skipped',
    policy: PARSING,
    packet: `${TCP_80} ext dstopts`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'an AH header is skipped by its length in 4-byte units plus 2',
    policy: PARSING,
    packet: `${TCP_80} ext ah`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'a longer hop-by-hop header is skipped by its length in 8-byte units plus 1',
    policy: PARSING,
    // The UDP header moves 8 bytes further; where it was, the hop-by-hop header now holds dport 9.
    packet: edited(`${UDP_53} ext hopopts len 8`, (f) => {
      f.set8(f.l3 + IPV6_HEADER + EXT_LENGTH, 1);
      f.bytes.copyWithin(f.l4 + 8, f.l4, f.l4 + 8);
      f.set16(f.l4 + 2, 9);
    }),
    verdict: 'allow',
    matched: RULE.udpDport53,
  },
  {
    description: 'eight extension headers are skipped',
    policy: PARSING,
    packet: `${TCP_80} ext hopopts,dstopts,routing,ah,dstopts,dstopts,dstopts,dstopts`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'a ninth extension header is malformed',
    policy: ALLOW_ALL,
    packet: `${TCP_80} ext hopopts,dstopts,routing,ah,dstopts,dstopts,dstopts,dstopts,dstopts`,
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a frame cut inside an extension header is malformed',
    policy: ALLOW_ALL,
    packet: `${TCP_80} ext hopopts trunc 58`,
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'an extension header whose length runs past the frame is malformed',
    policy: ALLOW_ALL,
    packet: edited(`${TCP_80} ext routing`, (f) => f.set8(f.l3 + IPV6_HEADER + EXT_LENGTH, 10)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'an extension header whose length runs past the payload length is malformed though the frame holds it',
    policy: ALLOW_ALL,
    packet: edited(`${UDP_53} ext routing`, (f) => f.set8(f.l3 + IPV6_HEADER + EXT_LENGTH, 2).padTo(f.bytes.length + 16)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'an extension header starting past the payload length is malformed though the frame holds it',
    policy: ALLOW_ALL,
    packet: edited(`${UDP_53} ext dstopts`, (f) => f.set16(f.l3 + PAYLOAD_LENGTH, 4)),
    verdict: 'drop',
    matched: 'malformed',
  },
];

const fragments: VerdictCase[] = [
  {
    description: 'an atomic fragment header (offset 0, no MF) is skipped and the ports are read',
    policy: PARSING,
    packet: `${TCP_80} ext fragment`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'a first fragment (offset 0, MF) has its ports read and is not counted as a fragment',
    policy: PARSING,
    packet: `${TCP_80} frag 0 mf len 16`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'a non-first IPv6 fragment has no ports: allow tcp matches it and the fragment counter moves',
    policy: PARSING,
    // The payload after the fragment header looks like ports 0 > 80: it must not be read as such.
    packet: edited(`${TCP_80} frag 20 mf len 16`, (f) => f.set16(f.l3 + 48, 0).set16(f.l3 + 50, 80)),
    verdict: 'allow',
    matched: RULE.tcp,
    fragment: true,
    countsBytes: true,
  },
  {
    description: 'a non-first IPv6 fragment is not matched by a dport rule, only by the default',
    policy: 'interface eth0 {\n  default drop\n  allow tcp dport 80\n}\n',
    packet: edited(`${TCP_80} frag 20 mf len 16`, (f) => f.set16(f.l3 + 48, 0).set16(f.l3 + 50, 80)),
    verdict: 'drop',
    matched: 'default',
    fragment: true,
  },
  {
    description: 'a non-first fragment after a hop-by-hop header is recognised',
    policy: PARSING,
    packet: `${UDP_53} ext hopopts frag 3 len 8`,
    verdict: 'allow',
    matched: RULE.udp,
    fragment: true,
  },
  {
    description: 'a non-first fragment header as the eighth extension header is recognised',
    policy: PARSING,
    packet: `${UDP_53} ext hopopts,dstopts,routing,ah,dstopts,dstopts,dstopts frag 3`,
    verdict: 'allow',
    matched: RULE.udp,
    fragment: true,
  },
  {
    description: 'a fragment header cut by the payload length is malformed',
    policy: ALLOW_ALL,
    packet: edited(`${UDP_53} frag 3 len 8`, (f) => f.set16(f.l3 + PAYLOAD_LENGTH, 6)),
    verdict: 'drop',
    matched: 'malformed',
  },
];

const NO_TYPE = `
interface eth0 {
  default drop
  drop  icmp type echo-request
  allow icmpv6 type echo-request
  allow ip6 proto 1
}
`;

const noType: VerdictCase[] = [
  {
    description: 'ICMP carried by IPv6 (next header 1) has no type field: an empty one is not malformed',
    policy: NO_TYPE,
    packet: 'proto 1 2001:db8::1 > 2001:db8::2',
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'an ICMPv6 echo request behind an extension header is matched by its type',
    policy: NO_TYPE,
    packet: `${ICMPV6_ECHO} ext dstopts`,
    verdict: 'allow',
    matched: 1,
  },
];

verdictTable('IPv6 parsing in the kernel', [...header, ...extensions, ...fragments, ...noType]);
