/**
 * The cases of checks.test.ts for `ct state` and the `conntrack` block:
 * every message of their codes, located, with its hint.
 */
import { err, warn, type Found } from './helpers.js';

const STATES = 'connection states: new, established, related, invalid';
const DURATION = 'a duration is a number with a unit: s, m, h or d (30s, 10m, 6h, 2d), or plain seconds';
const OPTIONS = 'conntrack options: size, flood-threshold, tcp-syn, tcp-established, tcp-close, udp, udp-stream, icmp';
const SIZE_HINT = "size is the TCP table's entries; the UDP and ICMP tables get a quarter of it";
const FLOOD_HINT = 'flood-threshold is half-open connections a second for the host, shared among its CPUs';
/** Allows replies, so that a case's only finding is its own. */
const IFACE = 'interface eth0 { allow ct state established }\n';

export const CONNTRACK_CASES: { name: string; text: string; files?: Record<string, string>; expected: Found[] }[] = [
  {
    name: 'an unknown ct state is named, with the closest state and the list of states',
    text: 'interface eth0 {\n  allow ct state establised,related\n  drop ct state bogus\n}\n',
    expected: [
      err('unknown-ct-state', '2:18', "unknown connection state 'establised' (did you mean 'established'?)", STATES),
      err('unknown-ct-state', '3:17', "unknown connection state 'bogus'", STATES),
    ],
  },
  {
    name: 'a state listed twice is a warning at the repetition',
    text: 'interface eth0 {\n  allow ct state new,established,new\n}\n',
    expected: [warn('duplicate-ct-state', '2:34', "connection state 'new' is listed twice", 'remove one of them')],
  },
  {
    name: 'ct state twice in one rule is a duplicate match',
    text: 'interface eth0 {\n  allow ct state new ct state established\n}\n',
    expected: [err('duplicate-match', '2:22', "'ct state' appears twice in this rule (first at column 9)", 'remove one of them')],
  },
  {
    name: 'a second conntrack block, also one from an included file, points at the first',
    text: `conntrack { size 4096 }\ninclude "ct.xdpfw"\n${IFACE}`,
    files: { 'ct.xdpfw': '# host settings\nconntrack {\n  udp 1m\n}\n' },
    expected: [
      err(
        'duplicate-conntrack',
        'ct.xdpfw:2:1',
        'the policy already has a conntrack block (test.xdpfw:1:1)',
        'connection tracking is set once for the host: merge the blocks into one',
      ),
    ],
  },
  {
    name: 'an unknown option is named with the closest one, and a repeated option points at the first',
    text: `conntrack {\n  tcp-establish 1h\n  udp 30s; udp 40s\n}\n${IFACE}`,
    expected: [
      err('conntrack-option', '2:3', "unknown conntrack option 'tcp-establish' (did you mean 'tcp-established'?)", OPTIONS),
      err('conntrack-option', '3:12', "'udp' is set twice in this block (first at line 3)", 'keep one of them'),
    ],
  },
  {
    name: 'a duration that is zero, has an unknown unit or is longer than 30 days is bad',
    text: `conntrack {\n  tcp-syn 0s\n  tcp-close 10sec\n  tcp-established 31d\n  udp 0\n  icmp 2592001\n  udp-stream 720h\n}\n${IFACE}`,
    expected: [
      err('bad-duration', '2:11', "tcp-syn: '0s' is zero: a duration is at least 1s", DURATION),
      err('bad-duration', '3:13', "tcp-close: '10sec' has an unknown unit 'sec'", DURATION),
      err('bad-duration', '4:19', "tcp-established: '31d' is longer than 30d", DURATION),
      err('bad-duration', '5:7', "udp: '0' is zero: a duration is at least 1s", DURATION),
      err('bad-duration', '6:8', "icmp: '2592001' is longer than 30d", DURATION),
    ],
  },
  {
    name: 'a size out of 1,024 … 16,777,216, or written as a duration, is refused',
    text: `conntrack { size 1023 }\n${IFACE}`,
    expected: [err('conntrack-size', '1:18', 'size 1023 is out of range (1,024 … 16,777,216)', SIZE_HINT)],
  },
  {
    name: 'a size above the range is refused too',
    text: `conntrack {\n  size 16777217\n}\n${IFACE}`,
    expected: [err('conntrack-size', '2:8', 'size 16777217 is out of range (1,024 … 16,777,216)', SIZE_HINT)],
  },
  {
    name: 'a size written as a duration is refused',
    text: `conntrack { size 10s }\n${IFACE}`,
    expected: [err('conntrack-size', '1:18', 'size is a number of entries, not a duration', 'write a number 1,024 … 16,777,216')],
  },
  {
    name: 'a flood-threshold out of 100 … 100,000,000 is refused',
    text: `conntrack { flood-threshold 99; size 4096 }\n${IFACE}`,
    expected: [err('flood-threshold', '1:29', 'flood-threshold 99 is out of range (100 … 100,000,000)', FLOOD_HINT)],
  },
  {
    name: 'a flood-threshold written as a duration is refused',
    text: `conntrack {\n  flood-threshold 1m\n}\n${IFACE}`,
    expected: [
      err(
        'flood-threshold',
        '2:19',
        'flood-threshold is a number of half-open connections a second, not a duration',
        'write a number 100 … 100,000,000',
      ),
    ],
  },
  {
    name: 'default drop with no rule allowing established connections warns that replies are dropped',
    text: 'interface eth0 {\n  default drop\n  allow ct state new tcp dport 22\n  allow icmpv6\n}\n',
    expected: [
      warn(
        'no-return-traffic',
        '2:3',
        "interface 'eth0' drops by default and no rule allows 'ct state established': replies to the host's own connections are dropped",
        'add before the rules that drop: allow ct state established,related',
      ),
    ],
  },
  {
    name: 'a rule allowing established connections, or one allowing every packet, keeps replies',
    text:
      'interface eth0 {\n  default drop\n  allow udp ct state related,established\n  allow icmpv6\n}\n' +
      'interface eth1 {\n  default drop\n  allow icmpv6\n  allow\n}\n',
    expected: [],
  },
];
