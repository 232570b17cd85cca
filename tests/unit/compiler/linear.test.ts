/**
 * The linear path's compiler side (src/compiler/passes/linear.ts): which interfaces
 * qualify (at most LINEAR_MAX simple rules), the descriptors it makes of
 * their rules, the choice forced either way, and its limit against
 * bpf/xdpfw.h. Whether the program judges as the descriptors say is the
 * kernel tests' concern (tests/kernel/linear.test.ts, verdict tables).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compileInterfaceWith } from '../../../src/compiler/index.js';
import type { IrInterface } from '../../../src/compiler/ir.js';
import { LINEAR_MAX } from '../../../src/contract/kernel.js';
import { linearRules, whyNotLinear } from '../../../src/compiler/passes/linear.js';
import { compileText } from './helpers.js';

function irOf(body: string, prelude = ''): IrInterface {
  const result = compileText(`${prelude}\ninterface eth0 {\n  default drop\n${body}\n}\n`);
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return result.ir!.interfaces[0];
}

const rules = (n: number, rule = 'allow tcp dport 22') => Array.from({ length: n }, () => `  ${rule}`).join('\n');

describe('which interfaces take the linear path', () => {
  test(`up to ${LINEAR_MAX} simple rules, and none, qualify`, () => {
    expect(whyNotLinear(irOf(rules(LINEAR_MAX)))).toBeNull();
    expect(whyNotLinear(irOf(rules(1)))).toBeNull();
    expect(whyNotLinear(irOf(''))).toBeNull();
  });

  test(`${LINEAR_MAX + 1} rules do not`, () => {
    expect(whyNotLinear(irOf(rules(LINEAR_MAX + 1)))).toBe(`${LINEAR_MAX + 1} rules, more than ${LINEAR_MAX}`);
  });

  test('a rule with every kind of match, one value each, is simple', () => {
    const ir = irOf(
      [
        '  allow tcp flags syn / syn,ack src 10.0.0.0/8 dst ! 192.0.2.1 sport 1024-65535 dport 443',
        '  drop ip6 udp src ! 2001:db8::/32 dport 53',
        '  allow icmp type echo-request',
        '  allow icmpv6 type { nd-neighbor-solicit }',
        '  allow src @one dst $two',
        '  drop proto 47',
        '  allow',
      ].join('\n'),
      'set one { 198.51.100.0/24 }\ndefine two = { 203.0.113.7 }',
    );
    expect(whyNotLinear(ir)).toBeNull();
  });

  test.each([
    ['two source prefixes', 'allow src { 10.0.0.0/8, 192.0.2.0/24 }', 'has 2 src prefixes'],
    ['a set of two prefixes', 'drop dst @pair', 'has 2 dst prefixes'],
    ['an IPv4 and an IPv6 prefix', 'drop src @mixed', 'has 2 src prefixes'],
    ['a negated pair', 'drop src ! { 10.0.0.0/8, 192.0.2.0/24 }', 'has 2 src prefixes'],
    ['two destination ports', 'allow tcp dport { 22, 80 }', 'has 2 dport intervals'],
    ['two source port intervals', 'allow udp sport { 53, 1000-2000 }', 'has 2 sport intervals'],
    ['two ICMP types', 'allow icmp type { echo-request, echo-reply }', 'has 2 ICMP types'],
  ])('%s: not simple', (_name, rule, why) => {
    const ir = irOf(`  allow tcp\n  ${rule}`, 'set pair { 10.0.0.0/8, 192.0.2.0/24 }\nset mixed { 10.0.0.0/8, 2001:db8::/32 }');
    expect(whyNotLinear(ir)).toBe(`rule 1 (${rule}) ${why}`);
  });

  test('adjacent ports merge into one interval, which is simple', () => {
    expect(whyNotLinear(irOf('  allow tcp dport { 80, 81, 82-90 }'))).toBeNull();
  });

  test('a rule with two protocols is not simple (the IR allows it even if the language does not)', () => {
    const ir = irOf('  allow tcp');
    ir.rules[0].protocols = [6, 17];
    expect(whyNotLinear(ir)).toBe('rule 0 (allow tcp) has 2 protocols');
  });

  test('a prefix compared against packets of the other family is not simple', () => {
    const ir = irOf('  drop src ! 10.0.0.0/8');
    ir.rules[0].families = { ipv4: true, ipv6: true };
    expect(whyNotLinear(ir)).toBe('rule 0 (drop src ! 10.0.0.0/8) matches IPv6 packets against an IPv4 prefix');
  });
});

describe('the choice', () => {
  const simple = irOf(rules(2));
  const big = irOf(rules(LINEAR_MAX + 1));

  test("'auto' takes the linear path when the interface qualifies, the bit vectors otherwise", () => {
    expect(linearRules(simple)).toHaveLength(2);
    expect(linearRules(big)).toBeNull();
  });

  test("'lbvs' never takes it; 'linear' always does, or throws", () => {
    expect(linearRules(simple, 'lbvs')).toBeNull();
    expect(linearRules(simple, 'linear')).toHaveLength(2);
    expect(() => linearRules(big, 'linear')).toThrow(`interface eth0 cannot take the linear path: ${LINEAR_MAX + 1} rules`);
  });

  test('the compiled constants carry the rules, and the hash tells the paths apart', () => {
    const linear = compileInterfaceWith(simple, { classify: 'linear' });
    const vectors = compileInterfaceWith(simple, { classify: 'lbvs' });
    expect(linear.constants.linear).toEqual(linearRules(simple));
    expect(vectors.constants.linear).toBeNull();
    expect(linear.hash).not.toBe(vectors.hash);
    expect(compileInterfaceWith(simple, {}).hash).toBe(linear.hash);
  });

  test('a linear interface gets tries, the least to load, for the address maps its program never reads', () => {
    const ir = irOf('  drop src 2001:db8::/32\n  drop dst 10.1.2.0/24');
    const modes = (options: Parameters<typeof compileInterfaceWith>[1]) =>
      Object.values(compileInterfaceWith(ir, options).constants.addressLookup).map((a) => a.mode);
    expect(modes({})).toEqual(['trie', 'trie', 'trie', 'trie']);
    expect(modes({ classify: 'lbvs' })).toContain('table');
    expect(modes({ addressLookup: 'table' })).toContain('table');
  });
});

describe('descriptors', () => {
  const one = (rule: string, prelude = '') => linearRules(irOf(`  ${rule}`, prelude), 'linear')![0];
  const none = { protocol: null, src: null, dst: null, sport: null, dport: null, tcpFlags: null, icmpType: null, ctStates: null };

  test('a rule without matches checks nothing but its families', () => {
    expect(one('allow')).toEqual({ action: 2, families: { ipv4: true, ipv6: true }, ...none });
  });

  test('protocol, ports and TCP flags', () => {
    expect(one('drop tcp flags syn / syn,ack sport 1024-65535 dport 22')).toEqual({
      ...none,
      action: 1,
      families: { ipv4: true, ipv6: true },
      protocol: 6,
      sport: { low: 1024, high: 65535 },
      dport: { low: 22, high: 22 },
      tcpFlags: { mask: 0x12, value: 0x02 },
    });
  });

  test('ICMP and ICMPv6 types, with the family their protocol implies', () => {
    expect(one('allow icmp type echo-request')).toMatchObject({ protocol: 1, icmpType: 8, families: { ipv4: true, ipv6: false } });
    expect(one('allow icmpv6 type 135')).toMatchObject({ protocol: 58, icmpType: 135, families: { ipv4: false, ipv6: true } });
  });

  test('an IPv4 prefix: its address and mask as one most-significant-first word', () => {
    expect(one('allow src 10.1.0.0/16 dst 192.0.2.7')).toMatchObject({
      families: { ipv4: true, ipv6: false },
      src: { family: 4, value: [0x0a010000], mask: [0xffff0000], negated: false },
      dst: { family: 4, value: [0xc0000207], mask: [0xffffffff], negated: false },
    });
  });

  test('IPv6 prefixes: four words, the mask cut inside a word and at word edges', () => {
    const mask = (length: number) => one(`allow src 2001:db8::/${length}`).src!.mask;
    expect(one('allow src 2001:db8:8000::/33').src).toEqual({
      family: 6,
      value: [0x20010db8, 0x80000000, 0, 0],
      mask: [0xffffffff, 0x80000000, 0, 0],
      negated: false,
    });
    expect(mask(32)).toEqual([0xffffffff, 0, 0, 0]);
    expect(mask(64)).toEqual([0xffffffff, 0xffffffff, 0, 0]);
    expect(mask(128)).toEqual([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
    expect(one('allow ip6 src ::/0').src).toMatchObject({ value: [0, 0, 0, 0], mask: [0, 0, 0, 0] });
  });

  test('negation is kept per address field, and the family comes from the prefix', () => {
    expect(one('drop src ! 2001:db8::/32 dst 2001:db8:1::1')).toMatchObject({
      families: { ipv4: false, ipv6: true },
      src: { family: 6, negated: true },
      dst: { family: 6, negated: false, mask: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff] },
    });
  });

  test('a set or define of one prefix is that prefix', () => {
    expect(one('drop src @one', 'set one { 198.51.100.0/24 }').src).toEqual({
      family: 4,
      value: [0xc6336400],
      mask: [0xffffff00],
      negated: false,
    });
  });

  test('rules keep their order', () => {
    const ir = irOf('  drop udp\n  allow tcp\n  allow');
    expect(linearRules(ir)!.map((r) => [r.action, r.protocol])).toEqual([
      [1, 17],
      [2, 6],
      [2, null],
    ]);
  });
});

test('LINEAR_MAX is XDPFW_LINEAR_MAX of bpf/xdpfw.h', () => {
  const header = readFileSync(join(import.meta.dirname, '../../../bpf/xdpfw.h'), 'utf8');
  expect(/#define XDPFW_LINEAR_MAX (\d+)/.exec(header)?.[1]).toBe(String(LINEAR_MAX));
});
