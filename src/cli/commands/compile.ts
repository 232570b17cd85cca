import { compiledToJson, prefixCount, type JsonValue } from '../../compiler/index.js';
import { classificationText } from '../../compiler/passes/linear.js';
import { inlineHosts } from '../../compiler/passes/address-tables.js';
import {
  ADDRESS_SLOTS,
  type AddressSlot,
  type CompiledDynamicSet,
  type CompiledInterface,
  type LinearRule,
  type RuleTail,
} from '../../compiler/output.js';
import { formatDuration } from '../../compiler/syntax/duration.js';
import { fastPathPlan, takesFastPath } from '../../compiler/passes/fast-path-plan.js';
import type { CliIo } from '../io.js';
import { err, json, out } from '../io.js';
import { ExitCode } from '../../app/exit-codes.js';
import { compileOrThrow, selectInterfaces } from '../../app/policy-loader.js';

export interface CompileOptions {
  json?: boolean;
  iface?: string[];
}

/** `xdpfw compile FILE`: the rules, sets and map entries the policy becomes. */
export function compileCommand(file: string, options: CompileOptions, io: CliIo): number {
  const loaded = compileOrThrow(file, (text) => err(io, text));
  const interfaces = selectInterfaces(loaded.compiled.interfaces, options.iface, file);
  if (options.json) {
    const view = compiledToJson({ ...loaded.compiled, interfaces }) as { interfaces: { [key: string]: JsonValue }[] };
    // The rules the loader's fast path tests (src/xdp), per family: null off the linear path.
    interfaces.forEach((iface, i) => {
      const linear = iface.constants.linear && takesFastPath(iface.constants.linear) ? iface.constants.linear : null;
      const indexes = (family: 4 | 6) => (linear ? fastPathPlan(linear, family).map((r) => r.index) : []);
      view.interfaces[i].fastPathRules = linear ? { ipv4: indexes(4), ipv6: indexes(6) } : null;
    });
    json(io, view);
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
    lines.push(
      `  default ${iface.defaultAction}; ${rules}`,
      `  classification: ${classificationText(c)}`,
      `  fast path: ${fastPathText(c.linear)}`,
    );
  } else {
    lines.push(
      `  default ${iface.defaultAction}; ${rules} in ${c.nwords} bit-vector word(s); ${iface.vectors.length} classes`,
      `  classification: ${classificationText(c)}`,
      `  fields: ${fieldNames(c.fields).join(', ')}`,
      `  addresses: ${ADDRESS_SLOTS.map((s) => `${s} ${prefixCount(iface[s])} (${lookupText(iface, s)})`).join(', ')}`,
    );
  }
  if (iface.dynamicSets.length > 0) {
    const sets = iface.dynamicSets.map(
      (s) =>
        `${s.name} (${s.timeout === null ? 'no timeout' : `timeout ${formatDuration(s.timeout)}`}, size ${s.size.toLocaleString('en-US')})`,
    );
    lines.push(`  dynamic sets: ${sets.join(', ')}`);
  }
  if (iface.limits) lines.push(`  meter table: ${iface.limits.size.toLocaleString('en-US')} buckets, shared by the host's policies`);
  for (const rule of iface.rules) {
    lines.push(`  ${String(rule.index).padStart(4)}  ${rule.action.padEnd(5)}  ${rule.id.padEnd(24)}  ${rule.text}   (${rule.location})`);
    const tail = iface.tails[rule.index];
    if (tail) lines.push(`  ${''.padStart(4)}  ${''.padEnd(5)}  then ${describeTail(tail, iface.dynamicSets)}`);
  }
  return lines.join('\n');
}

/** A rule's tail in the order the program checks it: set matches, limit (with its bucket id), ban. */
export function describeTail(tail: RuleTail, sets: readonly CompiledDynamicSet[]): string {
  const name = (index: number) => `@${sets[index]?.name ?? `set ${index}`}`;
  const parts: string[] = [];
  if (tail.srcSet) parts.push(`src ${tail.srcSet.negated ? 'not ' : ''}in ${name(tail.srcSet.set)}`);
  if (tail.dstSet) parts.push(`dst ${tail.dstSet.negated ? 'not ' : ''}in ${name(tail.dstSet.set)}`);
  const l = tail.limit;
  if (l) {
    const per = l.per ? ` per ${l.per.field}/${l.per.length4}/${l.per.length6}` : ' (one bucket)';
    const id = (l.id >>> 0).toString(16).padStart(8, '0');
    parts.push(`limit ${l.over ? 'over ' : ''}${l.rate}/${l.unit} burst ${l.burst}${per} [bucket ${id}]`);
  }
  if (tail.ban)
    parts.push(`ban into ${name(tail.ban.set)} for ${formatDuration(tail.ban.seconds)}${tail.audit ? ' (not while audit)' : ''}`);
  if (tail.audit) parts.push('audit: count, and try the next rule');
  return parts.join('; ');
}

/** Which rules the fast path tests (src/xdp/fast-path.ts) for the packets it takes, per family. */
function fastPathText(rules: readonly LinearRule[]): string {
  if (!takesFastPath(rules)) return 'none: the rules test the connection state, which the C program computes';
  const family = (f: 4 | 6, what: string): string => {
    const plan = fastPathPlan(rules, f);
    if (plan.length === 0) return `${what}: no rule can match, the default decides`;
    const last = plan[plan.length - 1];
    const all = last.checks.length === 0 ? ` (rule ${last.index} matches every one)` : '';
    return `${what}: rule${plan.length === 1 ? '' : 's'} ${plan.map((r) => r.index).join(', ')}${all}`;
  };
  return `TCP and UDP, at most one VLAN tag; ${family(4, 'IPv4 without options')}; ${family(6, 'IPv6 without extension headers')}`;
}

/** `trie`, or `table` with what its hash holds and, for IPv4, the /32s its records name inline (xdpfw.h, XDPFW_HOST4). */
function lookupText(iface: CompiledInterface, slot: AddressSlot): string {
  const table = iface.addressTables[slot];
  if (!table) return iface.constants.addressLookup[slot].mode;
  const inline = slot.endsWith('4') ? `, ${inlineHosts(table)} inline` : '';
  return `table: ${prefixCount(table.hashed)} hashed${inline}`;
}

const FIELD_NAMES = ['proto', 'src', 'dst', 'sport', 'dport', 'tcp-flags', 'icmp-type', 'ct-state'];

function fieldNames(mask: number): string[] {
  return FIELD_NAMES.filter((_, bit) => mask & (1 << bit));
}
