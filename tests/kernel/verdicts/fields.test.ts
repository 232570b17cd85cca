/**
 * Protocol, family, port, TCP flag and ICMP type matches in the kernel, with
 * the boundaries of each value space (ports 0 and 65535, range ends) and
 * the packets that must fall through to the default.
 */
import { verdictTable, type VerdictCase } from './table.js';

const PROTOCOLS = `
interface eth0 {
  default drop
  allow tcp
  allow udp
  allow icmp
  allow icmpv6
  allow proto 47
  allow ip6 proto 1
  allow ip4 proto 58
}
`;

const protocols: VerdictCase[] = [
  {
    description: 'tcp matches an IPv4 TCP packet',
    policy: PROTOCOLS,
    packet: 'tcp 198.51.100.1:40000 > 192.0.2.1:80',
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'tcp matches an IPv6 TCP packet',
    policy: PROTOCOLS,
    packet: 'tcp [2001:db8::1]:40000 > [2001:db8::2]:80',
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'udp matches an IPv6 UDP packet',
    policy: PROTOCOLS,
    packet: 'udp [2001:db8::1]:5000 > [2001:db8::2]:53',
    verdict: 'allow',
    matched: 1,
  },
  {
    description: 'icmp matches an IPv4 ICMP packet',
    policy: PROTOCOLS,
    packet: 'icmp 198.51.100.1 > 192.0.2.1 type echo-request',
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'icmpv6 matches an IPv6 ICMPv6 packet',
    policy: PROTOCOLS,
    packet: 'icmpv6 2001:db8::1 > 2001:db8::2 type echo-request',
    verdict: 'allow',
    matched: 3,
  },
  {
    description: 'proto 47 matches GRE over IPv4',
    policy: PROTOCOLS,
    packet: 'proto 47 198.51.100.1 > 192.0.2.1 len 4',
    verdict: 'allow',
    matched: 4,
  },
  {
    description: 'proto 47 matches GRE over IPv6',
    policy: PROTOCOLS,
    packet: 'proto 47 2001:db8::1 > 2001:db8::2 len 4',
    verdict: 'allow',
    matched: 4,
  },
  {
    description: 'a protocol no rule names falls through to the default',
    policy: PROTOCOLS,
    packet: 'proto 50 198.51.100.1 > 192.0.2.1 len 8',
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'ip6 proto 1 matches ICMP carried by IPv6, which icmp (IPv4 only) does not',
    policy: PROTOCOLS,
    packet: 'proto 1 2001:db8::1 > 2001:db8::2 len 8',
    verdict: 'allow',
    matched: 5,
  },
  {
    description: 'ip4 proto 58 matches ICMPv6 carried by IPv4, which icmpv6 (IPv6 only) does not',
    policy: PROTOCOLS,
    packet: 'proto 58 198.51.100.1 > 192.0.2.1 len 8',
    verdict: 'allow',
    matched: 6,
  },
];

const FAMILIES = `
interface eth0 {
  allow ip6
  drop  ip4 udp
}
`;

const families: VerdictCase[] = [
  {
    description: 'ip6 matches any IPv6 packet',
    policy: FAMILIES,
    packet: 'udp [2001:db8::1]:5000 > [2001:db8::2]:53',
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'ip4 udp matches an IPv4 UDP packet',
    policy: FAMILIES,
    packet: 'udp 198.51.100.1:5000 > 192.0.2.1:53',
    verdict: 'drop',
    matched: 1,
  },
  {
    description: 'ip4 udp does not match an IPv4 TCP packet, which the implicit default allows',
    policy: FAMILIES,
    packet: 'tcp 198.51.100.1:5000 > 192.0.2.1:53',
    verdict: 'allow',
    matched: 'default',
  },
];

const PORTS = `
define web = { 80, 443 }
define ephemeral = 49152-65535
interface eth0 {
  default drop
  allow tcp dport 0
  allow udp sport 65535
  allow tcp dport 1000-1999
  allow udp dport { 53, 123, 5000-5010 }
  allow tcp dport $web
  allow tcp sport $ephemeral dport 3000
  allow udp dport 60000-65535
}
`;

const tcp4 = (sport: number, dport: number) => `tcp 198.51.100.1:${sport} > 192.0.2.1:${dport}`;
const udp4 = (sport: number, dport: number) => `udp 198.51.100.1:${sport} > 192.0.2.1:${dport}`;

const ports: VerdictCase[] = [
  { description: 'dport 0 matches port 0', policy: PORTS, packet: tcp4(40000, 0), verdict: 'allow', matched: 0 },
  {
    description: 'sport 65535 matches port 65535',
    policy: PORTS,
    packet: udp4(65535, 9),
    verdict: 'allow',
    matched: 1,
  },
  {
    description: 'sport 65535 does not match port 65534',
    policy: PORTS,
    packet: udp4(65534, 9),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a port range does not match the port below its low end',
    policy: PORTS,
    packet: tcp4(40000, 999),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a port range matches its low end',
    policy: PORTS,
    packet: tcp4(40000, 1000),
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'a port range matches its high end',
    policy: PORTS,
    packet: tcp4(40000, 1999),
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'a port range does not match the port above its high end',
    policy: PORTS,
    packet: tcp4(40000, 2000),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a port list matches one of its ports',
    policy: PORTS,
    packet: udp4(40000, 123),
    verdict: 'allow',
    matched: 3,
  },
  {
    description: 'a port list matches the high end of a range in it',
    policy: PORTS,
    packet: udp4(40000, 5010),
    verdict: 'allow',
    matched: 3,
  },
  {
    description: 'a port list does not match a port just past a range in it',
    policy: PORTS,
    packet: udp4(40000, 5011),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a udp port match does not match TCP to the same port',
    policy: PORTS,
    packet: tcp4(40000, 53),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a define of ports matches one of its ports',
    policy: PORTS,
    packet: tcp4(40000, 443),
    verdict: 'allow',
    matched: 4,
  },
  {
    description: 'sport and dport must both hold: the low end of a range define with the right dport matches',
    policy: PORTS,
    packet: tcp4(49152, 3000),
    verdict: 'allow',
    matched: 5,
  },
  {
    description: 'sport and dport must both hold: a sport below the range does not match',
    policy: PORTS,
    packet: tcp4(49151, 3000),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'sport and dport must both hold: the right sport with another dport does not match',
    policy: PORTS,
    packet: tcp4(65535, 3001),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a port range ending at 65535 matches port 65535',
    policy: PORTS,
    packet: udp4(40000, 65535),
    verdict: 'allow',
    matched: 6,
  },
];

const FLAGS = `
interface eth0 {
  default drop
  allow tcp flags syn / syn,ack dport 22
  allow tcp flags syn dport 80
  allow tcp flags fin,ack dport 443
  allow tcp flags none / fin,syn,rst,psh,ack,urg dport 444
}
`;

const flags: VerdictCase[] = [
  {
    description: 'flags syn / syn,ack matches a SYN',
    policy: FLAGS,
    packet: `${tcp4(40000, 22)} flags S`,
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'flags syn / syn,ack does not match a SYN-ACK',
    policy: FLAGS,
    packet: `${tcp4(40000, 22)} flags syn,ack`,
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'flags syn / syn,ack ignores flags outside its mask: an ECN-setup SYN (ECE, CWR) matches',
    policy: FLAGS,
    packet: `${tcp4(40000, 22)} flags SEC`,
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'flags syn matches a SYN',
    policy: FLAGS,
    packet: `${tcp4(40000, 80)} flags S`,
    verdict: 'allow',
    matched: 1,
  },
  {
    description: 'flags syn (no mask) also matches a SYN-ACK',
    policy: FLAGS,
    packet: `${tcp4(40000, 80)} flags SA`,
    verdict: 'allow',
    matched: 1,
  },
  {
    description: 'flags syn does not match a bare ACK',
    policy: FLAGS,
    packet: `${tcp4(40000, 80)} flags A`,
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'flags fin,ack matches FIN-ACK with PSH set as well',
    policy: FLAGS,
    packet: `${tcp4(40000, 443)} flags FPA`,
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'flags fin,ack does not match a FIN without ACK',
    policy: FLAGS,
    packet: `${tcp4(40000, 443)} flags F`,
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'flags none / fin,syn,rst,psh,ack,urg matches a null-scan packet (no flag set)',
    policy: FLAGS,
    packet: `${tcp4(40000, 444)} flags none`,
    verdict: 'allow',
    matched: 3,
  },
  {
    description: 'flags none / fin,syn,rst,psh,ack,urg ignores ECE and CWR, outside its mask',
    policy: FLAGS,
    packet: `${tcp4(40000, 444)} flags EC`,
    verdict: 'allow',
    matched: 3,
  },
  {
    description: 'flags none / fin,syn,rst,psh,ack,urg does not match a SYN',
    policy: FLAGS,
    packet: `${tcp4(40000, 444)} flags S`,
    verdict: 'drop',
    matched: 'default',
  },
];

const ICMP_TYPES = `
interface eth0 {
  default drop
  allow icmp type echo-request
  allow icmp type 3
  allow icmpv6 type nd-neighbor-solicit
  allow icmpv6 type 128
  allow icmpv6 type { packet-too-big, 129 }
}
`;

const icmp4 = (type: string) => `icmp 198.51.100.1 > 192.0.2.1 type ${type}`;
const icmp6 = (type: string) => `icmpv6 2001:db8::1 > 2001:db8::2 type ${type}`;

const icmpTypes: VerdictCase[] = [
  {
    description: 'icmp type by name matches that type',
    policy: ICMP_TYPES,
    packet: icmp4('echo-request'),
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'icmp type echo-request does not match an echo reply',
    policy: ICMP_TYPES,
    packet: icmp4('echo-reply'),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'icmp type by number matches that type',
    policy: ICMP_TYPES,
    packet: icmp4('destination-unreachable'),
    verdict: 'allow',
    matched: 1,
  },
  {
    description: 'icmpv6 type by name matches that type',
    policy: ICMP_TYPES,
    packet: icmp6('135'),
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'icmpv6 type by number matches that type',
    policy: ICMP_TYPES,
    packet: icmp6('echo-request'),
    verdict: 'allow',
    matched: 3,
  },
  {
    description: 'icmpv6 type list matches a number in it',
    policy: ICMP_TYPES,
    packet: icmp6('echo-reply'),
    verdict: 'allow',
    matched: 4,
  },
  {
    description: "icmpv6 types do not match ICMPv6 carrying IPv4's echo-request number",
    policy: ICMP_TYPES,
    packet: icmp6('8'),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: "icmp types do not match ICMP carrying ICMPv6's echo-request number",
    policy: ICMP_TYPES,
    packet: icmp4('128'),
    verdict: 'drop',
    matched: 'default',
  },
];

verdictTable('protocol, port, flag and type matches in the kernel', [...protocols, ...families, ...ports, ...flags, ...icmpTypes]);
