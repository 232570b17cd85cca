/**
 * The JSON view of a compiled policy (`xdpfw compile --json`): bigints as
 * hex strings, each vector with the rules it holds, and the big arrays
 * summarised as runs of equal class (`{"ports": "0-21", "class": 0}`).
 * Deterministic: same compiled policy, same JSON.
 */
import { FIELD } from '../contract/kernel.js';
import { rulesOf } from './structures/bits.js';
import { classificationText } from './passes/linear.js';
import type { CompiledInterface, CompiledPolicy, LinearRule, MaskedPrefix, PrefixClasses } from './output.js';
import { prefixCount, prefixText } from './structures/prefix-classes.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const FIELD_NAMES = Object.fromEntries(Object.entries(FIELD).map(([name, bit]) => [bit, name]));

export function compiledToJson(c: CompiledPolicy): JsonValue {
  return { interfaces: c.interfaces.map(interfaceToJson) };
}

function interfaceToJson(c: CompiledInterface): JsonValue {
  const { constants } = c;
  const fieldNames = Object.keys(FIELD_NAMES)
    .map(Number)
    .filter((bit) => constants.fields & (1 << bit))
    .map((bit) => FIELD_NAMES[bit]);
  return {
    name: c.name,
    hash: c.hash,
    defaultAction: c.defaultAction,
    constants: {
      nrules: constants.nrules,
      nwords: constants.nwords,
      fields: hex(constants.fields, 2),
      enabledFields: fieldNames,
      defaultAction: constants.defaultAction,
      absentClass: Object.fromEntries(constants.absentClass.map((cls, bit) => [FIELD_NAMES[bit], cls])),
      classification: classificationText(constants),
    },
    rules: c.rules.map((r) => {
      const rule: { [key: string]: JsonValue } = { index: r.index, id: r.id };
      if (r.name !== undefined) rule.name = r.name;
      return { ...rule, action: r.action, text: r.text, location: r.location };
    }),
    actions: c.actions,
    linear: constants.linear && constants.linear.map(linearRuleToJson),
    vectors: c.vectors.map((words, cls) => ({
      class: cls,
      words: Array.from(words, (w) => `0x${w.toString(16).padStart(16, '0')}`),
      rules: rulesOf(words),
    })),
    proto: [
      ...runs(c.protoClass.slice(0, 256)).map((r) => ({ family: 'ipv4', protocols: r.range, class: r.cls })),
      ...runs(c.protoClass.slice(256)).map((r) => ({ family: 'ipv6', protocols: r.range, class: r.cls })),
    ],
    sport: c.sportClass && runs(c.sportClass).map((r) => ({ ports: r.range, class: r.cls })),
    dport: c.dportClass && runs(c.dportClass).map((r) => ({ ports: r.range, class: r.cls })),
    tcpFlags: c.tcpFlagsClass && runs(c.tcpFlagsClass, (v) => hex(v, 2)).map((r) => ({ flags: r.range, class: r.cls })),
    icmpType: c.icmpTypeClass && runs(c.icmpTypeClass).map((r) => ({ types: r.range, class: r.cls })),
    src4: trie(c.src4, 4),
    src6: trie(c.src6, 6),
    dst4: trie(c.dst4, 4),
    dst6: trie(c.dst6, 6),
  };
}

/** A rule of the linear path: unchecked fields null, addresses and flags as hex like the vectors. */
function linearRuleToJson(r: LinearRule, index: number): JsonValue {
  const address = (a: MaskedPrefix | null): JsonValue =>
    a && { family: a.family, value: a.value.map((w) => hex(w, 8)), mask: a.mask.map((w) => hex(w, 8)), negated: a.negated };
  const families = (['ipv4', 'ipv6'] as const).filter((f) => r.families[f]);
  return {
    rule: index,
    action: r.action,
    families,
    protocol: r.protocol,
    src: address(r.src),
    dst: address(r.dst),
    sport: r.sport && { low: r.sport.low, high: r.sport.high },
    dport: r.dport && { low: r.dport.low, high: r.dport.high },
    tcpFlags: r.tcpFlags && { mask: hex(r.tcpFlags.mask, 2), value: hex(r.tcpFlags.value, 2) },
    icmpType: r.icmpType,
  };
}

function trie(entries: PrefixClasses, family: 4 | 6): JsonValue {
  return Array.from({ length: prefixCount(entries) }, (_, i) => ({ prefix: prefixText(entries, family, i), class: entries.classId[i] }));
}

/** Runs of equal class: `{ range: "0-21", cls: 0 }`. */
function runs(values: number[], show: (v: number) => string = String): { range: string; cls: number }[] {
  const out: { range: string; cls: number }[] = [];
  let start = 0;
  for (let i = 1; i <= values.length; i++) {
    if (i < values.length && values[i] === values[start]) continue;
    const range = i - 1 === start ? show(start) : `${show(start)}-${show(i - 1)}`;
    out.push({ range, cls: values[start] });
    start = i;
  }
  return out;
}

function hex(value: number, digits: number): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}
