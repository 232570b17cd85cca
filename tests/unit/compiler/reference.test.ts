/**
 * The compiled tables against the AST-level reference evaluator
 * (tests/support/reference-evaluator.ts, which shares no code with the
 * compiler), over the differential test's generated policies and packets:
 * the data plane's lookup, simulated in TypeScript, must pick the same rule.
 * The kernel test does the same through the real program; this one runs
 * anywhere and points at the compiler when they disagree.
 */
import ipaddr from 'ipaddr.js';
import { describe, expect, test } from 'vitest';
import { rulesOf } from '../../../src/compiler/structures/bits.js';
import { CT_STATE, FIELD } from '../../../src/contract/kernel.js';
import { compilePolicy } from '../../../src/compiler/index.js';
import { KERNEL_ACTION, type CompiledInterface, type LpmEntry } from '../../../src/compiler/output.js';
import type { Action } from '../../../src/compiler/ir.js';
import { toEntries } from '../../../src/compiler/structures/prefix-classes.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { generatePacket, generatePolicy, Random } from '../../support/generate.js';
import { ReferenceEvaluator } from '../../support/reference-evaluator.js';
import { documentOf } from './helpers.js';

function longest(entries: LpmEntry[], address: number[]): LpmEntry {
  let best: LpmEntry | undefined;
  for (const e of entries) {
    let inside = true;
    for (let bit = 0; bit < e.prefixLength && inside; bit++) {
      const mask = 0x80 >> (bit & 7);
      inside = (address[bit >> 3] & mask) === (e.bytes[bit >> 3] & mask);
    }
    if (inside && (!best || e.prefixLength > best.prefixLength)) best = e;
  }
  return best!;
}

/** What the XDP program does with the compiled maps (docs/DESIGN.md), for a well-formed packet. */
function lookup(c: CompiledInterface, p: PacketSpec): { action: Action; matched: number | 'default' } {
  const firstFragment = !p.fragment || p.fragment.offset === 0;
  const l4 = (present: boolean, value: number | undefined) => (present && firstFragment ? (value ?? 0) : undefined);
  const ports = p.protocol === 6 || p.protocol === 17;
  const icmp = (p.family === 4 && p.protocol === 1) || (p.family === 6 && p.protocol === 58);
  const classes = [c.protoClass[(p.family === 4 ? 0 : 1) * 256 + p.protocol]];
  const on = (field: number) => (c.constants.fields & (1 << field)) !== 0;
  const bytes = (text: string) => ipaddr.parse(text).toByteArray();
  if (on(FIELD.src)) classes.push(longest(toEntries(c[`src${p.family}`], p.family), bytes(p.src)).classId);
  if (on(FIELD.dst)) classes.push(longest(toEntries(c[`dst${p.family}`], p.family), bytes(p.dst)).classId);
  const table = (field: number, t: number[] | null, v: number | undefined) => {
    if (on(field)) classes.push(v === undefined ? c.constants.absentClass[field] : t![v]);
  };
  table(FIELD.sport, c.sportClass, l4(ports, p.sport));
  table(FIELD.dport, c.dportClass, l4(ports, p.dport));
  table(FIELD.tcpflags, c.tcpFlagsClass, l4(p.protocol === 6, p.tcpFlags));
  table(FIELD.icmptype, c.icmpTypeClass, l4(icmp, p.icmpType));
  table(FIELD.ctstate, c.ctStateClass, CT_STATE[p.ctState ?? 'new']);
  const words = c.vectors[classes[0]].map((_, w) => classes.reduce((acc, cls) => acc & c.vectors[cls][w], ~0n));
  const [rule] = rulesOf(words);
  if (rule === undefined) return { action: c.defaultAction, matched: 'default' };
  const action = (Object.keys(KERNEL_ACTION) as Action[]).find((name) => KERNEL_ACTION[name] === c.actions[rule]);
  if (action === undefined) throw new Error(`rule ${rule} has no known action (${c.actions[rule]})`);
  return { action, matched: rule };
}

describe('compiled tables against the reference evaluator', () => {
  test('the simulated data plane agrees with the reference on 100 generated policies × 100 packets', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const r = new Random(50_000 + seed);
      const policy = generatePolicy(r, 24, { ct: true });
      const document = documentOf(policy.text);
      const result = compilePolicy(document);
      expect(
        result.diagnostics.filter((d) => d.severity === 'error'),
        policy.text,
      ).toEqual([]);
      const compiled = result.compiled!.interfaces[0];
      const reference = new ReferenceEvaluator(document, policy.interfaceName);
      for (let k = 0; k < 100; k++) {
        const packet = generatePacket(r, policy);
        const expected = reference.evaluate(packet);
        if (expected.matched === 'malformed') continue; // dropped before classification
        expect(lookup(compiled, packet), `seed ${seed}: ${JSON.stringify(packet)}\n${policy.text}`).toEqual(expected);
      }
    }
  });
});
