/**
 * The core correctness property of the classifier: for every field and every
 * (sampled) value, the class's vector is exactly the set of rules whose match
 * on that field holds, computed naively from the IR; and the data plane's
 * lookup (AND of the enabled fields' vectors, lowest bit) picks the rule the
 * IR's first-match evaluation picks.
 */
import { describe, expect, test } from 'vitest';
import { rulesOf } from '../../../src/compiler/structures/bits.js';
import { evaluate, type FieldPacket } from '../../../src/compiler/evaluate.js';
import { FIELD } from '../../../src/contract/kernel.js';
import type { IrInterface, IrRule } from '../../../src/compiler/ir.js';
import type { CompiledInterface, LpmEntry } from '../../../src/compiler/output.js';
import { toEntries } from '../../../src/compiler/structures/prefix-classes.js';
import { compileText } from './helpers.js';
import {
  addressHolds as addressMatches,
  familyHolds as familyMatches,
  firstHolding,
  flagsHold as tcpFlagsMatch,
  portHolds as portMatches,
  protocolHolds as protocolMatches,
  typeHolds as icmpTypeMatches,
  ctStateHolds,
  CT_STATE_NUMBERS,
} from './oracle.js';
import { Random, randomPacket, randomPolicy, toBytes, toValue } from '../../support/generate.js';

const POLICIES = 200;

function compiled(text: string): { ir: IrInterface; c: CompiledInterface } {
  const result = compileText(text);
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  expect(errors, text).toEqual([]);
  return { ir: result.ir!.interfaces[0], c: result.compiled!.interfaces[0] };
}

const vectorOf = (c: CompiledInterface, cls: number) => rulesOf(c.vectors[cls]);
const rulesWhere = (ir: IrInterface, holds: (r: IrRule) => boolean) => ir.rules.filter(holds).map((r) => r.index);

/** The data plane's LPM lookup, naively: the longest entry containing the address. */
function lpmLookup(entries: LpmEntry[], address: readonly number[]): LpmEntry | undefined {
  const value = toValue(address);
  const bits = BigInt(address.length * 8);
  let best: LpmEntry | undefined;
  for (const e of entries) {
    const host = bits - BigInt(e.prefixLength);
    if (value >> host === toValue(e.bytes) >> host && (!best || e.prefixLength > best.prefixLength)) best = e;
  }
  return best;
}

/** Addresses at and around every prefix of the policy's entries, plus a few random ones. */
function sampleAddresses(r: Random, c: CompiledInterface, ir: IrInterface): { 4: number[][]; 6: number[][] } {
  const out: { 4: number[][]; 6: number[][] } = { 4: [], 6: [] };
  const prefixes = ir.rules.flatMap((rule) => [...(rule.src?.prefixes ?? []), ...(rule.dst?.prefixes ?? [])]);
  for (const p of prefixes) {
    const width = BigInt(p.bytes.length * 8);
    const max = (1n << width) - 1n;
    const start = toValue(p.bytes);
    const end = start + (1n << (width - BigInt(p.length))) - 1n;
    const inside = start + (BigInt(r.int(0, 1 << 20)) % (end - start + 1n));
    for (const v of [start, end, inside, start - 1n, end + 1n]) {
      if (v >= 0n && v <= max) out[p.family].push(toBytes(p.family, v));
    }
  }
  out[4].push([10, 0, 0, 1], [192, 0, 2, 1], [0, 0, 0, 0], [255, 255, 255, 255]);
  out[6].push(toBytes(6, 0x20010db8n << 96n), toBytes(6, 1n), toBytes(6, (1n << 128n) - 1n));
  void c;
  return out;
}

function packetVector(c: CompiledInterface, p: FieldPacket): number[] {
  const classes: number[] = [c.protoClass[(p.family === 4 ? 0 : 1) * 256 + p.protocol]];
  const enabled = (field: number) => (c.constants.fields & (1 << field)) !== 0;
  const trie = (field: 'src' | 'dst') => toEntries(c[`${field}${p.family}`], p.family);
  if (enabled(FIELD.src)) classes.push(lpmLookup(trie('src'), p.src)!.classId);
  if (enabled(FIELD.dst)) classes.push(lpmLookup(trie('dst'), p.dst)!.classId);
  const lookup = (field: number, table: number[] | null, value: number | undefined) => {
    if (!enabled(field)) return;
    classes.push(value === undefined ? c.constants.absentClass[field] : table![value]);
  };
  lookup(FIELD.sport, c.sportClass, p.sport);
  lookup(FIELD.dport, c.dportClass, p.dport);
  lookup(FIELD.tcpflags, c.tcpFlagsClass, p.tcpFlags);
  lookup(FIELD.icmptype, c.icmpTypeClass, p.icmpType);
  lookup(FIELD.ctstate, c.ctStateClass, CT_STATE_NUMBERS[p.ctState ?? 'new']);
  const words = c.vectors[classes[0]].map((_, w) => classes.reduce((acc, cls) => acc & c.vectors[cls][w], ~0n));
  return rulesOf(words);
}

describe('classification', () => {
  test(`every class vector equals the rules whose field match holds, over ${POLICIES} random policies`, () => {
    for (let seed = 1; seed <= POLICIES; seed++) {
      const r = new Random(seed);
      const text = randomPolicy(r);
      const { ir, c } = compiled(text);
      const where = (what: string) => `seed ${seed}, ${what}\n${text}`;
      expect(c.vectors.every((v) => v.length === c.constants.nwords)).toBe(true);

      // Protocol: family folded in.
      for (const family of [4, 6] as const) {
        for (let p = 0; p < 256; p++) {
          const cls = c.protoClass[(family === 4 ? 0 : 1) * 256 + p];
          const want = rulesWhere(ir, (rule) => familyMatches(rule, family) && protocolMatches(rule, p));
          expect(vectorOf(c, cls), where(`proto ${family}/${p}`)).toEqual(want);
        }
      }
      // Absent classes: exactly the rules not constraining the field.
      const unconstrained = [
        (x: IrRule) => x.protocols === null,
        (x: IrRule) => x.src === null,
        (x: IrRule) => x.dst === null,
        (x: IrRule) => x.sport === null,
        (x: IrRule) => x.dport === null,
        (x: IrRule) => x.tcpFlags === null,
        (x: IrRule) => x.icmpTypes === null,
        (x: IrRule) => x.ctStates === null,
      ];
      unconstrained.forEach((holds, field) => {
        expect(vectorOf(c, c.constants.absentClass[field]), where(`absent ${field}`)).toEqual(rulesWhere(ir, holds));
        const enabled = (c.constants.fields & (1 << field)) !== 0;
        expect(enabled, where(`field ${field} enabled`)).toBe(field === 0 || ir.rules.some((x) => !holds(x)));
      });
      // Ports: every interval edge and its neighbours, and random ports.
      for (const field of ['sport', 'dport'] as const) {
        const table = field === 'sport' ? c.sportClass : c.dportClass;
        if (!ir.rules.some((x) => x[field] !== null)) {
          expect(table).toBeNull();
          continue;
        }
        expect(table).toHaveLength(65536);
        const edges = ir.rules.flatMap((x) => (x[field] ?? []).flatMap((i) => [i.low - 1, i.low, i.high, i.high + 1]));
        const samples = [0, 65535, ...edges, ...Array.from({ length: 20 }, () => r.int(0, 65535))];
        for (const port of samples.filter((p) => p >= 0 && p <= 65535)) {
          const want = rulesWhere(ir, (x) => portMatches(x[field], port));
          expect(vectorOf(c, table![port]), where(`${field} ${port}`)).toEqual(want);
        }
      }
      // TCP flags and ICMP types: every value.
      for (let v = 0; v < 256; v++) {
        if (c.tcpFlagsClass) {
          expect(vectorOf(c, c.tcpFlagsClass[v]), where(`flags ${v}`)).toEqual(rulesWhere(ir, (x) => tcpFlagsMatch(x, v)));
        }
        if (c.icmpTypeClass) {
          expect(vectorOf(c, c.icmpTypeClass[v]), where(`type ${v}`)).toEqual(rulesWhere(ir, (x) => icmpTypeMatches(x, v)));
        }
      }
      // Connection states: each of the four.
      expect(c.ctStateClass === null, where('ct state table')).toBe(!ir.rules.some((x) => x.ctStates !== null));
      for (let state = 0; state < 4 && c.ctStateClass; state++) {
        expect(vectorOf(c, c.ctStateClass[state]), where(`ct state ${state}`)).toEqual(rulesWhere(ir, (x) => ctStateHolds(x, state)));
      }
      // Addresses: the longest matching entry's vector, for addresses around every prefix.
      const addresses = sampleAddresses(r, c, ir);
      for (const field of ['src', 'dst'] as const) {
        for (const family of [4, 6] as const) {
          const entries = toEntries(c[`${field}${family}`], family);
          if (!ir.rules.some((x) => x[field] !== null)) {
            expect(entries).toEqual([]);
            continue;
          }
          expect(
            entries.some((e) => e.prefixLength === 0),
            where(`${field}${family} has /0`),
          ).toBe(true);
          for (const address of addresses[family]) {
            const entry = lpmLookup(entries, address)!;
            const want = rulesWhere(ir, (x) => familyMatches(x, family) && addressMatches(x[field], family, address));
            expect(vectorOf(c, entry.classId), where(`${field} ${address.join('.')}`)).toEqual(want);
          }
        }
      }
    }
  });

  test(`the data plane's lookup picks the IR's first matching rule, over ${POLICIES} random policies`, () => {
    for (let seed = 1; seed <= POLICIES; seed++) {
      const r = new Random(10_000 + seed);
      const text = randomPolicy(r);
      const { ir, c } = compiled(text);
      const addresses = sampleAddresses(r, c, ir);
      for (let k = 0; k < 100; k++) {
        const packet = randomPacket(r, addresses);
        const matching = packetVector(c, packet);
        const verdict = evaluate(ir, packet);
        expect(matching[0], `seed ${seed} ${JSON.stringify(packet)}\n${text}`).toBe(firstHolding(ir.rules, packet)?.index);
        expect(verdict.rule?.index).toBe(matching[0]);
        const action = matching.length > 0 ? c.actions[matching[0]] : c.constants.defaultAction;
        expect(action).toBe(verdict.action === 'drop' ? 1 : 2);
      }
    }
  });
});
