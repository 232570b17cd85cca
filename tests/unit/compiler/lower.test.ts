/**
 * Lowering: the SPEC's example policy against golden IR and compiled output
 * (rewritten only on purpose, with UPDATE_SNAPSHOTS=1), and the IR's details:
 * rule identities, families, protocols, ports, flags, types, prefixes.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, test } from 'vitest';
import { compiledToJson } from '../../../src/compiler/index.js';
import type { IrRule } from '../../../src/compiler/ir.js';
import { compileText } from './helpers.js';

const goldenDir = join(import.meta.dirname, 'golden');
const update = process.env.UPDATE_SNAPSHOTS === '1';

function filesUnder(dir: string, root = dir): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) Object.assign(files, filesUnder(path, root));
    else if (!name.endsWith('.json')) files[relative(root, path).split('\\').join('/')] = readFileSync(path, 'utf8');
  }
  return files;
}

function expectGolden(path: string, value: unknown): void {
  const actual = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v), 2) + '\n';
  if (update) writeFileSync(path, actual);
  expect(existsSync(path), `${path} is missing: run with UPDATE_SNAPSHOTS=1`).toBe(true);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

describe('golden compiler output', () => {
  for (const sample of readdirSync(goldenDir).sort()) {
    const dir = join(goldenDir, sample);
    test(`sample '${sample}' lowers to the IR in ir.json and compiles to compiled.json`, () => {
      const { 'input.xdpfw': text, ...others } = filesUnder(dir);
      const result = compileText(text, others);
      expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expectGolden(join(dir, 'ir.json'), result.ir);
      expectGolden(join(dir, 'compiled.json'), compiledToJson(result.compiled!));
    });
  }
});

function rulesOf(text: string): IrRule[] {
  const result = compileText(text);
  expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return result.ir!.interfaces[0].rules;
}

const one = (rule: string, prelude = '') => rulesOf(`${prelude}\ninterface eth0 {\n  ${rule}\n}\n`)[0];

describe('rule identity', () => {
  test('a named rule is identified by its name', () => {
    expect(one('allow tcp dport 22 name "ssh"').id).toBe('ssh');
  });

  test('an unnamed rule is identified by a hash of its meaning', () => {
    expect(one('allow tcp dport 22').id).toMatch(/^rule-[0-9a-f]{12}$/);
  });

  test('whitespace, match order, list order and literal spelling do not change the id', () => {
    const a = one('allow tcp dport { 80, 443 } src { 10.0.0.0/8, 192.0.2.1 }');
    const b = one('allow   src {192.0.2.1/32,10.0.0.0/8}   tcp dport {443,80}');
    expect(b.id).toBe(a.id);
    expect(one('allow tcp flags syn,ack').id).toBe(one('allow tcp flags ack,syn / syn,ack').id);
  });

  test('the action and the values are part of the id', () => {
    const base = one('allow tcp dport 22').id;
    expect(one('drop tcp dport 22').id).not.toBe(base);
    expect(one('allow tcp dport 23').id).not.toBe(base);
    expect(one('allow udp dport 22').id).not.toBe(base);
  });

  test('editing a set does not change the identity of the rule using it', () => {
    const before = one('drop src @block', 'set block { 10.0.0.0/8 }');
    const after = one('drop src @block', 'set block { 10.0.0.0/8, 192.0.2.0/24 }');
    expect(after.id).toBe(before.id);
  });

  test('identical unnamed rules get distinct ids', () => {
    const rules = rulesOf('interface eth0 {\n  allow tcp\n  allow tcp\n  allow tcp\n}\n');
    expect(rules.map((r) => r.id)).toEqual([rules[0].id, `${rules[0].id}-2`, `${rules[0].id}-3`]);
  });
});

describe('lowered rules', () => {
  test('families: addresses, ip4/ip6 and icmp/icmpv6 restrict them; a mixed set keeps both', () => {
    const families = (rule: string, prelude = '') => one(rule, prelude).families;
    expect(families('allow tcp')).toEqual({ ipv4: true, ipv6: true });
    expect(families('allow src 10.0.0.0/8')).toEqual({ ipv4: true, ipv6: false });
    expect(families('allow dst ! 2001:db8::/32')).toEqual({ ipv4: false, ipv6: true });
    expect(families('allow src @m', 'set m { 10.0.0.0/8, 2001:db8::/32 }')).toEqual({ ipv4: true, ipv6: true });
    expect(families('allow src @m dst 2001:db8::1', 'set m { 10.0.0.0/8, 2001:db8::/32 }')).toEqual({ ipv4: false, ipv6: true });
    expect(families('allow ip6')).toEqual({ ipv4: false, ipv6: true });
    expect(families('allow icmp')).toEqual({ ipv4: true, ipv6: false });
    expect(families('allow icmpv6 type echo-request')).toEqual({ ipv4: false, ipv6: true });
    expect(families('allow proto 1')).toEqual({ ipv4: true, ipv6: true });
  });

  test('protocols, ports, flags and types are normalised', () => {
    const rule = one('allow tcp flags syn / syn,ack dport { 443, 80-90, 91, 1000-2000, 1500 } sport $p', 'define p = { 1024-65535 }');
    expect(rule.protocols).toEqual([6]);
    expect(rule.dport).toEqual([
      { low: 80, high: 91 },
      { low: 443, high: 443 },
      { low: 1000, high: 2000 },
    ]);
    expect(rule.sport).toEqual([{ low: 1024, high: 65535 }]);
    expect(rule.tcpFlags).toEqual({ mask: 0x12, value: 0x02 });
    expect(one('allow tcp flags syn,fin').tcpFlags).toEqual({ mask: 0x03, value: 0x03 });
    expect(one('drop tcp flags none / fin,syn,rst,psh,ack,urg').tcpFlags).toEqual({ mask: 0x3f, value: 0 });
    expect(one('allow icmpv6 type { nd-neighbor-advert, 128, nd-neighbor-solicit, 128 }').icmpTypes).toEqual([128, 135, 136]);
    expect(one('allow proto 47').protocols).toEqual([47]);
    expect(one('allow src 10.0.0.0/8').protocols).toBeNull();
  });

  test('prefixes are expanded through sets and defines, deduplicated, sorted and canonical', () => {
    const rule = one(
      'drop src { @a, $d, 2001:DB8:0:0::/32, 10.0.0.0/8 }',
      'set a { 192.0.2.1, 10.0.0.0/8 }\ndefine d = { 2001:db8::/32, @b }\nset b { 0.0.0.0/0 }',
    );
    expect(rule.src!.prefixes.toArray().map((p) => p.text)).toEqual(['0.0.0.0/0', '10.0.0.0/8', '192.0.2.1/32', '2001:db8::/32']);
    expect(rule.src!.prefixes.at(2)).toEqual({ family: 4, bytes: [192, 0, 2, 1], length: 32, text: '192.0.2.1/32' });
    expect(rule.src!.sets).toEqual(['a', 'b']);
    expect(rule.src!.negated).toBe(false);
  });

  test('the rule keeps its source text on one line and its span', () => {
    const rule = one('allow  tcp\t  dport 22    name "ssh"');
    expect(rule.text).toBe('allow tcp dport 22 name "ssh"');
    expect(rule.span.start).toMatchObject({ line: 3, column: 3 });
  });

  test('an interface without default allows; the default statement is located', () => {
    const allow = compileText('interface eth0 { allow tcp }\n').ir!.interfaces[0];
    expect(allow.defaultAction).toBe('allow');
    expect(allow.defaultSpan).toBeUndefined();
    const drop = compileText('interface eth0 {\n  default drop\n  allow icmpv6\n}\n').ir!.interfaces[0];
    expect(drop.defaultAction).toBe('drop');
    expect(drop.defaultSpan?.start).toMatchObject({ line: 2, column: 3 });
  });
});
