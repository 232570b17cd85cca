/**
 * Seeded random policies (as text) for the compiler's property tests, aimed
 * at the classifier's edge cases: nested prefixes, /0, negated and mixed-
 * family sets, port boundaries 0 and 65535, both TCP flag forms, ICMP types
 * of both protocols, `proto N` in either family. Every policy is valid.
 */
import ipaddr from 'ipaddr.js';
import type { FieldPacket } from '../../../src/compiler/evaluate.js';
import { Random } from '../../support/random.js';

export { Random };

const FLAGS = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr'];

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

export function randomPolicy(r: Random, maxRules = 20): string {
  const lines: string[] = [];
  lines.push(`define p = { ${ports(r).replace(/[{}]/g, '').trim()} }`);
  const sets: Record<string, (4 | 6)[]> = { mixed: [4, 6], only4: [4], only6: [6] };
  for (const [name, families] of Object.entries(sets)) {
    // Each family of the set appears at least once, so `@mixed` really is mixed.
    const entries = [...families, ...Array.from({ length: r.int(0, 4) }, () => r.pick(families))].map((f) =>
      randomPrefix(r, f),
    );
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
      const flags = [...new Set(Array.from({ length: r.int(1, 2) }, () => r.pick(FLAGS)))];
      const mask = [...new Set([...flags, r.pick(FLAGS), r.pick(FLAGS)])];
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
  return packet;
}
