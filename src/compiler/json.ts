/**
 * The JSON view of a compiled policy (`xdpfw compile --json`): 64-bit
 * words as hex strings (JSON numbers stop at 2^53), each vector with the
 * rules it holds, the big arrays summarised as runs of equal class
 * (`{"from": 0, "to": 21, "class": 0}`), rules as rule references.
 * A limit's nanoseconds (64-bit) as decimal strings.
 * Deterministic: same compiled policy, same JSON.
 */
import { FIELD } from '../contract/kernel.js';
import { location } from './codes.js';
import { ruleRef } from './rule-ref.js';
import { CT_STATE_NAMES } from './syntax/names.js';
import { rulesOf } from './structures/bits.js';
import type { CompiledInterface, CompiledPolicy, LinearRule, MaskedPrefix, PrefixClasses, RuleTail } from './output.js';
import { prefixCount, prefixText } from './structures/prefix-classes.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const FIELD_NAMES = Object.fromEntries(Object.entries(FIELD).map(([name, bit]) => [bit, name]));

export function compiledToJson(c: CompiledPolicy): JsonValue {
  return {
    interfaces: c.interfaces.map(interfaceToJson),
    protects: c.protects.map((p) => ({ text: p.text, at: location(p.span) })),
    conntrack: c.conntrack && { ...c.conntrack, timeouts: { ...c.conntrack.timeouts } },
    limits: c.limits && { size: c.limits.size },
  };
}

/** A rule's `ct state` mask as the names it holds. */
const ctStateNames = (mask: number): string[] => CT_STATE_NAMES.filter((_, state) => (mask & (1 << state)) !== 0);

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
      fields: constants.fields,
      enabledFields: fieldNames,
      defaultAction: constants.defaultAction,
      absentClass: Object.fromEntries(constants.absentClass.map((cls, bit) => [FIELD_NAMES[bit], cls])),
      classification: constants.linear ? 'linear' : 'bit-vectors',
      ct: constants.ct,
      reject: constants.reject === true,
      auditRules: constants.auditRules === true,
      auditMode: constants.auditMode === true,
      log: constants.log === true,
    },
    rules: c.rules.map((r) => ({ ...ruleRef(r), action: r.action, audit: r.audit === true, log: r.log === true, text: r.text })),
    actions: c.actions,
    linear: constants.linear && constants.linear.map(linearRuleToJson),
    tails: c.tails.map((tail) => tail && tailToJson(tail)),
    dynamicSets: c.dynamicSets.map((set) => ({ name: set.name, timeout: set.timeout, size: set.size })),
    limits: c.limits && { size: c.limits.size },
    vectors: c.vectors.map((words, cls) => ({
      class: cls,
      words: Array.from(words, (w) => `0x${w.toString(16).padStart(16, '0')}`),
      rules: rulesOf(words),
    })),
    proto: [
      ...runs(c.protoClass.slice(0, 256)).map((r) => ({ family: 'ipv4', ...r })),
      ...runs(c.protoClass.slice(256)).map((r) => ({ family: 'ipv6', ...r })),
    ],
    sport: c.sportClass && runs(c.sportClass),
    dport: c.dportClass && runs(c.dportClass),
    tcpFlags: c.tcpFlagsClass && runs(c.tcpFlagsClass),
    icmpType: c.icmpTypeClass && runs(c.icmpTypeClass),
    ctState: c.ctStateClass && Object.fromEntries(CT_STATE_NAMES.map((name, state) => [name, c.ctStateClass![state]])),
    src4: trie(c.src4, 4),
    src6: trie(c.src6, 6),
    dst4: trie(c.dst4, 4),
    dst6: trie(c.dst6, 6),
  };
}

/** A rule of the linear path: unchecked fields null; address words (as a little-endian load sees them) and flags as numbers. */
function linearRuleToJson(r: LinearRule, index: number): JsonValue {
  const address = (a: MaskedPrefix | null): JsonValue =>
    a && { family: a.family, value: [...a.value], mask: [...a.mask], negated: a.negated };
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
    tcpFlags: r.tcpFlags && { mask: r.tcpFlags.mask, value: r.tcpFlags.value },
    icmpType: r.icmpType,
    ctStates: r.ctStates === null ? null : ctStateNames(r.ctStates),
  };
}

/** A rule's tail; set indices as in `dynamicSets`. */
function tailToJson(t: RuleTail): JsonValue {
  const condition = (c: RuleTail['srcSet']): JsonValue => c && { set: c.set, negated: c.negated };
  const limit = t.limit;
  return {
    srcSet: condition(t.srcSet),
    dstSet: condition(t.dstSet),
    limit: limit && {
      id: limit.id,
      over: limit.over,
      rate: limit.rate,
      unit: limit.unit,
      burst: limit.burst,
      costNs: limit.costNs.toString(),
      capacityNs: limit.capacityNs.toString(),
      per: limit.per && { ...limit.per },
    },
    ban: t.ban && { set: t.ban.set, seconds: t.ban.seconds },
    audit: t.audit === true,
  };
}

function trie(entries: PrefixClasses, family: 4 | 6): JsonValue {
  return Array.from({ length: prefixCount(entries) }, (_, i) => ({ prefix: prefixText(entries, family, i), class: entries.classId[i] }));
}

/** Runs of equal class over a direct-indexed table (ports, protocols, flags bytes, types): `{ from: 0, to: 21, class: 0 }`. */
function runs(values: number[]): { from: number; to: number; class: number }[] {
  const out: { from: number; to: number; class: number }[] = [];
  let start = 0;
  for (let i = 1; i <= values.length; i++) {
    if (i < values.length && values[i] === values[start]) continue;
    out.push({ from: start, to: i - 1, class: values[start] });
    start = i;
  }
  return out;
}
