/**
 * The shadowed-rule check's containment test, as properties over random
 * policies: it is sound (when it says an earlier rule covers a later one,
 * every sampled packet matching the later rule matches the earlier), and the
 * check reports exactly the first covering rule for each shadowed rule.
 */
import { describe, expect, test } from 'vitest';
import { covers } from '../../../src/compiler/checks/shadowed-rule.js';
import { compileText } from './helpers.js';
import { ruleHolds as ruleMatches } from './oracle.js';
import { Random, randomPacket, randomPolicy, toBytes, toValue } from '../../support/generate.js';

describe('shadowing', () => {
  test('covers() is sound: a covered rule never matches a packet its coverer does not', () => {
    let coveredPairs = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const r = new Random(20_000 + seed);
      const ir = compileText(randomPolicy(r, 30)).ir!.interfaces[0];
      const addresses: { 4: number[][]; 6: number[][] } = { 4: [], 6: [] };
      for (const rule of ir.rules) {
        for (const p of [...(rule.src?.prefixes ?? []), ...(rule.dst?.prefixes ?? [])]) {
          const start = toValue(p.bytes);
          const span = 1n << BigInt(p.bytes.length * 8 - p.length);
          for (const v of [start, start + span - 1n, start + span, start - 1n]) {
            if (v >= 0n && v < 1n << BigInt(p.bytes.length * 8)) addresses[p.family].push(toBytes(p.family, v));
          }
        }
      }
      addresses[4].push([10, 0, 0, 1], [192, 0, 2, 1]);
      addresses[6].push(toBytes(6, 1n));
      const packets = Array.from({ length: 300 }, () => randomPacket(r, addresses));
      for (const a of ir.rules) {
        for (const b of ir.rules) {
          if (a === b || !covers(a, b)) continue;
          coveredPairs++;
          for (const p of packets) if (ruleMatches(b, p)) expect(ruleMatches(a, p), `${a.text} ⊇ ${b.text}`).toBe(true);
        }
      }
    }
    expect(coveredPairs).toBeGreaterThan(100);
  });

  test('the check names the first earlier rule that covers each shadowed rule', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const result = compileText(randomPolicy(new Random(30_000 + seed), 30));
      const rules = result.ir!.interfaces[0].rules;
      const expected = rules.flatMap((b) => {
        const a = rules.slice(0, b.index).find((x) => covers(x, b));
        return a ? [`${b.span.start.line}<-${a.span.start.line}`] : [];
      });
      const reported = result.diagnostics
        .filter((d) => d.code === 'shadowed-rule')
        .map((d) => `${d.span.start.line}<-${/at line (\d+)/.exec(d.message)![1]}`);
      expect(reported).toEqual(expected);
    }
  });
});
