/**
 * One IR interface → its CompiledInterface: the load-time constants and the
 * content of every map of bpf/xdpfw.h (output.ts), hashed. The address
 * tables are derived from the hashed LPM entries and constants.
 */
import { buildAddressTable, chooseAddressLookup, type AddressLookupChoice } from './address-tables.js';
import { location } from '../codes.js';
import { ACTION } from '../fields.js';
import { hashCompiled, type HashedPart } from './hash.js';
import type { IrInterface } from '../ir.js';
import { linearRules, type ClassifyChoice } from './linear.js';
import {
  ADDRESS_SLOTS,
  type AddressLookup,
  type AddressSlot,
  type AddressTable,
  type CompiledInterface,
  type CompiledRule,
} from '../output.js';
import { classify } from './classify.js';

export interface CompileOptions {
  /** How address fields are looked up: the compiler's choice ('auto'), or forced, e.g. to test one path. */
  addressLookup?: AddressLookupChoice;
  /** The linear path or the bit vectors: the compiler's choice ('auto'), or forced. */
  classify?: ClassifyChoice;
}

export function compileInterface(ir: IrInterface): CompiledInterface {
  return compileInterfaceWith(ir, {});
}

/** compileInterface with options (tests and benches force an address lookup or a classification path). */
export function compileInterfaceWith(ir: IrInterface, options: CompileOptions): CompiledInterface {
  const c = classify(ir);
  const linear = linearRules(ir, options.classify);
  // The linear path reads no address map: a few trie entries are the least to load.
  const lookupChoice = options.addressLookup ?? (linear ? 'trie' : 'auto');
  const addressLookup = {} as Record<AddressSlot, AddressLookup>;
  const addressTables = {} as Record<AddressSlot, AddressTable | null>;
  for (const slot of ADDRESS_SLOTS) {
    const family = slot.endsWith('4') ? 4 : 6;
    const lookup = chooseAddressLookup(c[slot], family, lookupChoice);
    addressLookup[slot] = lookup;
    addressTables[slot] = lookup.mode === 'table' ? buildAddressTable(c[slot], lookup, family) : null;
  }
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
      addressLookup,
      linear,
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
    addressTables,
  };
  return { name: ir.name, hash: hashCompiled(part), ...part };
}
