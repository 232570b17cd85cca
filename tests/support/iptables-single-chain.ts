/**
 * Generated single-chain iptables dumps (no user chains) and a direct
 * first-match evaluator of the rules they hold, iptables' meaning and no
 * more: the oracle of the import property tests.
 */
import ipaddr from 'ipaddr.js';
import type { Rule } from '../../src/import/iptables-save.js';
import type { PacketSpec } from '../../src/packet/spec.js';
import { Random } from './random.js';

export const PREFIXES = ['10.0.0.0/8', '10.1.0.0/16', '192.0.2.0/24', '192.0.2.128/25', '198.51.100.7'];
export const HOSTS = ['10.0.0.1', '10.1.2.3', '192.0.2.1', '192.0.2.200', '198.51.100.7', '203.0.113.9'];
export const PORTS = [0, 22, 53, 80, 443, 1023, 1024, 8080, 65535];
export const STATES = ['new', 'established', 'related', 'invalid'] as const;
const FLAGS: Record<string, number> = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16, URG: 32 };

function portSpec(r: Random): string {
  const a = r.pick(PORTS);
  return r.chance(0.5) ? String(a) : `${a}:${Math.max(a, r.pick(PORTS))}`;
}

export function generateRule(r: Random): string {
  const parts = ['-A INPUT'];
  if (r.chance(0.4)) parts.push(`${r.chance(0.3) ? '! ' : ''}-s ${r.pick(PREFIXES)}`);
  if (r.chance(0.2)) parts.push(`-d ${r.pick(PREFIXES)}`);
  const protocol = r.pick(['', '', 'tcp', 'udp', 'icmp']);
  if (protocol) parts.push(`-p ${protocol}`);
  if (protocol === 'tcp' || protocol === 'udp') {
    if (r.chance(0.5)) parts.push(`-m ${protocol} ${r.chance(0.3) ? '! ' : ''}--dport ${portSpec(r)}`);
    else if (r.chance(0.4)) parts.push(`-m multiport ${r.chance(0.3) ? '! ' : ''}--sports ${portSpec(r)},${portSpec(r)}`);
    if (protocol === 'tcp' && r.chance(0.3)) parts.push(r.chance(0.5) ? '--syn' : '--tcp-flags SYN,ACK,FIN ACK');
  }
  if (protocol === 'icmp' && r.chance(0.6)) parts.push(`-m icmp --icmp-type ${r.pick(['8', '0', 'destination-unreachable'])}`);
  if (r.chance(0.3)) {
    const states = STATES.filter(() => r.chance(0.5));
    if (states.length > 0) parts.push(`-m conntrack ${r.chance(0.2) ? '! ' : ''}--ctstate ${states.join(',').toUpperCase()}`);
  }
  parts.push(`-j ${r.pick(['ACCEPT', 'DROP', 'REJECT'])}`);
  return parts.join(' ');
}

function inPrefix(address: string, prefix: string): boolean {
  const [net, length] = prefix.includes('/') ? ipaddr.parseCIDR(prefix) : [ipaddr.parse(prefix), 32];
  return ipaddr.parse(address).match(net, length);
}

function inPorts(port: number, spec: string): boolean {
  return spec.split(',').some((part) => {
    const [low, high = low] = part.split(':').map(Number);
    return port >= low && port <= high;
  });
}

/** iptables' meaning of the rules this test generates, and nothing more. */
export function iptablesMatches({ rule }: Rule, p: Required<Pick<PacketSpec, 'src' | 'dst' | 'protocol'>> & PacketSpec): boolean {
  const holds = (negated: boolean, value: boolean) => value !== negated;
  if (rule.source && !holds(rule.source.negated, inPrefix(p.src, rule.source.value))) return false;
  if (rule.destination && !holds(rule.destination.negated, inPrefix(p.dst, rule.destination.value))) return false;
  if (rule.protocol && { tcp: 6, udp: 17, icmp: 1 }[rule.protocol.value] !== p.protocol) return false;
  for (const block of rule.matches) {
    for (const o of block.options) {
      const value = o.values[0];
      let ok: boolean;
      if (o.option === '--dport') ok = inPorts(p.dport ?? 0, value);
      else if (o.option === '--sports') ok = inPorts(p.sport ?? 0, value);
      else if (o.option === '--syn') ok = ((p.tcpFlags ?? 0) & 0x17) === FLAGS.SYN;
      else if (o.option === '--tcp-flags') {
        const bits = (list: string) => list.split(',').reduce((acc, f) => acc | FLAGS[f], 0);
        ok = ((p.tcpFlags ?? 0) & bits(o.values[0])) === bits(o.values[1]);
      } else if (o.option === '--icmp-type') ok = p.icmpType === (value === 'destination-unreachable' ? 3 : Number(value));
      else if (o.option === '--ctstate')
        ok = value
          .toLowerCase()
          .split(',')
          .includes(p.ctState ?? 'new');
      else throw new Error(`the test's evaluator does not know ${o.option}`);
      if (!holds(o.negated, ok)) return false;
    }
  }
  return true;
}

/** A dump of one INPUT chain: its policy and 1–8 generated rules. */
export function generateDump(r: Random): { dump: string; policy: 'ACCEPT' | 'DROP' } {
  const policy = r.pick(['ACCEPT', 'DROP'] as const);
  const rules = Array.from({ length: r.int(1, 8) }, () => generateRule(r));
  return { dump: `*filter\n:INPUT ${policy} [0:0]\n${rules.join('\n')}\nCOMMIT\n`, policy };
}

/** A packet of the hosts, ports and states the generated rules name. */
export function generatePacket(r: Random): PacketSpec & Required<Pick<PacketSpec, 'src' | 'dst' | 'protocol'>> {
  const protocol = r.pick([6, 17, 1]);
  return {
    family: 4 as const,
    protocol,
    src: r.pick(HOSTS),
    dst: r.pick(HOSTS),
    ...(protocol === 1 ? { icmpType: r.pick([0, 3, 8, 11]), icmpCode: 0 } : { sport: r.pick(PORTS), dport: r.pick(PORTS) }),
    ...(protocol === 6 ? { tcpFlags: r.int(0, 63) } : {}),
    ctState: r.pick(STATES),
  };
}

const VERDICTS: Readonly<Record<string, 'allow' | 'drop' | 'reject'>> = { ACCEPT: 'allow', DROP: 'drop', REJECT: 'reject' };

/** What the generated chain decides for `packet`: its first matching rule's target, else the chain's policy. */
export function iptablesVerdict(rules: readonly Rule[], policy: 'ACCEPT' | 'DROP', packet: Parameters<typeof iptablesMatches>[1]) {
  const decided = rules.find((rule) => iptablesMatches(rule, packet));
  return VERDICTS[decided?.rule.target?.name ?? policy];
}
