/**
 * The last pass: what the earlier passes decided for one IR interface,
 * assembled into its CompiledInterface — the load-time constants and the
 * content of every map of bpf/xdpfw.h (output.ts) — and hashed.
 */
import { location } from '../codes.js';
import type { IrInterface } from '../ir.js';
import { KERNEL_ACTION, type CompiledInterface, type CompiledRule, type LinearRule } from '../output.js';
import type { AddressLookups } from './address-tables.js';
import type { Classification } from './classify.js';
import { compileTails } from './emit-tail.js';
import { hashCompiled, type HashedPart } from './hash.js';

export function emitInterface(
  ir: IrInterface,
  c: Classification,
  linear: LinearRule[] | null,
  { addressLookup, addressTables }: AddressLookups,
): CompiledInterface {
  const nrules = ir.rules.length;
  const rules = ir.rules.map((r): CompiledRule => {
    const rule: CompiledRule = { index: r.index, id: r.id, action: r.action, text: r.text, location: location(r.span) };
    if (r.name !== undefined) rule.name = r.name;
    if (r.audit) rule.audit = true;
    if (r.log) rule.log = true;
    return rule;
  });
  const part: HashedPart = {
    defaultAction: ir.defaultAction,
    constants: {
      nrules,
      nwords: Math.max(1, Math.ceil(nrules / 64)),
      fields: c.fields,
      defaultAction: KERNEL_ACTION[ir.defaultAction],
      absentClass: c.absentClass,
      addressLookup,
      linear,
      ct: ir.conntrack !== null,
      ...(ir.defaultAction === 'reject' || ir.rules.some((r) => r.action === 'reject') ? { reject: true as const } : {}),
      ...(ir.rules.some((r) => r.audit) ? { auditRules: true as const } : {}),
      ...(ir.auditMode ? { auditMode: true as const } : {}),
      ...(ir.rules.some((r) => r.log) ? { log: true as const } : {}),
    },
    rules,
    actions: ir.rules.map((r) => KERNEL_ACTION[r.action]),
    vectors: c.table.words(),
    protoClass: c.protoClass,
    sportClass: c.sportClass,
    dportClass: c.dportClass,
    tcpFlagsClass: c.tcpFlagsClass,
    icmpTypeClass: c.icmpTypeClass,
    ctStateClass: c.ctStateClass,
    src4: c.src4,
    src6: c.src6,
    dst4: c.dst4,
    dst6: c.dst6,
    addressTables,
    ...compileTails(ir),
  };
  const limits = ir.limits && { ...ir.limits };
  return { name: ir.name, hash: hashCompiled(part, ir.conntrack, limits), conntrack: ir.conntrack, limits, ...part };
}
