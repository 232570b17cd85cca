/**
 * Classification (LBVS): per field, the value space is partitioned into
 * classes, each the bit vector of the rules whose match on that field holds
 * for the value; vectors are deduplicated into one table and every lookup
 * table maps a value to a class id. Semantics: docs/DESIGN.md, ir.ts.
 *
 * Class ids are numbered in order of first appearance in a fixed walk:
 * absent classes (by field), protocol table, src4, src6, dst4, dst6, sport,
 * dport, TCP flags, ICMP type, ct state — so the same IR always gives the same ids.
 */
import { CTSTATE_CLS_ENTRIES, FIELD, NFIELDS } from '../../contract/kernel.js';
import { BitsArena, bitsOf, clearBit, setBit, VectorTable, words32, type Bits } from '../structures/bits.js';
import type { IrInterface, IrRule, PortInterval } from '../ir.js';
import { buildLpmEntries } from '../structures/lpm.js';
import type { PrefixClasses } from '../output.js';
import { emptyPrefixClasses } from '../structures/prefix-classes.js';

export interface Classification {
  table: VectorTable;
  /** cfg_fields */
  fields: number;
  absentClass: number[];
  protoClass: number[];
  src4: PrefixClasses;
  src6: PrefixClasses;
  dst4: PrefixClasses;
  dst6: PrefixClasses;
  sportClass: number[] | null;
  dportClass: number[] | null;
  tcpFlagsClass: number[] | null;
  icmpTypeClass: number[] | null;
  ctStateClass: number[] | null;
}

/** Whether the rule constrains each field (index = FIELD.*). */
const CONSTRAINS: readonly ((r: IrRule) => boolean)[] = [
  (r) => r.protocols !== null,
  (r) => r.src !== null,
  (r) => r.dst !== null,
  (r) => r.sport !== null,
  (r) => r.dport !== null,
  (r) => r.tcpFlags !== null,
  (r) => r.icmpTypes !== null,
  (r) => r.ctStates !== null,
];

export function classify(iface: IrInterface): Classification {
  const rules = iface.rules;
  const size = words32(rules.length);
  const table = new VectorTable();
  const unconstrained = (field: number) =>
    bitsOf(
      size,
      rules.filter((r) => !CONSTRAINS[field](r)).map((r) => r.index),
    );

  // Absent: the packet lacks the field, so exactly the rules not constraining it hold.
  const absentClass = Array.from({ length: NFIELDS }, (_, field) => table.intern(unconstrained(field)));
  let fields = 1 << FIELD.proto;
  for (let field = 1; field < NFIELDS; field++) if (rules.some(CONSTRAINS[field])) fields |= 1 << field;
  const enabled = (field: number) => (fields & (1 << field)) !== 0;

  const protoClass = protocolTable(rules, size, table);
  const lpm = (field: 'src' | 'dst', family: 4 | 6) =>
    enabled(field === 'src' ? FIELD.src : FIELD.dst) ? buildLpmEntries(rules, field, family, size, table) : emptyPrefixClasses(family);
  const src4 = lpm('src', 4);
  const src6 = lpm('src', 6);
  const dst4 = lpm('dst', 4);
  const dst6 = lpm('dst', 6);
  const ports = (field: 'sport' | 'dport', index: number) => (enabled(index) ? portTable(rules, field, unconstrained(index), table) : null);
  const sportClass = ports('sport', FIELD.sport);
  const dportClass = ports('dport', FIELD.dport);
  const tcpFlagsClass = enabled(FIELD.tcpflags) ? tcpFlagsTable(rules, unconstrained(FIELD.tcpflags), table) : null;
  const icmpTypeClass = enabled(FIELD.icmptype) ? icmpTypeTable(rules, unconstrained(FIELD.icmptype), table) : null;
  const ctStateClass = enabled(FIELD.ctstate) ? ctStateTable(rules, unconstrained(FIELD.ctstate), table) : null;
  return {
    table,
    fields,
    absentClass,
    protoClass,
    src4,
    src6,
    dst4,
    dst6,
    sportClass,
    dportClass,
    tcpFlagsClass,
    icmpTypeClass,
    ctStateClass,
  };
}

/**
 * 512 entries, family * 256 + protocol. The family constraint is folded in,
 * and only existing rules have bits: this field is always on, so it is what
 * keeps the bits of rules beyond nrules (and of the other family) at 0.
 */
function protocolTable(rules: readonly IrRule[], size: number, table: VectorTable): number[] {
  const out: number[] = [];
  for (const family of [4, 6] as const) {
    const ofFamily = rules.filter((r) => (family === 4 ? r.families.ipv4 : r.families.ipv6));
    const base = bitsOf(
      size,
      ofFamily.filter((r) => r.protocols === null).map((r) => r.index),
    );
    const arena = new BitsArena(size);
    const perProtocol: Bits[] = Array.from({ length: 256 }, () => arena.copy(base));
    for (const r of ofFamily) for (const p of r.protocols ?? []) setBit(perProtocol[p], r.index);
    for (const bits of perProtocol) out.push(table.intern(bits));
  }
  return out;
}

/** 65,536 entries, by a sweep over the interval boundaries: one vector per elementary interval. */
function portTable(rules: readonly IrRule[], field: 'sport' | 'dport', base: Bits, table: VectorTable): number[] {
  const enter = new Map<number, number[]>();
  const leave = new Map<number, number[]>();
  const add = (map: Map<number, number[]>, at: number, rule: number) => {
    const list = map.get(at);
    if (list) list.push(rule);
    else map.set(at, [rule]);
  };
  for (const r of rules) {
    for (const { low, high } of (r[field] ?? []) as PortInterval[]) {
      add(enter, low, r.index);
      if (high < 65535) add(leave, high + 1, r.index);
    }
  }
  const boundaries = [...new Set([0, ...enter.keys(), ...leave.keys()])].sort((a, b) => a - b);
  const out = new Array<number>(65536);
  const current = base.slice();
  boundaries.forEach((at, k) => {
    for (const r of leave.get(at) ?? []) clearBit(current, r);
    for (const r of enter.get(at) ?? []) setBit(current, r);
    const id = table.intern(current);
    const end = k + 1 < boundaries.length ? boundaries[k + 1] : 65536;
    out.fill(id, at, end);
  });
  return out;
}

/** 256 entries: flags byte → rules whose (flags & mask) === value, plus the unconstrained. */
function tcpFlagsTable(rules: readonly IrRule[], base: Bits, table: VectorTable): number[] {
  const groups = new Map<number, { mask: number; value: number; rules: number[] }>();
  for (const r of rules) {
    if (!r.tcpFlags) continue;
    const key = r.tcpFlags.mask * 256 + r.tcpFlags.value;
    const group = groups.get(key) ?? { ...r.tcpFlags, rules: [] };
    group.rules.push(r.index);
    groups.set(key, group);
  }
  const out: number[] = [];
  for (let flags = 0; flags < 256; flags++) {
    const bits = base.slice();
    for (const g of groups.values()) if ((flags & g.mask) === g.value) for (const r of g.rules) setBit(bits, r);
    out.push(table.intern(bits));
  }
  return out;
}

/** 256 entries, shared by ICMP and ICMPv6: the protocol vector tells a rule's protocol apart. */
function icmpTypeTable(rules: readonly IrRule[], base: Bits, table: VectorTable): number[] {
  const perType: Bits[] = Array.from({ length: 256 }, () => base.slice());
  for (const r of rules) for (const t of r.icmpTypes ?? []) setBit(perType[t], r.index);
  return perType.map((bits) => table.intern(bits));
}

/** CTSTATE_CLS_ENTRIES (4) entries, one per enum xdpfw_ct_state: the rules whose mask holds the state, plus the unconstrained. */
function ctStateTable(rules: readonly IrRule[], base: Bits, table: VectorTable): number[] {
  return Array.from({ length: CTSTATE_CLS_ENTRIES }, (_, state) => {
    const bits = base.slice();
    for (const r of rules) if (r.ctStates !== null && (r.ctStates & (1 << state)) !== 0) setBit(bits, r.index);
    return table.intern(bits);
  });
}
