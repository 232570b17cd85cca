/**
 * The cases of checks.test.ts for `protect`: the matches it refuses, and
 * every form of the lockout error (a rule, a named rule, a rule that drops
 * only when its tail holds, a connection state, the default), each with the
 * counterexample packet the proof gives.
 */
import { err, type Found } from './helpers.js';

const REMOVE = 'remove it: a protect names packets by their headers alone';
const SSH = 'protect tcp dport 22 src 192.0.2.0/24\n';
/** Keeps nd-dropped and no-return-traffic quiet in front of a `default drop`. */
const QUIET = '  allow icmpv6\n  allow ct state established\n';

export const LOCKOUT_CASES: { name: string; text: string; files?: Record<string, string>; expected: Found[] }[] = [
  {
    name: 'a protect refuses ct state, limit and dynamic sets, each saying why',
    text:
      'set banned dynamic timeout 10m\nprotect tcp ct state established\nprotect udp limit rate 10/second\nprotect src @banned\n' +
      'interface eth0 { allow src @banned }\n',
    expected: [
      err(
        'unprotectable-match',
        '2:13',
        "'ct state' cannot be protected: a packet's connection state is known only at run time, and the protected traffic must be allowed in every state",
        REMOVE,
      ),
      err(
        'unprotectable-match',
        '3:13',
        "'limit' cannot be protected: whether it holds depends on how fast packets arrive, and the protected traffic must be allowed at any rate",
        REMOVE,
      ),
      err(
        'unprotectable-match',
        '4:9',
        "'@banned' cannot be protected: it is a dynamic set, whose entries exist only at run time, and the protected traffic must be allowed whatever it holds",
        REMOVE,
      ),
    ],
  },
  {
    name: "a protect's matches get the checks a rule's get",
    text: 'protect dport 22 src 10.0.0.300\ninterface eth0 { allow tcp }\n',
    expected: [
      err(
        'port-without-protocol',
        '1:9',
        "'dport' needs 'tcp' or 'udp' in the same rule",
        "ports exist only in TCP and UDP headers: write 'tcp dport …' or 'udp dport …'",
      ),
      err(
        'invalid-address',
        '1:22',
        "invalid address '10.0.0.300'",
        'an IPv4 address is four numbers 0–255 separated by dots; e.g. 192.0.2.0/24, 198.51.100.7 or 2001:db8::/32',
      ),
    ],
  },
  {
    name: 'a protect that every interface allows compiles, though the allowing rules split it',
    text:
      SSH +
      'interface eth0 {\n' +
      QUIET +
      '  allow tcp dport 22 src 192.0.2.0/25\n  allow tcp dport 20-30 src ! 192.0.2.0/25\n  default drop\n}\n' +
      'interface eth1 {\n  drop udp\n  allow tcp flags syn / syn\n  allow tcp flags ack / syn,ack\n  drop tcp flags ack dport 22\n  allow tcp dport 22\n  drop ip4\n}\n',
    expected: [],
  },
  {
    name: 'a drop rule that takes part of the protected traffic is named, with a packet it drops',
    text: SSH + 'interface eth0 {\n  allow tcp dport 22 src 192.0.2.0/25\n  drop tcp src 192.0.2.128/26 name "lab"\n}\n',
    expected: [
      err(
        'lockout',
        '1:1',
        'interface \'eth0\' drops protected traffic: rule "lab" (drop tcp src 192.0.2.128/26 name "lab") at test.xdpfw:4:3 drops: tcp 192.0.2.128:0 > 0.0.0.0:22 flags none',
        'allow the protected traffic in a rule above test.xdpfw:4:3, or narrow that rule',
      ),
    ],
  },
  {
    name: 'what no rule allows meets the default, and the packet is one the rules left',
    text:
      SSH +
      'interface eth0 {\n' +
      QUIET +
      '  allow tcp dport 22 src 192.0.2.0/25\n  allow tcp dport 22 sport 1024-65535\n  default drop\n}\n',
    expected: [
      err(
        'lockout',
        '1:1',
        "interface 'eth0' drops protected traffic: 'default drop' at test.xdpfw:7:3 drops: tcp 192.0.2.128:0 > 0.0.0.0:22 flags none",
        "allow the protected traffic in a rule of interface 'eth0'",
      ),
    ],
  },
  {
    name: 'a drop rule on a connection state may drop, and an allow rule on one leaves the other states to later rules',
    text: SSH + 'interface eth0 {\n  allow ct state established\n  drop ct state invalid\n  allow tcp\n}\n',
    expected: [
      err(
        'lockout',
        '1:1',
        "interface 'eth0' drops protected traffic: rule 'drop ct state invalid' at test.xdpfw:4:3 drops: tcp 192.0.2.0:0 > 0.0.0.0:22 flags none ct invalid",
        'allow the protected traffic in a rule above test.xdpfw:4:3, or narrow that rule',
      ),
    ],
  },
  {
    name: 'an allow rule with a limit cannot be relied on, and a drop rule with one may drop',
    text:
      SSH +
      'interface eth0 {\n' +
      QUIET +
      '  allow tcp dport 22 limit rate 10/second\n  default drop\n}\n' +
      'interface eth1 {\n  drop tcp limit rate over 100/second\n  allow tcp\n}\n',
    expected: [
      err(
        'lockout',
        '1:1',
        "interface 'eth0' drops protected traffic: 'default drop' at test.xdpfw:6:3 drops: tcp 192.0.2.0:0 > 0.0.0.0:22 flags none",
        "allow the protected traffic in a rule of interface 'eth0'",
      ),
      err(
        'lockout',
        '1:1',
        "interface 'eth1' drops protected traffic: rule 'drop tcp limit rate over 100/second' at test.xdpfw:9:3, when its dynamic set or limit holds, drops: tcp 192.0.2.0:0 > 0.0.0.0:22 flags none",
        'allow the protected traffic in a rule above test.xdpfw:9:3, or narrow that rule',
      ),
    ],
  },
  {
    name: 'a protect of a whole source covers non-first fragments, which carry no ports',
    text: 'protect src 10.0.0.0/8\ninterface eth0 {\n  allow tcp dport 0-65535\n  drop tcp name "tcp-fragments"\n  allow\n}\n',
    expected: [
      err(
        'lockout',
        '1:1',
        'interface \'eth0\' drops protected traffic: rule "tcp-fragments" (drop tcp name "tcp-fragments") at test.xdpfw:4:3 drops: tcp 10.0.0.0:0 > 0.0.0.0:0 frag 1',
        'allow the protected traffic in a rule above test.xdpfw:4:3, or narrow that rule',
      ),
    ],
  },
  {
    name: 'an audit rule drops nothing, and neither does an interface in mode audit; the enforcing rule after them still counts',
    text:
      SSH +
      'interface eth0 {\n' +
      QUIET +
      '  audit drop tcp dport 22\n  allow tcp dport 22\n  default drop\n}\n' +
      'interface eth1 {\n  mode audit\n' +
      QUIET +
      '  drop tcp\n  default drop\n}\n' +
      'interface eth2 {\n  audit drop tcp\n  drop tcp dport 22 name "ssh-cut"\n}\n',
    expected: [
      err(
        'lockout',
        '1:1',
        'interface \'eth2\' drops protected traffic: rule "ssh-cut" (drop tcp dport 22 name "ssh-cut") at test.xdpfw:18:3 drops: tcp 192.0.2.0:0 > 0.0.0.0:22 flags none',
        'allow the protected traffic in a rule above test.xdpfw:18:3, or narrow that rule',
      ),
    ],
  },
];
