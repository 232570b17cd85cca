import { compiledToJson, prefixCount } from '../../compiler/index.js';
import { classificationText } from '../../compiler/linear.js';
import { inlineHosts } from '../../compiler/address-tables.js';
import { ADDRESS_SLOTS, type AddressSlot, type CompiledInterface } from '../../compiler/output.js';
import type { CliIo } from '../io.js';
import { err, json, out } from '../io.js';
import { ExitCode } from '../exit-codes.js';
import { compileOrThrow, selectInterfaces } from '../policy-loader.js';

export interface CompileOptions {
  json?: boolean;
  iface?: string[];
}

/** `xdpfw compile FILE`: the rules, sets and map entries the policy becomes. */
export function compileCommand(file: string, options: CompileOptions, io: CliIo): number {
  const loaded = compileOrThrow(file, (text) => err(io, text));
  const interfaces = selectInterfaces(loaded.compiled.interfaces, options.iface, file);
  if (options.json) {
    json(io, compiledToJson({ interfaces }));
    return ExitCode.ok;
  }
  for (const iface of interfaces) out(io, describeInterface(iface));
  return ExitCode.ok;
}

function describeInterface(iface: CompiledInterface): string {
  const c = iface.constants;
  const lines = [`interface ${iface.name}  (policy ${iface.hash.slice(0, 12)})`];
  const rules = `${c.nrules} rule${c.nrules === 1 ? '' : 's'}`;
  if (c.linear) {
    // The linear path reads its rules from .rodata: no words, classes or address lookups to show.
    lines.push(`  default ${iface.defaultAction}; ${rules}`, `  classification: ${classificationText(c)}`);
  } else {
    lines.push(
      `  default ${iface.defaultAction}; ${rules} in ${c.nwords} bit-vector word(s); ${iface.vectors.length} classes`,
      `  classification: ${classificationText(c)}`,
      `  fields: ${fieldNames(c.fields).join(', ')}`,
      `  addresses: ${ADDRESS_SLOTS.map((s) => `${s} ${prefixCount(iface[s])} (${lookupText(iface, s)})`).join(', ')}`,
    );
  }
  for (const rule of iface.rules) {
    lines.push(`  ${String(rule.index).padStart(4)}  ${rule.action.padEnd(5)}  ${rule.id.padEnd(24)}  ${rule.text}   (${rule.location})`);
  }
  return lines.join('\n');
}

/** `trie`, or `table` with what its hash holds and, for IPv4, the /32s its records name inline (xdpfw.h, XDPFW_HOST4). */
function lookupText(iface: CompiledInterface, slot: AddressSlot): string {
  const table = iface.addressTables[slot];
  if (!table) return iface.constants.addressLookup[slot].mode;
  const inline = slot.endsWith('4') ? `, ${inlineHosts(table)} inline` : '';
  return `table: ${prefixCount(table.hashed)} hashed${inline}`;
}

const FIELD_NAMES = ['proto', 'src', 'dst', 'sport', 'dport', 'tcp-flags', 'icmp-type'];

function fieldNames(mask: number): string[] {
  return FIELD_NAMES.filter((_, bit) => mask & (1 << bit));
}
