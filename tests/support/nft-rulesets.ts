/**
 * Seeded nftables rulesets, as the JSON of `nft -j list ruleset`: table
 * inet filter with the base chain `input` (policy accept or drop) and the
 * regular chain `sub` it jumps to. Matches: ip and ip6 saddr prefixes (ip
 * with `!=`), meta nfproto, tcp and udp dport (a port or an anonymous set,
 * `!=` too), meta l4proto with th dport, tcp flags under a mask, icmp type,
 * ct state lists; verdicts accept, drop, reject, jump and a ct state
 * verdict map.
 *
 * The `extended` shape, for the kernel differential test, adds the regular
 * chain `tail` reached by goto (from input anywhere, from sub as its last
 * rule), an unconditional `return` ending sub, and the named sets
 * `@blocked4` and `@ports`. The plain shape is left as it was: the property
 * test's evaluator knows only it.
 *
 * Packets for the kernel go from SOURCES to one of LOCAL_ADDRESSES or
 * LOCAL_ADDRESSES6, so a lab can make the second local to its receiver.
 */
import type { PacketSpec } from '../../src/packet/spec.js';
import { LOCAL_ADDRESSES, SOURCE_ADDRESSES } from './iptables-dumps.js';
import type { Random } from './random.js';

export const PREFIXES4 = ['10.0.0.0/8', '10.1.0.0/16', '192.0.2.0/24', '198.51.100.7/32'];
export const PREFIXES6 = ['2001:db8::/32', '2001:db8:1::/48'];
export const PORTS = [22, 53, 80, 443, 1024, 8080];
export const STATES = ['new', 'established', 'related', 'invalid'] as const;
/** The receiver's IPv6 addresses: every generated IPv6 packet goes to one of them. */
export const LOCAL_ADDRESSES6 = ['2001:db8:ff::1', '2001:db9::53'] as const;
/** Where generated IPv6 packets come from: split by PREFIXES6 in every way. */
export const SOURCES6 = ['2001:db8::1', '2001:db8:1::5', '2001:db9::1', '2001:db8:1:2::9'] as const;
/** Disjoint, so that nft takes them in one interval set. */
const BLOCKED4 = ['10.1.2.0/24', '172.16.0.0/12', '192.0.2.64/26', '198.51.100.99/32'];

export type Expr = Record<string, unknown>;
export interface NftRuleset {
  policy: 'accept' | 'drop';
  chains: Record<string, Expr[][]>;
  /** Named sets, as the JSON's `set` objects without family and table. */
  sets: Expr[];
}

export const payload = (protocol: string, field: string) => ({ payload: { protocol, field } });
const match = (op: string, left: unknown, right: unknown): Expr => ({ match: { op, left, right } });
const prefix = (text: string) => {
  const [addr, len] = text.split('/');
  return { prefix: { addr, len: Number(len) } };
};

function generateMatches(r: Random, extended: boolean): Expr[] {
  const out: Expr[] = [];
  const family = r.pick(['ip', 'ip', 'ip', 'ip6', 'nfproto', '', '', '', '', '']);
  const saddr4 = () => (extended && r.chance(0.25) ? '@blocked4' : prefix(r.pick(PREFIXES4)));
  if (family === 'ip') out.push(match(r.chance(0.3) ? '!=' : '==', payload('ip', 'saddr'), saddr4()));
  if (family === 'ip6') out.push(match('==', payload('ip6', 'saddr'), prefix(r.pick(PREFIXES6))));
  if (family === 'nfproto') out.push(match('==', { meta: { key: 'nfproto' } }, r.pick(['ipv4', 'ipv6'])));
  const l4 = r.pick(['', '', 'tcp', 'udp', 'th', 'icmp']);
  const ports = () => {
    if (extended && r.chance(0.2)) return '@ports';
    return r.chance(0.5) ? r.pick(PORTS) : { set: [r.pick(PORTS), r.pick(PORTS)].filter((p, i, a) => a.indexOf(p) === i) };
  };
  if (l4 === 'tcp' || l4 === 'udp') out.push(match(r.chance(0.2) ? '!=' : '==', payload(l4, 'dport'), ports()));
  if (l4 === 'th')
    out.push(match('==', { meta: { key: 'l4proto' } }, { set: ['tcp', 'udp'] }), match('==', payload('th', 'dport'), ports()));
  if (l4 === 'tcp' && r.chance(0.4)) out.push(match('==', { '&': [payload('tcp', 'flags'), ['syn', 'ack']] }, 'syn'));
  if (l4 === 'icmp') out.push(match('==', payload('icmp', 'type'), 'echo-request'));
  if (r.chance(0.3)) out.push(match('in', { ct: { key: 'state' } }, STATES.filter(() => r.chance(0.5)).concat('new')));
  return out;
}

/** A rule that may end in `jump` to or `goto` to the chains named. */
function generateRule(r: Random, targets: { jump?: string; goto?: string }, extended: boolean): Expr[] {
  if (r.chance(0.1)) {
    const set = STATES.filter(() => r.chance(0.6)).map((s) => [s, { [r.pick(['accept', 'drop'])]: null }]);
    if (set.length > 0) return [...generateMatches(r, extended), { vmap: { key: { ct: { key: 'state' } }, data: { set } } }];
  }
  const matches = generateMatches(r, extended);
  if (targets.jump && r.chance(0.2)) return [...matches, { jump: { target: targets.jump } }];
  if (targets.goto && r.chance(0.12)) return [...matches, { goto: { target: targets.goto } }];
  return [...matches, { [r.pick(['accept', 'drop', 'reject'])]: null }];
}

/** Each of `items` with probability `p`, or the first when none is drawn: nft takes no empty set. */
function some<T>(r: Random, items: readonly T[], p: number): T[] {
  const drawn = items.filter(() => r.chance(p));
  return drawn.length > 0 ? drawn : [items[0]];
}

/** A ruleset; the plain shape draws from `r` exactly as it always did. */
export function generateNftRuleset(r: Random, extended = false): NftRuleset {
  const policy = r.pick(['accept', 'drop'] as const);
  if (!extended) {
    return {
      policy,
      chains: {
        input: Array.from({ length: r.int(1, 7) }, () => generateRule(r, { jump: 'sub' }, false)),
        sub: Array.from({ length: r.int(0, 4) }, () => generateRule(r, {}, false)),
      },
      sets: [],
    };
  }
  // sub goes to tail only in its last rule, and returns only unconditionally at its end: the importer
  // refuses a goto before the last rule and a conditional return, as iptables' -g and RETURN
  const subLength = r.int(0, 4);
  const sub = Array.from({ length: subLength }, (_, k) => generateRule(r, k === subLength - 1 ? { goto: 'tail' } : {}, true));
  if (r.chance(0.3) && !sub.some((rule) => 'goto' in rule.at(-1)!)) sub.push([{ return: null }]);
  return {
    policy,
    chains: {
      input: Array.from({ length: r.int(1, 8) }, () => generateRule(r, { jump: 'sub', goto: 'tail' }, true)),
      sub,
      tail: Array.from({ length: r.int(0, 3) }, () => generateRule(r, {}, true)),
    },
    sets: [
      { name: 'blocked4', type: 'ipv4_addr', flags: ['interval'], elem: some(r, BLOCKED4, 0.6).map(prefix) },
      { name: 'ports', type: 'inet_service', elem: some(r, PORTS, 0.4) },
    ],
  };
}

/** The ruleset as `nft -j list ruleset` writes it (with handles). */
export function nftJson(ruleset: NftRuleset): string {
  const at = { family: 'inet', table: 'filter' };
  const objects: object[] = [
    { table: { family: 'inet', name: 'filter', handle: 1 } },
    { chain: { ...at, name: 'input', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: ruleset.policy } },
  ];
  let handle = 2;
  for (const name of Object.keys(ruleset.chains).filter((c) => c !== 'input')) objects.push({ chain: { ...at, name, handle: handle++ } });
  for (const set of ruleset.sets) objects.push({ set: { ...at, ...set, handle: handle++ } });
  handle = 10;
  for (const [chain, rules] of Object.entries(ruleset.chains)) {
    for (const expr of rules) objects.push({ rule: { ...at, chain, handle: handle++, expr } });
  }
  return JSON.stringify({ nftables: objects }, null, 1);
}

const TCP_FLAGS = [0x02, 0x02, 0x12, 0x10, 0x18, 0x11, 0x04, 0x14, 0x01, 0x03, 0x00, 0x22];

/** An IPv4 or IPv6 TCP, UDP, ICMP or ICMPv6 packet to the receiver. */
export function generateNftPacket(r: Random): PacketSpec {
  const family = r.pick([4, 6] as const);
  const protocol = r.weighted([
    [5, 6],
    [3, 17],
    [2, family === 4 ? 1 : 58],
  ] as const);
  const base =
    family === 4
      ? { family, protocol, src: r.pick(SOURCE_ADDRESSES), dst: r.pick(LOCAL_ADDRESSES) }
      : { family, protocol, src: r.pick(SOURCES6), dst: r.pick(LOCAL_ADDRESSES6) };
  if (protocol === 1) return { ...base, icmpType: r.pick([0, 8, 8, 13]), icmpCode: 0 };
  if (protocol === 58) return { ...base, icmpType: r.pick([128, 128, 129]), icmpCode: 0 };
  const port = () => (r.chance(0.85) ? r.pick(PORTS) : r.int(1, 65535));
  const ports = { sport: port(), dport: port() };
  if (protocol === 17) return { ...base, ...ports };
  return { ...base, ...ports, tcpFlags: r.chance(0.8) ? r.pick(TCP_FLAGS) : r.int(0, 63) };
}
