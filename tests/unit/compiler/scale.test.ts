/**
 * Scale: 4,096 rules and a 1,000,000-entry set compile in well under 2 s
 * (times are printed; the assertion's bound is generous, this is not a
 * benchmark), and a sample of the result is checked against the IR.
 */
import { describe, expect, test } from 'vitest';
import { rulesOf } from '../../../src/compiler/structures/bits.js';
import type { FieldPacket } from '../../../src/compiler/evaluate.js';
import { FIELD } from '../../../src/contract/kernel.js';
import { compilePolicy } from '../../../src/compiler/index.js';
import type { CompiledInterface, LpmEntry, PrefixClasses } from '../../../src/compiler/output.js';
import { prefixCount, toEntries } from '../../../src/compiler/structures/prefix-classes.js';
import { documentOf } from './helpers.js';
import { firstHolding } from './oracle.js';
import { Random } from '../../support/generate.js';

/** A third single hosts in 100.0.0.0/8, the rest /24s in 1.0.0.0–64.0.0.0: not sorted, as a merged list would be. */
function bigSet(n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 3 === 0) lines.push(`100.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    else lines.push(`${1 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}.0/24`);
  }
  return `${lines.join('\n')}\n`;
}

/** Every field constrained by some rule; the set's rule first. */
function manyRules(n: number): string {
  const lines = ['set big from "big.txt"', 'interface eth0 {', '  default drop', '  drop src @big name "big"'];
  for (let i = 1; i < n; i++) {
    const k = i & 255;
    lines.push(
      [
        `  allow tcp dport ${i}`,
        `  allow udp dport ${i}-${i + 100} src 172.${16 + (i % 16)}.${k}.0/24`,
        `  drop dst 2001:db8:${i.toString(16)}::/48 tcp flags syn / syn,ack`,
        `  allow icmp type ${k} src 192.168.${k}.0/24`,
        `  allow tcp sport ${i} dport 443 dst 10.${k}.${i >> 8}.0/24`,
        `  drop src ! 10.0.0.0/8 proto ${k}`,
      ][i % 6],
    );
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** The longest entry containing the address: a map from (length, masked address) to entry, tried longest first. */
const tries = new WeakMap<PrefixClasses, Map<string, LpmEntry>>();
function lookup(columns: PrefixClasses, address: number[]): LpmEntry {
  let byKey = tries.get(columns);
  if (!byKey) {
    const entries = toEntries(columns, address.length === 4 ? 4 : 6);
    tries.set(columns, (byKey = new Map(entries.map((e) => [`${e.prefixLength}/${e.bytes.join('.')}`, e]))));
  }
  for (let length = address.length * 8; length >= 0; length--) {
    const masked = address.map((b, i) => b & ((0xff00 >> Math.max(0, Math.min(8, length - 8 * i))) & 0xff));
    const entry = byKey.get(`${length}/${masked.join('.')}`);
    if (entry) return entry;
  }
  throw new Error('no /0 entry');
}

function firstMatch(c: CompiledInterface, p: FieldPacket): number | undefined {
  const classes = [c.protoClass[(p.family === 4 ? 0 : 1) * 256 + p.protocol]];
  const on = (field: number) => (c.constants.fields & (1 << field)) !== 0;
  if (on(FIELD.src)) classes.push(lookup(p.family === 4 ? c.src4 : c.src6, p.src).classId);
  if (on(FIELD.dst)) classes.push(lookup(p.family === 4 ? c.dst4 : c.dst6, p.dst).classId);
  const table = (field: number, t: number[] | null, v: number | undefined) => {
    if (on(field)) classes.push(v === undefined ? c.constants.absentClass[field] : t![v]);
  };
  table(FIELD.sport, c.sportClass, p.sport);
  table(FIELD.dport, c.dportClass, p.dport);
  table(FIELD.tcpflags, c.tcpFlagsClass, p.tcpFlags);
  table(FIELD.icmptype, c.icmpTypeClass, p.icmpType);
  const words = c.vectors[classes[0]].map((_, w) => classes.reduce((acc, cls) => acc & c.vectors[cls][w], ~0n));
  return rulesOf(words)[0];
}

describe('scale', () => {
  test('4,096 rules and a 1,000,000-entry set compile in well under 2 s, and a sample is right', () => {
    const document = documentOf(manyRules(4096), { 'big.txt': bigSet(1_000_000) });
    const start = performance.now();
    const result = compilePolicy(document);
    const elapsed = performance.now() - start;
    console.log(`compilePolicy: 4,096 rules + 1,000,000-entry set: ${elapsed.toFixed(0)} ms`);
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const ir = result.ir!.interfaces[0];
    const c = result.compiled!.interfaces[0];
    expect(c.constants).toMatchObject({ nrules: 4096, nwords: 64 });
    const distinct = new Set(
      ir.rules.flatMap((rule) => (rule.src?.prefixes.toArray() ?? []).filter((p) => p.family === 4).map((p) => p.text)),
    );
    expect(prefixCount(c.src4)).toBe(distinct.size + (distinct.has('0.0.0.0/0') ? 0 : 1));
    expect(elapsed).toBeLessThan(10_000); // generous: a loaded CI machine is not a benchmark

    const r = new Random(42);
    const v4 = () =>
      r.pick([
        [100, r.int(0, 15), r.int(0, 255), r.int(0, 255)],
        [r.int(1, 64), r.int(0, 255), r.int(0, 255), r.int(0, 255)],
        [172, r.int(16, 31), r.int(0, 255), 1],
        [192, 168, r.int(0, 255), 9],
        [10, r.int(0, 255), r.int(0, 15), 3],
        [203, 0, 113, r.int(0, 255)],
      ]);
    for (let k = 0; k < 200; k++) {
      const protocol = r.pick([6, 17, 1, 47, r.int(0, 255)]);
      const family = r.chance(0.8) ? 4 : 6;
      const v6 = () => [0x20, 0x01, 0x0d, 0xb8, r.int(0, 15), r.int(0, 255), ...new Array(10).fill(0)];
      const packet: FieldPacket = { family, protocol, src: family === 4 ? v4() : v6(), dst: family === 4 ? v4() : v6() };
      if (protocol === 6 || protocol === 17) {
        packet.sport = r.pick([r.int(0, 4200), r.int(0, 65535)]);
        packet.dport = r.pick([443, r.int(0, 4200), r.int(0, 65535)]);
      }
      if (protocol === 6) packet.tcpFlags = r.int(0, 255);
      if (protocol === 1 && family === 4) packet.icmpType = r.int(0, 255);
      expect(firstMatch(c, packet), JSON.stringify(packet)).toBe(firstHolding(ir.rules, packet)?.index);
    }
  }, 120_000);
});
