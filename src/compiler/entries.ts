/**
 * One IR interface → its CompiledInterface: the load-time constants and the
 * content of every map of bpf/xdpfw.h (output.ts), hashed.
 */
import { location } from './codes.js';
import { ACTION } from './fields.js';
import { hashCompiled, type HashedPart } from './hash.js';
import type { IrInterface } from './ir.js';
import type { CompiledInterface, CompiledRule } from './output.js';
import { classify } from './vectors.js';

export function compileInterface(ir: IrInterface): CompiledInterface {
  const c = classify(ir);
  const nrules = ir.rules.length;
  const rules = ir.rules.map((r): CompiledRule => {
    const rule: CompiledRule = { index: r.index, id: r.id, action: r.action, text: r.text, location: location(r.span) };
    if (r.name !== undefined) rule.name = r.name;
    return rule;
  });
  const part: HashedPart = {
    defaultAction: ir.defaultAction,
    constants: {
      nrules,
      nwords: Math.max(1, Math.ceil(nrules / 64)),
      fields: c.fields,
      defaultAction: ACTION[ir.defaultAction],
      absentClass: c.absentClass,
    },
    rules,
    actions: ir.rules.map((r) => ACTION[r.action]),
    vectors: c.table.words(),
    protoClass: c.protoClass,
    sportClass: c.sportClass,
    dportClass: c.dportClass,
    tcpFlagsClass: c.tcpFlagsClass,
    icmpTypeClass: c.icmpTypeClass,
    src4: c.src4,
    src6: c.src6,
    dst4: c.dst4,
    dst6: c.dst6,
  };
  return { name: ir.name, hash: hashCompiled(part), ...part };
}
