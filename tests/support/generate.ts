/**
 * Seeded generators of valid policies (as text, so the whole pipeline from
 * the grammar on is exercised) and of packets aimed at their rules' edges:
 * frames for the differential test against the reference evaluator
 * (generatePolicy, generatePacket), field values for the compiler's
 * property tests (randomPolicy, randomPacket).
 */
import ipaddr from 'ipaddr.js';
import type { FieldPacket } from '../../src/compiler/evaluate.js';
import { LINEAR_MAX } from '../../src/contract/kernel.js';
import type { PacketSpec } from '../../src/packet/spec.js';
import { Random } from './random.js';
import { declareDynamicSets, tailClause, type TailPlan } from './generate-tails.js';

export { Random };

export interface GeneratedPolicy {
  text: string;
  interfaceName: string;
  /** Every prefix the policy mentions, to aim packets at. */
  prefixes: string[];
  /** Every port boundary the policy mentions. */
  ports: number[];
  icmpTypes: number[];
  /** Rules may test `ct state`, and packets then carry a state. */
  ct: boolean;
  /** With the `tails` option: the dynamic sets and the durations the tails use. */
  tails?: TailPlan;
}

const IFACE = 'xdpfw0';
const TCP_FLAG_NAMES = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr'];
const ICMP_TYPES = [0, 3, 8, 11];
const ICMPV6_TYPES = [1, 128, 129, 135, 136];
const CT_STATES = ['new', 'established', 'related', 'invalid'] as const;

/** `ct state` with 1–3 states (the kernel differential tests leave it out: a frame carries no state). */
function ctStateMatch(r: Random): string {
  return `ct state ${[...new Set(Array.from({ length: r.int(1, 3) }, () => r.pick(CT_STATES)))].join(',')}`;
}

/** /8–/32 of an address in 10.0-3.0-3.0-255, or /32–/128 of one in 2001:db8:0-3:0-3::0-ff: never /0. */
function nonDefaultPrefix(r: Random, family: 4 | 6): string {
  if (family === 4) {
    const length = r.pick([8, 16, 20, 24, 28, 30, 32]);
    const bytes = [10, r.int(0, 3), r.int(0, 3), r.int(0, 255)];
    return `${ipaddr.IPv4.networkAddressFromCIDR(`${bytes.join('.')}/${length}`).toString()}/${length}`;
  }
  const length = r.pick([32, 48, 56, 64, 96, 120, 128]);
  const text = `2001:db8:${r.int(0, 3).toString(16)}:${r.int(0, 3).toString(16)}::${r.int(0, 255).toString(16)}`;
  const network = ipaddr.IPv6.networkAddressFromCIDR(`${text}/${length}`).toString();
  return `${network}/${length}`;
}

/** A port, a range, or (unless `simple`) sometimes a list of them. */
function portValue(r: Random, ports: number[], simple = false): string {
  const one = () => {
    if (r.chance(0.5)) {
      const p = r.pick([22, 53, 80, 443, 1024, 8080, 65535, r.int(0, 65535)]);
      ports.push(p);
      return String(p);
    }
    const low = r.int(0, 60000);
    const high = Math.min(65535, low + r.int(0, 5000));
    ports.push(low, high);
    return `${low}-${high}`;
  };
  if (!simple && r.chance(0.3)) return `{ ${Array.from({ length: r.int(1, 4) }, one).join(', ')} }`;
  return one();
}

/**
 * A policy of 1–`maxRules` rules over one interface, every match kind
 * represented; `ct state` only with `options.ct`, which the kernel cannot
 * be given by a frame alone; with `options.tails`, dynamic sets and about
 * half the rules with a tail (generate-tails.ts), their other matches
 * often cut to the protocol's so that packets reach the tails.
 */
/**
 * Every third `drop` (by `n`, a rule's index or the rule count) becomes a
 * `reject`: decided without drawing from `r`, so that each seed still
 * generates the policy it did before the action existed.
 */
function withReject(action: 'allow' | 'drop', n: number): 'allow' | 'drop' | 'reject' {
  return action === 'drop' && n % 3 === 2 ? 'reject' : action;
}

/**
 * `options.audit`: some rules `audit` or `log`, and sometimes the interface
 * in `mode audit`; drawn from `r` only then, so other seeds' policies stay
 * as they were.
 */
export function generatePolicy(
  r: Random,
  maxRules = 24,
  options: { ct?: boolean; tails?: boolean; audit?: boolean } = {},
): GeneratedPolicy {
  const ct = options.ct ?? false;
  const prefixes: string[] = [];
  const ports: number[] = [];
  const icmpTypes: number[] = [];
  const lines: string[] = [];
  const prefix = (family: 4 | 6) => {
    const p = nonDefaultPrefix(r, family);
    prefixes.push(p);
    return p;
  };

  const definePorts = portValue(r, ports);
  lines.push(`define ports = ${definePorts.startsWith('{') ? definePorts : `{ ${definePorts} }`}`);
  const setFamilies: Record<string, (4 | 6)[]> = { mixed: [4, 6], only4: [4], only6: [6] };
  for (const [name, families] of Object.entries(setFamilies)) {
    // Each family of the set appears at least once, so '@mixed' really is mixed.
    const entries = [...families.map(prefix), ...Array.from({ length: r.int(0, 4) }, () => prefix(r.pick(families)))];
    lines.push(`set ${name} {`, ...entries.map((e) => `  ${e}`), '}');
  }
  const dynamic = options.tails ? declareDynamicSets(r) : undefined;
  if (dynamic) lines.push(...dynamic.lines);

  const ruleCount = r.int(1, maxRules);
  let tailed = false;
  lines.push(`interface ${IFACE} {`);
  if (r.chance(0.8)) lines.push(`  default ${withReject(r.pick(['allow', 'drop']), ruleCount)}`);
  if (options.audit && r.chance(0.3)) lines.push('  mode audit');
  for (let i = 0; i < ruleCount; i++) {
    const family = r.pick([4, 6, 0] as const);
    const matches: string[] = [];
    const address = (dir: string) => {
      const neg = r.chance(0.2) ? '! ' : '';
      const options: string[] = ['@mixed'];
      if (family !== 0) {
        options.push(prefix(family), family === 4 ? '@only4' : '@only6');
        options.push(`{ ${prefix(family)}, ${prefix(family)} }`);
      }
      return `${dir} ${neg}${r.pick(options)}`;
    };
    if (r.chance(0.5)) matches.push(address('src'));
    if (r.chance(0.35)) matches.push(address('dst'));
    if (family !== 0 && r.chance(0.15)) matches.push(family === 4 ? 'ip4' : 'ip6');
    matches.push(...protocolMatches(r, family, ports, icmpTypes));
    if (ct && r.chance(0.3)) matches.push(ctStateMatch(r));
    // A rule without matches takes every packet and hides the rules after it:
    // keep such catch-alls rare, so that packets reach deep into the policy.
    // The last rule has one when no other has.
    const tail: ReturnType<typeof tailClause> | undefined =
      dynamic && (r.chance(0.5) || (i === ruleCount - 1 && !tailed)) ? tailClause(r, family, dynamic.plan) : undefined;
    tailed ||= tail !== undefined;
    if (tail && r.chance(0.6)) matches.splice(0, matches.length, ...protocolMatches(r, family, ports, icmpTypes));
    if (!tail && matches.length === 0 && (i < ruleCount - 1 || r.chance(0.7))) {
      matches.push(address('src'));
    }
    shuffleMatches(r, matches);
    if (tail) matches.push(...tail.matches.filter((m) => !matches.includes(m)));
    const name = r.chance(0.3) ? ` name "rule-${i}"` : '';
    const audit = options.audit && r.chance(0.3) ? 'audit ' : '';
    const log = options.audit && r.chance(0.2) ? ' log' : '';
    lines.push(`  ${audit}${withReject(r.pick(['allow', 'drop']), i)} ${matches.join(' ')}${tail?.ban ?? ''}${log}${name}`.trimEnd());
  }
  lines.push('}');
  return { text: `${lines.join('\n')}\n`, interfaceName: IFACE, prefixes, ports, icmpTypes, ct, tails: dynamic?.plan };
}

/**
 * A policy the linear path takes: 1–LINEAR_MAX rules whose matches are one
 * prefix (often negated), one protocol, one port interval, one ICMP type,
 * TCP flags.
 */
export function generateSimplePolicy(r: Random): GeneratedPolicy {
  const prefixes: string[] = [];
  const ports: number[] = [];
  const icmpTypes: number[] = [];
  const lines = [`interface ${IFACE} {`];
  if (r.chance(0.8)) lines.push(`  default ${r.pick(['allow', 'drop'])}`);
  const ruleCount = r.int(1, LINEAR_MAX);
  for (let i = 0; i < ruleCount; i++) {
    const family = r.pick([4, 6, 0] as const);
    const matches: string[] = [];
    if (family !== 0) {
      for (const [dir, chance] of [
        ['src', 0.6],
        ['dst', 0.4],
      ] as const) {
        if (!r.chance(chance)) continue;
        const prefix = nonDefaultPrefix(r, family);
        prefixes.push(prefix);
        matches.push(`${dir} ${r.chance(0.3) ? '! ' : ''}${prefix}`);
      }
      if (r.chance(0.15)) matches.push(family === 4 ? 'ip4' : 'ip6');
    }
    matches.push(...protocolMatches(r, family, ports, icmpTypes, true));
    if (matches.length === 0 && (i < ruleCount - 1 || r.chance(0.7))) matches.push(r.pick(['ip4', 'ip6']));
    shuffleMatches(r, matches);
    lines.push(`  ${r.pick(['allow', 'drop'])} ${matches.join(' ')}`.trimEnd());
  }
  lines.push('}');
  return { text: `${lines.join('\n')}\n`, interfaceName: IFACE, prefixes, ports, icmpTypes, ct: false };
}

/**
 * A rule's protocol (or none) with TCP flags or ICMP types, and for TCP and
 * UDP its ports; `simple`: one ICMP type and one port interval at most.
 */
function protocolMatches(r: Random, family: 0 | 4 | 6, ports: number[], icmpTypes: number[], simple = false): string[] {
  const matches: string[] = [];
  const protoChoices = ['none', 'tcp', 'udp', 'proto 47'];
  if (family === 4) protoChoices.push('icmp');
  if (family === 6) protoChoices.push('icmpv6');
  const proto = r.pick(protoChoices);
  if (proto === 'tcp' && r.chance(0.4)) {
    const flags = Array.from({ length: r.int(1, 2) }, () => r.pick(TCP_FLAG_NAMES));
    const unique = [...new Set(flags)];
    if (r.chance(0.5)) {
      const mask = [...new Set([...unique, r.pick(TCP_FLAG_NAMES)])];
      matches.push(`tcp flags ${unique.join(',')} / ${mask.join(',')}`);
    } else {
      matches.push(`tcp flags ${unique.join(',')}`);
    }
  } else if ((proto === 'icmp' || proto === 'icmpv6') && r.chance(0.6)) {
    const pool = proto === 'icmp' ? ICMP_TYPES : ICMPV6_TYPES;
    const types = [...new Set(Array.from({ length: simple ? 1 : r.int(1, 3) }, () => r.pick(pool)))];
    icmpTypes.push(...types);
    matches.push(`${proto} type ${types.length > 1 ? `{ ${types.join(', ')} }` : types[0]}`);
  } else if (proto !== 'none') {
    matches.push(proto);
  }
  if (proto === 'tcp' || proto === 'udp') {
    // $ports may be a list: only plain values for a simple rule.
    if (r.chance(0.5)) matches.push(`dport ${!simple && r.chance(0.2) ? '$ports' : portValue(r, ports, simple)}`);
    if (r.chance(0.25)) matches.push(`sport ${portValue(r, ports, simple)}`);
  }
  return matches;
}

/** Matches may come in any order; a `tcp flags …` or `icmp type …` phrase is one element. */
function shuffleMatches(r: Random, matches: string[]): void {
  for (let i = matches.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [matches[i], matches[j]] = [matches[j], matches[i]];
  }
}

function addressIn(r: Random, prefixText: string): string {
  const [network, length] = ipaddr.parseCIDR(prefixText);
  const bytes = network.toByteArray();
  for (let bit = length; bit < bytes.length * 8; bit++) {
    if (r.chance(0.5)) bytes[bit >> 3] |= 0x80 >> (bit & 7);
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** An address of `prefixText` with one of its prefix bits flipped: just outside it. */
function addressOutside(r: Random, prefixText: string): string {
  const [, length] = ipaddr.parseCIDR(prefixText);
  const bytes = ipaddr.parse(addressIn(r, prefixText)).toByteArray();
  const bit = r.int(0, Math.max(0, length - 1));
  if (length > 0) bytes[bit >> 3] ^= 0x80 >> (bit & 7);
  return ipaddr.fromByteArray(bytes).toString();
}

function randomAddress(r: Random, family: 4 | 6, policy: GeneratedPolicy): string {
  const own = policy.prefixes.filter((p) => p.includes(':') === (family === 6));
  if (own.length > 0 && r.chance(0.8)) return addressIn(r, r.pick(own));
  return family === 4 ? `10.${r.int(0, 3)}.${r.int(0, 3)}.${r.int(0, 255)}` : `2001:db8:1::${r.int(0, 0xffff).toString(16)}`;
}

function nearPort(r: Random, policy: GeneratedPolicy): number {
  if (policy.ports.length === 0 || r.chance(0.15)) return r.int(0, 65535);
  const p = r.pick(policy.ports) + r.pick([-1, 0, 0, 1]);
  return Math.min(65535, Math.max(0, p));
}

/** generatePacket, its source or destination then moved just outside one of the policy's prefixes of its family. */
export function generateNearMissPacket(r: Random, policy: GeneratedPolicy): PacketSpec {
  const packet = generatePacket(r, policy);
  const own = policy.prefixes.filter((p) => p.includes(':') === (packet.family === 6));
  if (own.length === 0) return packet;
  const address = addressOutside(r, r.pick(own));
  return r.chance(0.5) ? { ...packet, src: address } : { ...packet, dst: address };
}

/** A packet aimed at the policy: its prefixes, its port boundaries, its ICMP types. */
export function generatePacket(r: Random, policy: GeneratedPolicy): PacketSpec {
  const family = r.pick([4, 6] as const);
  const protocol = r.pick([6, 6, 17, 17, family === 4 ? 1 : 58, 47]);
  const spec: PacketSpec = {
    family,
    protocol,
    src: randomAddress(r, family, policy),
    dst: randomAddress(r, family, policy),
  };
  if (protocol === 6 || protocol === 17) {
    spec.sport = nearPort(r, policy);
    spec.dport = nearPort(r, policy);
  }
  if (protocol === 6) spec.tcpFlags = r.chance(0.5) ? r.pick([0x02, 0x12, 0x10, 0x11, 0x04]) : r.int(0, 255);
  if (protocol === 1 || protocol === 58) {
    const pool = policy.icmpTypes.length > 0 && r.chance(0.7) ? policy.icmpTypes : family === 4 ? ICMP_TYPES : ICMPV6_TYPES;
    spec.icmpType = r.pick(pool);
    spec.icmpCode = 0;
  }
  if (r.chance(0.1)) spec.fragment = { offset: r.chance(0.5) ? 0 : r.int(1, 100), moreFragments: r.chance(0.5) };
  if (r.chance(0.1))
    spec.vlans = r.chance(0.5)
      ? [{ tpid: 0x8100, id: 100 }]
      : [
          { tpid: 0x88a8, id: 10 },
          { tpid: 0x8100, id: 20 },
        ];
  if (family === 4 && r.chance(0.1)) spec.ipv4Options = [1, 1, 1, 0];
  if (family === 6 && r.chance(0.1)) spec.ipv6ExtensionHeaders = r.chance(0.5) ? [0] : [0, 60];
  if (r.chance(0.3)) spec.payloadLength = r.int(0, 200);
  // Sometimes none: a packet given no state is new.
  if (policy.ct && r.chance(0.8)) spec.ctState = r.pick(CT_STATES);
  return spec;
}

/* ---- for the compiler's property tests ---------------------------------- */

/** /0–/32 of an address in 10.0-3.0-3.0-255, or /0–/128 of one in 2001:db8:0-3::0-ff; host lengths twice as likely. */
export function randomPrefix(r: Random, family: 4 | 6): string {
  if (family === 4) {
    const length = r.pick([0, 8, 16, 20, 24, 24, 28, 30, 32, 32]);
    const text = `10.${r.int(0, 3)}.${r.int(0, 3)}.${r.int(0, 255)}`;
    return `${ipaddr.IPv4.networkAddressFromCIDR(`${text}/${length}`).toString()}/${length}`;
  }
  const length = r.pick([0, 32, 48, 64, 64, 96, 120, 128, 128]);
  const text = `2001:db8:${r.int(0, 3).toString(16)}::${r.int(0, 255).toString(16)}`;
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${text}/${length}`).toString()}/${length}`;
}

function ports(r: Random): string {
  const one = () => {
    if (r.chance(0.5)) return String(r.pick([0, 1, 22, 53, 80, 443, 1024, 65534, 65535, r.int(0, 65535)]));
    const low = r.pick([0, 1000, r.int(0, 65535)]);
    const high = Math.min(65535, low + r.pick([0, 1, 100, 5000, 65535]));
    return `${low}-${high}`;
  };
  return r.chance(0.35) ? `{ ${Array.from({ length: r.int(1, 4) }, one).join(', ')} }` : one();
}

/**
 * A policy (text) of 1–`maxRules` rules over interface eth0, for the
 * compiler's property tests, aimed at the classifier's edge cases: nested
 * prefixes, /0, negated and mixed-family sets, port boundaries 0 and 65535,
 * both TCP flag forms, ICMP types of both protocols, `proto N` in either
 * family, `ct state`. Every policy is valid.
 */
export function randomPolicy(r: Random, maxRules = 20): string {
  const lines: string[] = [];
  lines.push(`define p = { ${ports(r).replace(/[{}]/g, '').trim()} }`);
  const sets: Record<string, (4 | 6)[]> = { mixed: [4, 6], only4: [4], only6: [6] };
  for (const [name, families] of Object.entries(sets)) {
    // Each family of the set appears at least once, so `@mixed` really is mixed.
    const entries = [...families, ...Array.from({ length: r.int(0, 4) }, () => r.pick(families))].map((f) => randomPrefix(r, f));
    lines.push(`set ${name} {`, ...entries.map((e) => `  ${e}`), '}');
  }
  lines.push('interface eth0 {');
  if (r.chance(0.7)) lines.push(`  default ${r.pick(['allow', 'drop'])}`);
  const count = r.int(1, maxRules);
  for (let i = 0; i < count; i++) {
    const family = r.pick([4, 6, 0, 0] as const);
    const matches: string[] = [];
    const address = (direction: string) => {
      const options = ['@mixed'];
      if (family !== 0) {
        options.push(randomPrefix(r, family), family === 4 ? '@only4' : '@only6');
        options.push(`{ ${randomPrefix(r, family)}, ${randomPrefix(r, family)} }`);
      } else {
        options.push(`{ ${randomPrefix(r, 4)}, ${randomPrefix(r, 6)} }`);
      }
      return `${direction} ${r.chance(0.3) ? '! ' : ''}${r.pick(options)}`;
    };
    if (r.chance(0.5)) matches.push(address('src'));
    if (r.chance(0.35)) matches.push(address('dst'));
    if (family !== 0 && r.chance(0.2)) matches.push(family === 4 ? 'ip4' : 'ip6');
    const protocols = ['none', 'none', 'tcp', 'tcp', 'udp', 'proto 47', 'proto 1', 'proto 58'];
    if (family !== 6) protocols.push('icmp');
    if (family !== 4) protocols.push('icmpv6');
    const protocol = r.pick(protocols);
    if (protocol === 'tcp' && r.chance(0.5)) {
      const flags = [...new Set(Array.from({ length: r.int(1, 2) }, () => r.pick(TCP_FLAG_NAMES)))];
      const mask = [...new Set([...flags, r.pick(TCP_FLAG_NAMES), r.pick(TCP_FLAG_NAMES)])];
      matches.push(r.chance(0.5) ? `tcp flags ${flags.join(',')} / ${mask.join(',')}` : `tcp flags ${flags.join(',')}`);
    } else if ((protocol === 'icmp' || protocol === 'icmpv6') && r.chance(0.6)) {
      const pool = protocol === 'icmp' ? [0, 3, 8, 11, 255] : [1, 128, 129, 135, 136];
      const types = [...new Set(Array.from({ length: r.int(1, 3) }, () => r.pick(pool)))];
      matches.push(`${protocol} type ${types.length > 1 ? `{ ${types.join(', ')} }` : types[0]}`);
    } else if (protocol !== 'none') {
      matches.push(protocol);
    }
    if (protocol === 'tcp' || protocol === 'udp') {
      if (r.chance(0.5)) matches.push(`dport ${r.chance(0.2) ? '$p' : ports(r)}`);
      if (r.chance(0.3)) matches.push(`sport ${ports(r)}`);
    }
    if (r.chance(0.25)) matches.push(ctStateMatch(r));
    for (let k = matches.length - 1; k > 0; k--) {
      const j = r.int(0, k);
      [matches[k], matches[j]] = [matches[j], matches[k]];
    }
    lines.push(`  ${r.pick(['allow', 'drop'])} ${matches.join(' ')}${r.chance(0.2) ? ` name "r${i}"` : ''}`.trimEnd());
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Address bytes ↔ integers, for sampling addresses around prefix edges. */
export function toBytes(family: 4 | 6, value: bigint): number[] {
  const width = family === 4 ? 4 : 16;
  const out = new Array<number>(width);
  for (let i = width - 1; i >= 0; i--, value >>= 8n) out[i] = Number(value & 0xffn);
  return out;
}

export function toValue(bytes: readonly number[]): bigint {
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

/** A random packet of the policy's value space; fields absent as the data plane would see them. */
export function randomPacket(r: Random, addresses: { 4: number[][]; 6: number[][] }): FieldPacket {
  const family = r.pick([4, 6] as const);
  const protocol = r.pick([6, 6, 17, 17, 1, 58, 47, 0]);
  const packet: FieldPacket = {
    family,
    protocol,
    src: r.pick(addresses[family]),
    dst: r.pick(addresses[family]),
  };
  const fragment = r.chance(0.1); // a non-first fragment has no L4 fields
  if (!fragment && (protocol === 6 || protocol === 17)) {
    packet.sport = r.pick([0, 22, 53, 80, 443, 1000, 1024, 5000, 65535, r.int(0, 65535)]);
    packet.dport = r.pick([0, 22, 53, 80, 443, 1000, 1024, 5000, 65535, r.int(0, 65535)]);
  }
  if (!fragment && protocol === 6) packet.tcpFlags = r.int(0, 255);
  if (!fragment && ((family === 4 && protocol === 1) || (family === 6 && protocol === 58))) {
    packet.icmpType = r.pick([0, 1, 3, 8, 11, 128, 129, 135, 136, 255, r.int(0, 255)]);
  }
  if (r.chance(0.8)) packet.ctState = r.pick(CT_STATES);
  return packet;
}
