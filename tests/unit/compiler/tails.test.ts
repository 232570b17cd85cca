/**
 * Rules with a stateful tail (docs/DESIGN.md, "Rate limits and dynamic
 * sets") through the compiler: what lowering makes of dynamic-set matches,
 * limits and bans, the limit ids, the costs, the set indices, the hash, the
 * JSON of `xdpfw compile --json`, and how the stateless passes treat them.
 */
import { describe, expect, test } from 'vitest';
import { compiledToJson } from '../../../src/compiler/json.js';
import { evaluate } from '../../../src/compiler/evaluate.js';
import { fnv1a32 } from '../../../src/compiler/passes/lower-tail.js';
import type { CompiledInterface } from '../../../src/compiler/output.js';
import { compileText } from './helpers.js';

const POLICY = `set banned dynamic timeout 10m size 1000
set watch dynamic
limits { size 2048 }
interface eth0 {
  allow ct state established
  drop src @banned name "banned"
  drop tcp flags syn / syn,ack limit rate over 200/second burst 400 per src/24/64 ban @banned 10m name "syn-flood"
  allow tcp dport 22 limit rate 3/minute per src
  allow dst ! @watch src @banned ip6 limit rate 7/hour per dst/48 ban @watch 1h
  allow tcp dport 80
  drop udp dport 53 src 198.51.100.0/24 ban @banned name "resolver-abuse"
}
interface eth1 {
  allow tcp dport 22
}
`;

function compiled(text: string): { ifaces: CompiledInterface[]; limits: { size: number } | null } {
  const result = compileText(text);
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return { ifaces: result.compiled!.interfaces, limits: result.compiled!.limits };
}

describe('tails', () => {
  const { ifaces, limits } = compiled(POLICY);
  const [eth0, eth1] = ifaces;

  test('dynamic-set matches, limits and bans become the tails; stateless rules have none', () => {
    expect(eth0!.tails.map((t) => t !== null)).toEqual([false, true, true, true, true, false, true]);
    expect(eth0!.tails[1]).toEqual({ srcSet: { set: 0, negated: false }, dstSet: null, limit: null, ban: null });
    expect(eth0!.tails[4]).toMatchObject({
      srcSet: { set: 0, negated: false },
      dstSet: { set: 1, negated: true },
      ban: { set: 1, seconds: 3600 },
    });
    expect(eth1!.tails).toEqual([null]);
  });

  test("a ban's entries carry the rule's limit id, or the same hash of a rule without a limit", () => {
    expect(eth0!.tails[2]!.ban).toEqual({ set: 0, seconds: 600, origin: fnv1a32('eth0\0syn-flood') });
    expect(eth0!.tails[6]!.ban).toEqual({ set: 0, seconds: 600, origin: fnv1a32('eth0\0resolver-abuse') });
    expect(eth0!.tails[6]!.limit).toBeNull();
  });

  test('the dynamic sets are those the interface names, in first-use order, with their settings', () => {
    expect(eth0!.dynamicSets).toEqual([
      { name: 'banned', timeout: 600, size: 1000 },
      { name: 'watch', timeout: null, size: 65536 },
    ]);
    expect(eth1!.dynamicSets).toEqual([]);
  });

  test('a limit costs unit / rate nanoseconds, rounded down, and holds burst of them; per lengths follow the family', () => {
    expect(eth0!.tails[2]!.limit).toEqual({
      id: fnv1a32('eth0\0syn-flood'),
      over: true,
      rate: 200,
      unit: 'second',
      burst: 400,
      costNs: 5_000_000n,
      capacityNs: 2_000_000_000n,
      per: { field: 'src', length4: 24, length6: 64 },
    });
    expect(eth0!.tails[3]!.limit).toMatchObject({
      costNs: 20_000_000_000n,
      capacityNs: 100_000_000_000n,
      burst: 5,
      per: { field: 'src', length4: 32, length6: 128 },
    });
    expect(eth0!.tails[4]!.limit).toMatchObject({ costNs: 514_285_714_285n, per: { field: 'dst', length4: 32, length6: 48 } });
  });

  test("an unnamed rule's limit id hashes the interface and the rule's text without rate and burst", () => {
    expect(eth0!.tails[3]!.limit!.id).toBe(fnv1a32('eth0\0allow tcp dport 22 limit per src'));
  });

  test('the meter-table settings come with the interfaces that have a limit, and with the policy', () => {
    expect([eth0!.limits, eth1!.limits, limits]).toEqual([{ size: 2048 }, null, { size: 2048 }]);
    expect(compiled('interface eth0 {\n  allow tcp\n}\n').limits).toBeNull();
    expect(compiled('interface eth0 {\n  allow limit rate 1/second\n}\n').limits).toEqual({ size: 65536 });
  });

  test('an interface with a tail takes the bit vectors, never the linear path', () => {
    expect(eth0!.constants.linear).toBeNull();
    expect(eth1!.constants.linear).not.toBeNull();
    const [only] = compiled('interface eth0 {\n  allow tcp dport 22 limit rate 1/second\n}\n').ifaces;
    expect(only!.constants.linear).toBeNull();
  });

  test('a dynamic-set match constrains no address field: the bit vectors take it as any address', () => {
    const ir = compileText(POLICY).ir!.interfaces[0]!.rules[1]!;
    expect([ir.src, ir.dst, ir.families]).toEqual([null, null, { ipv4: true, ipv6: true }]);
  });
});

describe('limit ids', () => {
  test('two rules of one interface with the same text get distinct ids, the later with its occurrence number', () => {
    const [eth0, eth1] = compiled(
      'interface eth0 {\n  allow limit rate 1/second\n  allow limit rate 2/second burst 9\n  allow limit rate 3/second\n}\n' +
        'interface eth1 {\n  allow limit rate 1/second\n}\n',
    ).ifaces;
    const base = 'eth0\0allow limit';
    expect(eth0!.tails.map((t) => t!.limit!.id)).toEqual([fnv1a32(base), fnv1a32(`${base}\0${2}`), fnv1a32(`${base}\0${3}`)]);
    expect(eth1!.tails[0]!.limit!.id).toBe(fnv1a32('eth1\0allow limit'));
  });

  test('FNV-1a-32 is the reference function', () => {
    expect([fnv1a32(''), fnv1a32('a'), fnv1a32('foobar')]).toEqual([0x811c9dc5, 0xe40c292c, 0xbf9cf968]);
  });

  test('changing a rate or burst keeps the limit id and changes the hash; the rule without its limit hashes differently', () => {
    const at = (rate: string) => compiled(`interface eth0 {\n  allow tcp dport 22 limit rate ${rate} per src name "ssh"\n}\n`).ifaces[0]!;
    const [slow, fast, burst] = [at('3/minute'), at('30/minute'), at('3/minute burst 9')];
    expect(fast.tails[0]!.limit!.id).toBe(slow.tails[0]!.limit!.id);
    expect(burst.tails[0]!.limit!.id).toBe(slow.tails[0]!.limit!.id);
    expect(new Set([slow.hash, fast.hash, burst.hash]).size).toBe(3);
    const stateless = compiled('interface eth0 {\n  allow tcp dport 22 name "ssh"\n}\n').ifaces[0]!;
    expect(stateless.hash).not.toBe(slow.hash);
  });

  test("a dynamic set's timeout and the limits block's size change the hash", () => {
    const hash = (top: string) => compiled(`${top}\ninterface eth0 {\n  drop src @b limit rate 1/second ban @b\n}\n`).ifaces[0]!.hash;
    const base = hash('set b dynamic timeout 1m');
    expect(hash('set b dynamic timeout 2m')).not.toBe(base);
    expect(hash('set b dynamic timeout 1m size 10')).not.toBe(base);
    expect(hash('set b dynamic timeout 1m\nlimits { size 4096 }')).not.toBe(base);
    expect(hash('set b dynamic timeout 1m')).toBe(base);
  });
});

describe('compile --json', () => {
  test('prints tails with nanoseconds as decimal strings, the dynamic sets and the limits', () => {
    const result = compileText(POLICY);
    const view = JSON.parse(JSON.stringify(compiledToJson(result.compiled!))) as {
      interfaces: { tails: unknown[]; dynamicSets: unknown[]; limits: unknown }[];
      limits: unknown;
    };
    const [eth0, eth1] = view.interfaces;
    expect(eth0!.tails[2]).toEqual({
      srcSet: null,
      dstSet: null,
      limit: {
        id: fnv1a32('eth0\0syn-flood'),
        over: true,
        rate: 200,
        unit: 'second',
        burst: 400,
        costNs: '5000000',
        capacityNs: '2000000000',
        per: { field: 'src', length4: 24, length6: 64 },
      },
      ban: { set: 0, seconds: 600 },
      audit: false,
    });
    expect(eth0!.dynamicSets).toEqual([
      { name: 'banned', timeout: 600, size: 1000 },
      { name: 'watch', timeout: null, size: 65536 },
    ]);
    expect([eth0!.limits, eth1!.limits, view.limits]).toEqual([{ size: 2048 }, null, { size: 2048 }]);
    expect(eth1!.tails).toEqual([null]);
  });
});

describe('the stateless passes and rules that depend on state', () => {
  test('a rule with a dynamic set or a limit shadows nothing; a ban alone does', () => {
    const codes = (body: string) =>
      compileText(`set b dynamic timeout 1m\ninterface eth0 {\n${body}\n}\n`)
        .diagnostics.filter((d) => d.code === 'shadowed-rule')
        .map((d) => d.span.start.line);
    expect(codes('  allow tcp limit rate 1/second\n  allow tcp dport 22')).toEqual([]);
    expect(codes('  drop src @b\n  drop tcp')).toEqual([]);
    expect(codes('  drop tcp ban @b\n  drop tcp dport 22')).toEqual([4]);
    expect(codes('  allow tcp\n  allow tcp dport 22 limit rate 1/second')).toEqual([4]);
  });

  test('evaluate asks a tail oracle about a rule that depends on state, and refuses to guess without one', () => {
    const iface = compileText('interface eth0 {\n  drop tcp limit rate over 1/second\n  allow tcp\n}\n').ir!.interfaces[0]!;
    const packet = { family: 4 as const, protocol: 6, src: [192, 0, 2, 1], dst: [192, 0, 2, 2], sport: 1, dport: 2, tcpFlags: 2 };
    expect(() => evaluate(iface, packet)).toThrow(/rule 0 \(drop tcp limit rate over 1\/second\) depends on state/);
    expect(evaluate(iface, packet, () => true).rule?.index).toBe(0);
    expect(evaluate(iface, packet, () => false).rule?.index).toBe(1);
  });

  test('no-return-traffic is not silenced by a limited rule that allows every packet', () => {
    const codes = (rule: string) =>
      compileText(`interface eth0 {\n  default drop\n  ${rule}\n}\n`).diagnostics.filter((d) => d.code === 'no-return-traffic').length;
    expect(codes('allow limit rate 100/second')).toBe(1);
    expect(codes('allow')).toBe(0);
  });

  test('nd-dropped counts a rule that depends on state as not letting neighbour discovery through', () => {
    const found = compileText(
      'interface eth0 {\n  default drop\n  allow ct state established\n  allow icmpv6 limit rate 10/second\n}\n',
    ).diagnostics;
    expect(found.filter((d) => d.code === 'nd-dropped').map((d) => d.span.start.line)).toEqual([2]);
  });
});
