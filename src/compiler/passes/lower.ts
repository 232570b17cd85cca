/**
 * Lowering: the checked AST → the IR (src/compiler/ir.ts). Every name is
 * resolved, every literal normalised, every set expanded. Call only when the
 * checks reported no error: lowering trusts what they verified.
 */
import { createHash } from 'node:crypto';
import type { AddressMatch, ConntrackBlock, InterfaceBlock, LimitsBlock, PortMatch, ProtectStatement, Rule } from '../../policy/ast.js';
import { conntrackSettings } from '../conntrack.js';
import { limitsSize } from '../rate-limits.js';
import type { CheckContext } from '../context.js';
import type { AddressConstraint, ConntrackSettings, IrInterface, IrPolicy, IrProtect, IrRule, PortInterval } from '../ir.js';
import { ctStateBit, icmpTypeNumber, tcpFlagBit } from '../syntax/names.js';
import { canonicalRuleText, ruleText } from '../syntax/print.js';
import { impliedProtocols, protectAsRule } from '../syntax/walks.js';
import { assignLimitIds, interfaceDynamicSets, lowerTail } from './lower-tail.js';

export function lowerPolicy(context: CheckContext): IrPolicy {
  const block = context.document.items.find((item): item is ConntrackBlock => item.kind === 'conntrack');
  const conntrack = conntrackSettings(block);
  const limits = { size: limitsSize(context.document.items.find((item): item is LimitsBlock => item.kind === 'limits')) };
  const interfaces = context.interfaces.map((block) => lowerInterface(block, context, conntrack, limits));
  const protects = context.document.items
    .filter((item): item is ProtectStatement => item.kind === 'protect')
    .map((item) => lowerProtect(item, context));
  return { interfaces, protects, conntrack, limits };
}

export function lowerProtect(protect: ProtectStatement, context: CheckContext): IrProtect {
  const traffic = lowerRule(protectAsRule(protect), -1, context);
  return { text: `protect${traffic.text.slice('allow'.length)}`, span: protect.span, traffic };
}

/**
 * `conntrack`, `limits`: the policy's settings, which the interface carries
 * when a rule of it uses `ct state`, or has a `limit`.
 */
export function lowerInterface(
  block: InterfaceBlock,
  context: CheckContext,
  conntrack: ConntrackSettings,
  limits: { size: number },
): IrInterface {
  const rules = block.statements.filter((s): s is Rule => s.kind === 'rule');
  const fallback = block.statements.find((s) => s.kind === 'default');
  const lowered = rules.map((rule, index) => lowerRule(rule, index, context));
  uniquifyIds(lowered);
  assignLimitIds(block, rules, lowered);
  const mode = block.statements.find((s) => s.kind === 'mode');
  const iface: IrInterface = {
    name: block.name.name,
    defaultAction: fallback?.kind === 'default' ? fallback.action : 'allow',
    ...(mode?.kind === 'mode' && mode.mode === 'audit' ? { auditMode: true as const } : {}),
    rules: lowered,
    span: block.span,
    conntrack: lowered.some((r) => r.ctStates !== null) ? conntrack : null,
    dynamicSets: interfaceDynamicSets(lowered, context),
    limits: lowered.some((r) => r.tail?.limit) ? limits : null,
  };
  if (fallback) iface.defaultSpan = fallback.span;
  return iface;
}

export function lowerRule(rule: Rule, index: number, context: CheckContext): IrRule {
  const families = { ipv4: true, ipv6: true };
  const restrict = (family: 4 | 6) => {
    if (family === 4) families.ipv6 = false;
    else families.ipv4 = false;
  };
  const protocols = [...new Set(impliedProtocols(rule).map((p) => p.protocol))];
  const ir: IrRule = {
    index,
    id: rule.name ? rule.name.value : ruleId(canonicalRuleText(rule, context)),
    ...(rule.name ? { name: rule.name.value } : {}),
    action: rule.action,
    ...(rule.audit ? { audit: true as const } : {}),
    ...(rule.log ? { log: true as const } : {}),
    families,
    protocols: protocols.length > 0 ? protocols : null,
    src: null,
    dst: null,
    sport: null,
    dport: null,
    tcpFlags: null,
    icmpTypes: null,
    ctStates: null,
    tail: null,
    text: ruleText(rule),
    span: rule.span,
  };
  for (const match of rule.matches) {
    switch (match.kind) {
      case 'address-match': {
        if (context.dynamicSetOf(match.value) !== undefined) break; // the tail's; it holds either family
        const constraint = lowerAddress(match, context);
        ir[match.direction] = constraint;
        const { prefixes } = constraint;
        if (prefixes.count4 === 0) restrict(6);
        if (prefixes.count6 === 0) restrict(4);
        break;
      }
      case 'port-match':
        ir[match.direction] = lowerPorts(match, context);
        break;
      case 'family-match':
        restrict(match.family === 'ip4' ? 4 : 6);
        break;
      case 'protocol-match':
        if (match.protocol === 'icmp') restrict(4);
        if (match.protocol === 'icmpv6') restrict(6);
        break;
      case 'tcp-flags-match': {
        const bits = (names: { name: string }[]) => names.reduce((acc, f) => acc | (tcpFlagBit(f.name) ?? 0), 0);
        const value = bits(match.flags);
        ir.tcpFlags = { mask: match.mask ? bits(match.mask) : value, value };
        break;
      }
      case 'icmp-type-match': {
        restrict(match.protocol === 'icmp' ? 4 : 6);
        const types = match.types.map((t) => (t.kind === 'number' ? t.value : icmpTypeNumber(match.protocol, t.name)!));
        ir.icmpTypes = [...new Set(types)].sort((a, b) => a - b);
        break;
      }
      case 'ct-state-match':
        ir.ctStates = match.states.reduce((mask, s) => mask | ctStateBit(s.name)!, 0);
        break;
      case 'limit-match':
        break; // the tail's
    }
  }
  ir.tail = lowerTail(rule, context, families);
  return ir;
}

function lowerAddress(match: AddressMatch, context: CheckContext): AddressConstraint {
  const { prefixes, sets } = context.resolveAddresses(match.value);
  return { negated: match.negated, prefixes, sets };
}

function lowerPorts(match: PortMatch, context: CheckContext): PortInterval[] {
  const intervals = context
    .resolvePorts(match.value)
    .map((e) => (e.kind === 'port' ? { low: e.value, high: e.value } : { low: e.low, high: e.high }));
  return mergeIntervals(intervals);
}

/** Sorted, non-overlapping, adjacent intervals joined. */
export function mergeIntervals(intervals: readonly PortInterval[]): PortInterval[] {
  const sorted = [...intervals].sort((a, b) => a.low - b.low || a.high - b.high);
  const out: PortInterval[] = [];
  for (const { low, high } of sorted) {
    const last = out[out.length - 1];
    if (last && low <= last.high + 1) last.high = Math.max(last.high, high);
    else out.push({ low, high });
  }
  return out;
}

/** `rule-` and the first 12 hex digits of the canonical text's sha256. */
export function ruleId(canonical: string): string {
  return `rule-${createHash('sha256').update(canonical).digest('hex').slice(0, 12)}`;
}

/**
 * Two unnamed rules that mean the same get the same hash; the later ones get
 * `-2`, `-3`… so every rule keeps a distinct counter identity.
 */
function uniquifyIds(rules: IrRule[]): void {
  const used = new Set(rules.filter((r) => r.name !== undefined).map((r) => r.id));
  for (const rule of rules) {
    if (rule.name !== undefined) continue;
    let id = rule.id;
    for (let n = 2; used.has(id); n++) id = `${rule.id}-${n}`;
    rule.id = id;
    used.add(id);
  }
}
