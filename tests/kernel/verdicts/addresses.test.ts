/**
 * Address matches in the kernel: host addresses, CIDRs, inline sets, named
 * sets (inline and from a file), defines, negation, and sets that mix IPv4
 * and IPv6; and one prefix per match, which the linear path compares by mask
 * (IPv6 cut inside a word, at the halves' edge, /128 and /0). Packets go to
 * or come from addresses no other rule names, so the rule that decides is
 * the one under test.
 */
import { verdictTable, type VerdictCase } from './table.js';

const ADDRESSES = `
set trusted { 192.0.2.64/26, 2001:db8:64::/48 }
set bogons from "bogons.txt"
define admins = { 198.51.100.10, 2001:db8:a::/64 }
interface eth0 {
  default drop
  allow src 192.0.2.1
  allow dst 198.51.100.0/24
  allow src { 203.0.113.0/28, 2001:db8:f::/48 }
  allow src @trusted
  allow src $admins
  drop  src @bogons
  allow dst 2001:db8:d::1
}
`;
const BOGONS = '# shared address space and unique local addresses\n100.64.0.0/10\nfc00::/7\n';
const files = { 'bogons.txt': BOGONS };

/** A v4 TCP packet from `src` to an address no rule names. */
const from4 = (src: string) => `tcp ${src}:40000 > 10.9.9.9:80`;
const from6 = (src: string) => `tcp [${src}]:40000 > [2001:db8:ffff::9]:80`;

const matches: VerdictCase[] = [
  {
    description: 'a host address matches a packet from exactly that address',
    policy: ADDRESSES,
    files,
    packet: from4('192.0.2.1'),
    verdict: 'allow',
    matched: 0,
    countsBytes: true,
  },
  {
    description: 'a host address does not match its neighbour',
    policy: ADDRESSES,
    files,
    packet: from4('192.0.2.2'),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a destination CIDR matches any address inside it',
    policy: ADDRESSES,
    files,
    packet: 'udp 10.1.1.1:5000 > 198.51.100.255:53',
    verdict: 'allow',
    matched: 1,
  },
  {
    description: 'a destination CIDR does not match the address just past it',
    policy: ADDRESSES,
    files,
    packet: 'udp 10.1.1.1:5000 > 198.51.101.0:53',
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a destination CIDR is not a source match: a packet from inside it is not matched',
    policy: ADDRESSES,
    files,
    packet: from4('198.51.100.77'),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'an inline set matches the last address of its IPv4 /28',
    policy: ADDRESSES,
    files,
    packet: from4('203.0.113.15'),
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'an inline set does not match the first address after its IPv4 /28',
    policy: ADDRESSES,
    files,
    packet: from4('203.0.113.16'),
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'an inline set mixing families matches an IPv6 packet from its IPv6 prefix',
    policy: ADDRESSES,
    files,
    packet: from6('2001:db8:f:1::5'),
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'a named set matches an IPv4 packet from one of its prefixes',
    policy: ADDRESSES,
    files,
    packet: from4('192.0.2.127'),
    verdict: 'allow',
    matched: 3,
  },
  {
    description: 'a named set matches an IPv6 packet from its IPv6 prefix',
    policy: ADDRESSES,
    files,
    packet: from6('2001:db8:64:ffff::1'),
    verdict: 'allow',
    matched: 3,
  },
  {
    description: 'a define of addresses matches its IPv4 host',
    policy: ADDRESSES,
    files,
    packet: from4('198.51.100.10'),
    verdict: 'allow',
    matched: 4,
  },
  {
    description: 'a define of addresses matches inside its IPv6 prefix',
    policy: ADDRESSES,
    files,
    packet: from6('2001:db8:a::99'),
    verdict: 'allow',
    matched: 4,
  },
  {
    description: 'a set read from a file drops an IPv4 packet from one of its prefixes',
    policy: ADDRESSES,
    files,
    packet: from4('100.127.255.254'),
    verdict: 'drop',
    matched: 5,
  },
  {
    description: 'a set read from a file drops an IPv6 packet from one of its prefixes',
    policy: ADDRESSES,
    files,
    packet: from6('fd00::1'),
    verdict: 'drop',
    matched: 5,
  },
  {
    description: 'an IPv6 destination host matches exactly that address',
    policy: ADDRESSES,
    files,
    packet: 'udp [2001:db8::1]:5000 > [2001:db8:d::1]:53',
    verdict: 'allow',
    matched: 6,
  },
  {
    description: 'an IPv6 destination host does not match its neighbour',
    policy: ADDRESSES,
    files,
    packet: 'udp [2001:db8::1]:5000 > [2001:db8:d::2]:53',
    verdict: 'drop',
    matched: 'default',
  },
];

const NEGATION = `
interface eth0 {
  default drop
  allow tcp src ! 10.0.0.0/8
  allow udp dst ! 2001:db8::/32
  allow proto 47 src ! { 192.0.2.0/24, 2001:db8:1::/48 }
}
`;

const negation: VerdictCase[] = [
  {
    description: 'a negated IPv4 prefix matches an IPv4 packet from outside it',
    policy: NEGATION,
    packet: 'tcp 198.51.100.1:40000 > 192.0.2.1:80',
    verdict: 'allow',
    matched: 0,
  },
  {
    description: 'a negated IPv4 prefix does not match an IPv4 packet from inside it',
    policy: NEGATION,
    packet: 'tcp 10.2.3.4:40000 > 192.0.2.1:80',
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a negated IPv4 prefix never matches an IPv6 packet',
    policy: NEGATION,
    packet: 'tcp [2001:db8:9::1]:40000 > [2001:db8::2]:80',
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a negated IPv6 prefix matches an IPv6 packet to outside it',
    policy: NEGATION,
    packet: 'udp [2001:db8::1]:5000 > [2001:db9::1]:53',
    verdict: 'allow',
    matched: 1,
  },
  {
    description: 'a negated IPv6 prefix does not match an IPv6 packet to inside it',
    policy: NEGATION,
    packet: 'udp [2001:db9::1]:5000 > [2001:db8:ffff::1]:53',
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a negated IPv6 prefix never matches an IPv4 packet',
    policy: NEGATION,
    packet: 'udp 198.51.100.1:5000 > 192.0.2.1:53',
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a negated mixed-family set matches an IPv4 packet outside its IPv4 prefix',
    policy: NEGATION,
    packet: 'proto 47 198.51.100.1 > 192.0.2.1',
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'a negated mixed-family set does not match an IPv4 packet inside its IPv4 prefix',
    policy: NEGATION,
    packet: 'proto 47 192.0.2.5 > 198.51.100.1',
    verdict: 'drop',
    matched: 'default',
  },
  {
    description: 'a negated mixed-family set matches an IPv6 packet outside its IPv6 prefix',
    policy: NEGATION,
    packet: 'proto 47 2001:db8:2::1 > 2001:db8::2',
    verdict: 'allow',
    matched: 2,
  },
  {
    description: 'a negated mixed-family set does not match an IPv6 packet inside its IPv6 prefix',
    policy: NEGATION,
    packet: 'proto 47 2001:db8:1::7 > 2001:db8::2',
    verdict: 'drop',
    matched: 'default',
  },
];

/** One prefix per match (the linear path takes this policy). */
const SINGLE = `
interface eth0 {
  default allow
  allow tcp src ! 10.0.0.0/8
  allow udp dst ! 2001:db8::/32
  drop  src 198.51.100.128/25 dst 192.0.2.7
  drop  src 2001:db8:8000::/33
  drop  dst 2001:db8:1:2::/64
  drop  src ::/0 dst 2001:db8::1:5
  drop  dst 0.0.0.0/0
}
`;

const single: VerdictCase[] = [
  ...[
    ['one negated IPv4 prefix holds for a source outside it', 'tcp 198.51.100.1:40000 > 192.0.2.1:80', 0],
    ['one negated IPv4 prefix fails for a source inside it (and /0 takes any IPv4 packet)', 'tcp 10.2.3.4:40000 > 192.0.2.1:80', 6],
    ['one negated IPv4 prefix fails for any IPv6 packet', 'tcp [2001:db8:9::1]:40000 > [2001:db8::2]:80', 'default'],
    ['one negated IPv6 prefix holds for a destination outside it', 'udp [2001:db8::1]:5000 > [2001:db9::1]:53', 1],
    ['one negated IPv6 prefix fails for a destination inside it', 'udp [2001:db9::1]:5000 > [2001:db8:ffff::1]:53', 'default'],
    ['one negated IPv6 prefix fails for any IPv4 packet', 'udp 198.51.100.1:5000 > 10.0.0.1:53', 6],
    ['a /25 source and a host destination both hold', 'udp 198.51.100.200:1 > 192.0.2.7:2', 2],
    ['a /25 source fails for the address just below it', 'udp 198.51.100.127:1 > 192.0.2.7:2', 6],
    ['a /33 source holds when bit 33 is set', 'tcp [2001:db8:8000::1]:1 > [2001:db8::9]:2', 3],
    ['a /33 source fails when bit 33 is clear', 'tcp [2001:db8:7fff::1]:1 > [2001:db8::9]:2', 'default'],
    ['a /64 destination holds anywhere in its low half', 'tcp [2001:db8::1]:1 > [2001:db8:1:2:ffff::1]:2', 4],
    ['a /64 destination fails for the next /64', 'tcp [2001:db8::1]:1 > [2001:db8:1:3::1]:2', 'default'],
    ['::/0 holds for any IPv6 source, a /128 only for its address', 'tcp [2001:db8::1]:1 > [2001:db8::1:5]:2', 5],
    ['a /128 fails for an address differing in its last bit', 'tcp [2001:db8::1]:1 > [2001:db8::1:4]:2', 'default'],
    ['a /128 fails for an address differing in its first half only', 'tcp [2001:db8::1]:1 > [2001:db9::1:5]:2', 'default'],
  ].map(([description, packet, matched]): VerdictCase => ({
    description: description as string,
    policy: SINGLE,
    packet: packet as string,
    verdict: matched === 'default' || matched === 0 || matched === 1 ? 'allow' : 'drop',
    matched: matched as VerdictCase['matched'],
  })),
];

verdictTable('address matches in the kernel', [...matches, ...negation, ...single]);
