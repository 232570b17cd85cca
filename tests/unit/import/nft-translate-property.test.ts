/*
 * Generated inet rulesets (tests/support/nft-rulesets.ts: an input chain
 * and a chain it jumps to),
 * translated and compared on sampled IPv4 and IPv6 packets: the verdict of
 * a direct first-match evaluator of the nft JSON rules against the
 * reference evaluator of the translated policy.
 */
import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { parseNftJson } from '../../../src/import/nft-json.js';
import { translateNft } from '../../../src/import/nft-translate.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { compileGenerated } from '../../support/compile-generated.js';
import { generateNftRuleset, nftJson, payload, PORTS, STATES, type Expr } from '../../support/nft-rulesets.js';
import { Random } from '../../support/random.js';

const HOSTS4 = ['10.0.0.1', '10.1.2.3', '192.0.2.1', '198.51.100.7', '203.0.113.9'];
const HOSTS6 = ['2001:db8::1', '2001:db8:1::5', '2001:db9::1'];
const FLAG_BITS: Record<string, number> = { fin: 1, syn: 2, rst: 4, ack: 16 };

type Packet = PacketSpec & { ctState: (typeof STATES)[number] };

function inPrefix(address: string, text: string): boolean {
  const [net, len] = ipaddr.parseCIDR(text);
  const a = ipaddr.parse(address);
  return a.kind() === net.kind() && a.match(net, len);
}

/** nft's meaning of the expressions this test generates, and nothing more. */
function matches(e: Expr, p: Packet): boolean {
  const { op, left, right } = e.match as { op: string; left: Expr; right: unknown };
  const values = (v: unknown): unknown[] => (typeof v === 'object' && v !== null && 'set' in v ? (v as { set: unknown[] }).set : [v]);
  const key = JSON.stringify(left);
  const prefixOf = (v: unknown) => {
    const { addr, len } = (v as { prefix: { addr: string; len: number } }).prefix;
    return `${addr}/${len}`;
  };
  if (key === JSON.stringify(payload('ip', 'saddr'))) return p.family === 4 && inPrefix(p.src, prefixOf(right)) === (op === '==');
  if (key === JSON.stringify(payload('ip6', 'saddr'))) return p.family === 6 && inPrefix(p.src, prefixOf(right));
  if ('meta' in left && (left.meta as Expr).key === 'nfproto') return p.family === (right === 'ipv4' ? 4 : 6);
  if ('meta' in left) return values(right).some((v) => ({ tcp: 6, udp: 17 })[v as string] === p.protocol);
  if ('ct' in left) return (right as string[]).includes(p.ctState);
  if ('&' in left) return p.protocol === 6 && ((p.tcpFlags ?? 0) & (FLAG_BITS.syn | FLAG_BITS.ack)) === FLAG_BITS.syn;
  const { protocol, field } = (left as { payload: { protocol: string; field: string } }).payload;
  if (protocol === 'icmp') return p.family === 4 && p.protocol === 1 && p.icmpType === 8;
  const number = { tcp: 6, udp: 17 }[protocol];
  if (number !== undefined && p.protocol !== number) return false;
  const inside = values(right).includes(field === 'dport' ? p.dport : p.sport);
  return inside === (op === '==');
}

const VERDICT: Record<string, string> = { accept: 'allow', drop: 'drop', reject: 'reject' };

/** The chain's decision, or undefined when the packet falls off it. */
function decide(chains: Record<string, Expr[][]>, name: string, p: Packet): string | undefined {
  for (const rule of chains[name]) {
    if (!rule.slice(0, -1).every((e) => matches(e, p))) continue;
    const last = rule.at(-1)!;
    if ('vmap' in last) {
      const hit = ((last.vmap as Expr).data as { set: [string, Expr][] }).set.find(([state]) => state === p.ctState);
      if (hit) return VERDICT[Object.keys(hit[1])[0]];
    } else if ('jump' in last) {
      const inner = decide(chains, 'sub', p);
      if (inner !== undefined) return inner;
    } else return VERDICT[Object.keys(last)[0]];
  }
  return undefined;
}

describe('translated inet rulesets decide as nft does', () => {
  it('agrees on 40 generated rulesets × 150 packets of both families', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = new Random(9_000 + seed);
      const ruleset = generateNftRuleset(r);
      const { chains, policy } = ruleset;
      const json = nftJson(ruleset);
      const read = parseNftJson(json);
      expect(read.errors).toEqual([]);
      const translation = translateNft(read.ruleset!, { file: 'generated.json', interfaces: ['eth0'] });
      expect(translation.refusals, json).toEqual([]);
      const { reference } = compileGenerated({ text: translation.policy, interfaceName: 'eth0' });
      for (let k = 0; k < 150; k++) {
        const family = r.pick([4, 6] as const);
        const protocol = r.pick(family === 4 ? [6, 17, 1] : [6, 17, 58]);
        const hosts = family === 4 ? HOSTS4 : HOSTS6;
        const packet: Packet = {
          family,
          protocol,
          src: r.pick(hosts),
          dst: r.pick(hosts),
          ...(protocol === 1 || protocol === 58
            ? { icmpType: r.pick([0, 8, 128]), icmpCode: 0 }
            : { sport: r.pick(PORTS), dport: r.pick(PORTS) }),
          ...(protocol === 6 ? { tcpFlags: r.int(0, 31) } : {}),
          ctState: r.pick(STATES),
        };
        const expected = decide(chains, 'input', packet) ?? VERDICT[policy];
        const actual = reference.evaluate(packet);
        if (actual.matched === 'malformed') continue;
        expect(actual.action, `${JSON.stringify(packet)}\n${json}\n${translation.policy}`).toBe(expected);
      }
    }
  });
});
