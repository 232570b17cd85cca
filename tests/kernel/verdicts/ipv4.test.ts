/**
 * IPv4 parsing (DESIGN "Packet semantics" 3, 5, 7): header checks, options,
 * the total length bounding the datagram (Ethernet padding after it is
 * ignored, an L4 header reaching into it is malformed), truncated L4
 * headers, and fragments.
 */
import { ALLOW_ALL, PARSING, RULE } from './policies.js';
import { edited, verdictTable, type VerdictCase } from './table.js';

const TCP_80 = 'tcp 198.51.100.1:40000 > 192.0.2.1:80';
const UDP_53 = 'udp 198.51.100.1:5000 > 192.0.2.1:53';
const ICMP_ECHO = 'icmp 198.51.100.1 > 192.0.2.1 type echo-request';
/** Offsets in the IPv4 header. */
const VERSION_IHL = 0;
const TOTAL_LENGTH = 2;
/** Offset of the data offset nibble in the TCP header. */
const TCP_DATA_OFFSET = 12;
/** The shortest Ethernet frame without FCS: shorter ones are padded. */
const MIN_FRAME = 60;

const header: VerdictCase[] = [
  {
    description: 'IPv4 options are skipped by IHL before the ports are read',
    policy: PARSING,
    packet: `${TCP_80} ipopt 4`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'the longest IPv4 header (IHL 15, 40 bytes of options) is skipped',
    policy: PARSING,
    packet: `${UDP_53} ipopt 40`,
    verdict: 'allow',
    matched: RULE.udpDport53,
  },
  {
    description: 'an IHL below 5 is malformed',
    policy: ALLOW_ALL,
    packet: edited(TCP_80, (f) => f.set8(f.l3 + VERSION_IHL, 0x44)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a header cut inside its options is malformed',
    policy: ALLOW_ALL,
    packet: `proto 47 198.51.100.1 > 192.0.2.1 ipopt 40 trunc 50`,
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'version 6 in an IPv4 ethertype is malformed',
    policy: ALLOW_ALL,
    packet: edited(TCP_80, (f) => f.set8(f.l3 + VERSION_IHL, 0x65)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a frame shorter than the 20-byte IPv4 header is malformed',
    policy: ALLOW_ALL,
    packet: `${TCP_80} trunc 33`,
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a total length shorter than the 20-byte header is malformed',
    policy: ALLOW_ALL,
    packet: edited(TCP_80, (f) => f.set16(f.l3 + TOTAL_LENGTH, 19)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a total length shorter than the header with its options is malformed',
    policy: ALLOW_ALL,
    packet: edited(`${TCP_80} ipopt 4`, (f) => f.set16(f.l3 + TOTAL_LENGTH, 22)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a total length longer than the frame is a truncated datagram: malformed',
    policy: ALLOW_ALL,
    packet: edited(TCP_80, (f) => f.set16(f.l3 + TOTAL_LENGTH, f.get16(f.l3 + TOTAL_LENGTH) + 1)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a datagram of a protocol without L4 fields may end right after its header',
    policy: PARSING,
    packet: 'proto 47 198.51.100.1 > 192.0.2.1',
    verdict: 'allow',
    matched: RULE.gre,
  },
];

const transport: VerdictCase[] = [
  {
    description: 'a frame cut inside the TCP header (total length intact) is malformed',
    policy: ALLOW_ALL,
    packet: `${TCP_80} trunc 50`,
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a TCP header of 19 bytes, the datagram ending there, is malformed',
    policy: PARSING,
    packet: edited(TCP_80, (f) => f.set16(f.l3 + TOTAL_LENGTH, 20 + 19).cut(f.l4 + 19)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a UDP header of 7 bytes, the datagram ending there, is malformed',
    policy: PARSING,
    packet: edited(UDP_53, (f) => f.set16(f.l3 + TOTAL_LENGTH, 20 + 7).cut(f.l4 + 7)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'an ICMP header of 3 bytes, the datagram ending there, is malformed',
    policy: PARSING,
    packet: edited(ICMP_ECHO, (f) => f.set16(f.l3 + TOTAL_LENGTH, 20 + 3).cut(f.l4 + 3)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a TCP data offset of 4 is malformed',
    policy: ALLOW_ALL,
    packet: edited(TCP_80, (f) => f.set8(f.l4 + TCP_DATA_OFFSET, 0x40)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a TCP data offset above 5 (options follow) is read like any other',
    policy: PARSING,
    packet: edited(`${TCP_80} len 4`, (f) => f.set8(f.l4 + TCP_DATA_OFFSET, 0x60)),
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'Ethernet padding after a short IPv4 datagram is ignored and counted in its bytes',
    policy: PARSING,
    packet: edited(UDP_53, (f) => f.padTo(MIN_FRAME)),
    verdict: 'allow',
    matched: RULE.udpDport53,
    countsBytes: true,
  },
  {
    description: 'a UDP header reaching past the total length into Ethernet padding is malformed',
    policy: PARSING,
    packet: edited(UDP_53, (f) => f.set16(f.l3 + TOTAL_LENGTH, 20 + 4).padTo(MIN_FRAME)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a TCP header reaching past the total length into Ethernet padding is malformed',
    policy: PARSING,
    packet: edited(TCP_80, (f) => f.set16(f.l3 + TOTAL_LENGTH, 20 + 10).padTo(MIN_FRAME)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'an ICMP type lying in Ethernet padding after the datagram is malformed',
    policy: PARSING,
    packet: edited(ICMP_ECHO, (f) => f.set16(f.l3 + TOTAL_LENGTH, 20).padTo(MIN_FRAME)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'ICMPv6 carried by IPv4 has no type field: an empty one is not malformed',
    policy: ALLOW_ALL,
    packet: 'proto 58 198.51.100.1 > 192.0.2.1',
    verdict: 'allow',
    matched: 0,
  },
];

const fragments: VerdictCase[] = [
  {
    description: 'a first fragment has its ports read and is not counted as a fragment',
    policy: PARSING,
    packet: `${TCP_80} frag 0 mf len 16`,
    verdict: 'allow',
    matched: RULE.tcpDport80,
  },
  {
    description: 'a first fragment with a TCP header cut by its total length is malformed',
    policy: PARSING,
    packet: edited(`${TCP_80} frag 0 mf`, (f) => f.set16(f.l3 + TOTAL_LENGTH, 20 + 16).cut(f.l4 + 16)),
    verdict: 'drop',
    matched: 'malformed',
  },
  {
    description: 'a non-first TCP fragment has no ports: allow tcp matches it and the fragment counter moves',
    policy: PARSING,
    // The payload's first bytes look like ports 0 > 80: they must not be read as such.
    packet: edited(`${TCP_80} frag 100 mf len 16`, (f) => f.set16(f.l3 + 20, 0).set16(f.l3 + 22, 80)),
    verdict: 'allow',
    matched: RULE.tcp,
    fragment: true,
    countsBytes: true,
  },
  {
    description: 'a non-first TCP fragment is not matched by a dport rule, only by the default',
    policy: 'interface eth0 {\n  default drop\n  allow tcp dport 80\n}\n',
    packet: edited(`${TCP_80} frag 100 mf len 16`, (f) => f.set16(f.l3 + 20, 0).set16(f.l3 + 22, 80)),
    verdict: 'drop',
    matched: 'default',
    fragment: true,
  },
  {
    description: 'a non-first TCP fragment has no flags: a flags rule does not match it',
    policy: 'interface eth0 {\n  default drop\n  allow tcp flags syn\n}\n',
    // Where a TCP header's flags byte would be, the payload has SYN set.
    packet: edited(`${TCP_80} frag 100 mf len 20`, (f) => f.set8(f.l3 + 20 + 13, 0x02)),
    verdict: 'drop',
    matched: 'default',
    fragment: true,
  },
  {
    description: 'a last fragment (offset set, MF clear) is a non-first fragment too',
    policy: PARSING,
    packet: `${UDP_53} frag 5 len 8`,
    verdict: 'allow',
    matched: RULE.udp,
    fragment: true,
  },
  {
    description: 'a non-first fragment needs no L4 bytes at all',
    policy: PARSING,
    packet: `${TCP_80} frag 9`,
    verdict: 'allow',
    matched: RULE.tcp,
    fragment: true,
  },
  {
    description: 'a non-first fragment has no ports, not even for a rule taking every port from 0',
    policy: 'interface eth0 {\n  default drop\n  allow udp dport 0-65535\n}\n',
    packet: `${UDP_53} frag 5 len 8`,
    verdict: 'drop',
    matched: 'default',
    fragment: true,
  },
  {
    description: 'a non-first ICMP fragment has no type, not even type 0 (echo-reply)',
    policy: 'interface eth0 {\n  default drop\n  allow icmp type echo-reply\n}\n',
    packet: `${ICMP_ECHO} frag 10 len 8`,
    verdict: 'drop',
    matched: 'default',
    fragment: true,
  },
  {
    description: 'a non-first ICMP fragment has no type: icmp matches it, icmp type echo-request does not',
    policy: PARSING,
    packet: `${ICMP_ECHO} frag 10 len 8`,
    verdict: 'allow',
    matched: RULE.icmp,
    fragment: true,
  },
];

verdictTable('IPv4 parsing in the kernel', [...header, ...transport, ...fragments]);
