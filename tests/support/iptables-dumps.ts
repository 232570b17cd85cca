/**
 * Seeded iptables-save dumps of the filter table, in the shapes the importer
 * translates, and IPv4 packets to judge them with. The dumps are written as
 * iptables-legacy-restore reads them: INPUT (policy ACCEPT or DROP) and up to
 * three user chains reached by -j and -g, user chains jumping only to later
 * ones (no loops); -s/-d with prefixes, dotted masks, lists and `!`;
 * -p by name and number; ports, ranges and multiport with `!`; --syn and
 * --tcp-flags; ICMP types without codes; iprange; comments; conntrack and
 * state matches; ACCEPT, DROP, REJECT, LOG, and RETURN anywhere in a user
 * chain, with matches or as its last rule.
 *
 * Shapes the importer refuses by design are not generated: `! -p`,
 * `! --syn`, negated lists.
 * What only inlining can refuse (a negated address conjoined with a
 * prefix inside it) is left to the caller, which retries with the next
 * dump of the same generator.
 *
 * Every packet's destination is one of LOCAL_ADDRESSES and its source one of
 * SOURCE_ADDRESSES, so a test can make the first local to the receiver (the
 * packets reach INPUT) and route the second back.
 */
import type { PacketSpec } from '../../src/packet/spec.js';
import type { Random } from './random.js';

/** The receiver's addresses: every generated packet goes to one of them. */
export const LOCAL_ADDRESSES = ['192.0.2.1', '192.0.2.130', '198.51.100.7', '203.0.113.9', '10.1.2.200'] as const;
/** Where generated packets come from: none of them local, none a martian. */
export const SOURCE_ADDRESSES = ['10.0.0.1', '10.1.2.3', '10.1.200.9', '172.16.5.4', '192.0.2.77', '192.0.2.200', '198.51.100.99'] as const;

/** Prefixes that split both lists above in several ways; a dotted mask as iptables-save writes a non-CIDR one. */
const PREFIXES = [
  '10.0.0.0/8',
  '10.1.0.0/16',
  '10.1.2.0/24',
  '172.16.0.0/12',
  '192.0.2.0/24',
  '192.0.2.128/25',
  '192.0.2.64/255.255.255.192',
  '198.51.100.7',
  '198.51.100.99/32',
  '203.0.113.0/255.255.255.0',
];
const RANGES = ['10.1.0.0-10.1.255.255', '192.0.2.60-192.0.2.140', '10.0.0.1-10.1.2.3', '198.51.100.0-203.0.113.200'];
const PORTS = [1, 22, 53, 80, 443, 1023, 1024, 8080, 65535];
/** iptables' flag names: it knows no ECE or CWR. */
const TCP_FLAG_NAMES = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'];
/** ICMP types as iptables names them; all without codes. */
const ICMP_TYPES = [
  'echo-request',
  'echo-reply',
  'destination-unreachable',
  'time-exceeded',
  'timestamp-request',
  '8',
  '0',
  '3',
  '11',
  '13',
  'any',
];
const STATES = ['NEW', 'ESTABLISHED', 'RELATED', 'INVALID'];
const COMMENTS = ['"web front"', '"ssh from the office"', 'monitoring', '"drop the rest"'];
const PROTOCOLS: readonly (readonly [number, string])[] = [
  [3, ''],
  [0.3, 'all'],
  [3, 'tcp'],
  [1, '6'],
  [2, 'udp'],
  [1, '17'],
  [2, 'icmp'],
  [1, '1'],
];
const PROTOCOL_NAMES: Readonly<Record<string, 'tcp' | 'udp' | 'icmp'>> = {
  tcp: 'tcp',
  '6': 'tcp',
  udp: 'udp',
  '17': 'udp',
  icmp: 'icmp',
  '1': 'icmp',
};

const not = (r: Random, p = 0.25) => (r.chance(p) ? '! ' : '');

function portSpec(r: Random): string {
  const low = r.pick(PORTS);
  if (r.chance(0.6)) return String(low);
  const high = Math.max(low, r.pick(PORTS));
  return r.chance(0.15) ? `${low}:` : `${low}:${high}`;
}

function addressMatch(r: Random, flag: '-s' | '-d', lists: boolean): string {
  if (lists && r.chance(0.25)) return `${flag} ${r.pick(PREFIXES)},${r.pick(PREFIXES)}`;
  return `${not(r)}${flag} ${r.pick(PREFIXES)}`;
}

function tcpFlagsMatch(r: Random): string {
  if (r.chance(0.4)) return '--syn';
  const mask = TCP_FLAG_NAMES.filter(() => r.chance(0.5));
  if (mask.length === 0) mask.push('SYN');
  const set = mask.filter(() => r.chance(0.5));
  if (set.length === 0) set.push(r.pick(mask));
  const all = mask.length === TCP_FLAG_NAMES.length && r.chance(0.5);
  return `--tcp-flags ${all ? 'ALL' : mask.join(',')} ${set.join(',')}`;
}

/**
 * One rule's matches, without its target. Without `lists`, no address
 * list: restore splits a rule with one into a rule an address, and a -g
 * before a user chain's last rule is refused.
 */
function matches(r: Random, lists = true): string[] {
  const parts: string[] = [];
  if (r.chance(0.12)) parts.push(`-i ${r.pick(['eth0', 'eth0', 'eth1'])}`);
  const addresses: string[] = [];
  if (r.chance(0.1)) parts.push(`-m iprange --src-range ${r.pick(RANGES)}`);
  else if (r.chance(0.4)) addresses.push(addressMatch(r, '-s', lists));
  if (r.chance(0.08)) parts.push(`-m iprange --dst-range ${r.pick(RANGES)}`);
  else if (r.chance(0.25)) addresses.push(addressMatch(r, '-d', lists));
  // iptables refuses `!` on -s or -d when either is a list
  const anyList = addresses.some((a) => a.includes(','));
  parts.push(...addresses.map((a) => (anyList ? a.replace(/^! /, '') : a)));
  const protocol = r.weighted(PROTOCOLS);
  if (protocol) parts.push(`-p ${protocol}`);
  const name = PROTOCOL_NAMES[protocol];
  if (name === 'tcp' || name === 'udp') {
    if (r.chance(0.3)) {
      const which = r.pick(['--dports', '--sports']);
      // multiport wants a range's ends apart: 80:80 is "invalid portrange"
      const list = Array.from({ length: r.int(1, 3) }, () =>
        portSpec(r)
          .replace(/:$/, ':65535')
          .replace(/^(\d+):\1$/, '$1'),
      );
      parts.push(`-m multiport ${not(r)}${which} ${list.join(',')}`);
    } else {
      const options: string[] = [];
      if (r.chance(0.25)) options.push(`${not(r)}--sport ${portSpec(r)}`);
      if (r.chance(0.55)) options.push(`${not(r)}--dport ${portSpec(r)}`);
      if (name === 'tcp' && r.chance(0.3)) options.push(tcpFlagsMatch(r));
      if (options.length > 0) parts.push(`-m ${name} ${options.join(' ')}`);
    }
  }
  if (name === 'icmp' && r.chance(0.6)) parts.push(`-m icmp --icmp-type ${r.pick(ICMP_TYPES)}`);
  if (r.chance(0.25)) {
    const states = STATES.filter(() => r.chance(0.4));
    if (states.length === 0) states.push(r.pick(STATES));
    const module = r.chance(0.7) ? '-m conntrack' : '-m state';
    const option = module === '-m state' ? '--state' : '--ctstate';
    parts.push(`${module} ${not(r, 0.2)}${option} ${states.join(',')}`);
    if (module === '-m state' && r.chance(0.2)) parts.push(`-m conntrack --ctstate ${r.pick(STATES)},${r.pick(STATES)}`);
  }
  if (r.chance(0.1)) parts.push(`-m comment --comment ${r.pick(COMMENTS)}`);
  return parts;
}

const VERDICT_TARGETS: readonly (readonly [number, string])[] = [
  [4, 'ACCEPT'],
  [3, 'DROP'],
  [2, 'REJECT'],
  [0.4, 'LOG --log-prefix "import-test: "'],
];

/**
 * A dump of table filter: INPUT and up to three user chains `c1`…`c3`.
 * Chain k jumps (-j) and goes (-g) only to chains after it, anywhere in
 * the chain; a user chain may RETURN anywhere, with matches or without.
 */
export function generateDump(r: Random): string {
  const chains = Array.from({ length: r.int(0, 3) }, (_, k) => `c${k + 1}`);
  const lines = ['*filter', `:INPUT ${r.pick(['ACCEPT', 'DROP'])} [0:0]`, ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  for (const chain of chains) lines.push(`:${chain} - [0:0]`);
  const rulesOf = (chain: string, later: string[]): string[] => {
    const count = r.int(1, chain === 'INPUT' ? 8 : 5);
    const rules: string[] = [];
    for (let k = 0; k < count; k++) {
      const last = k === count - 1;
      let target = r.weighted(VERDICT_TARGETS);
      if (later.length > 0 && r.chance(0.3)) target = `${r.chance(0.35) ? '-g' : '-j'} ${r.pick(later)}`;
      else if (chain !== 'INPUT' && !last && r.chance(0.15)) target = '-j RETURN';
      else target = `-j ${target}`;
      rules.push(['-A', chain, ...matches(r), target].join(' '));
    }
    const endsWithGoto = / -g \S+$/.test(rules.at(-1) ?? '');
    if (chain !== 'INPUT' && !endsWithGoto && r.chance(0.3)) rules.push(`-A ${chain} -j RETURN`);
    return rules;
  };
  lines.push(...rulesOf('INPUT', chains));
  chains.forEach((chain, k) => lines.push(...rulesOf(chain, chains.slice(k + 1))));
  lines.push('COMMIT');
  return lines.join('\n') + '\n';
}

/** Interesting TCP flag bytes: handshake, teardown, resets, odd mixes, ECN. */
const TCP_FLAGS = [0x02, 0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x01, 0x03, 0x06, 0x00, 0x22, 0x0a, 0xc2, 0x29, 0x3f];
const PACKET_ICMP_TYPES = [0, 3, 5, 8, 8, 11, 13, 14];

/** An IPv4 TCP, UDP or ICMP packet from SOURCE_ADDRESSES to LOCAL_ADDRESSES. */
export function generatePacket(r: Random): PacketSpec {
  const protocol = r.weighted([
    [5, 6],
    [3, 17],
    [2, 1],
  ] as const);
  const port = () => (r.chance(0.85) ? r.pick(PORTS) : r.int(1, 65535));
  const base = { family: 4 as const, protocol, src: r.pick(SOURCE_ADDRESSES), dst: r.pick(LOCAL_ADDRESSES) };
  if (protocol === 1) {
    const icmpType = r.pick(PACKET_ICMP_TYPES);
    return { ...base, icmpType, icmpCode: [3, 5, 11].includes(icmpType) ? r.pick([0, 1, 3]) : 0 };
  }
  const ports = { sport: port(), dport: port() };
  if (protocol === 17) return { ...base, ...ports };
  return { ...base, ...ports, tcpFlags: r.chance(0.85) ? r.pick(TCP_FLAGS) : r.int(0, 255) };
}
