/**
 * Walks of the syntax tree that several passes share: every literal and every
 * reference as written (each node once, not once per use), and the protocols
 * a rule's matches imply.
 */
import type {
  AddressLiteral,
  Define,
  DefineReference,
  DefineValue,
  InterfaceBlock,
  Match,
  PolicyDocument,
  PortLiteral,
  PortRange,
  ProtectStatement,
  Rule,
  SetDeclaration,
  SetReference,
} from '../../policy/ast.js';
import { PROTOCOL_NUMBERS } from './names.js';

type DefineElement = AddressLiteral | PortLiteral | PortRange | DefineReference | SetReference;

function defineElements(value: DefineValue): DefineElement[] {
  return value.kind === 'list' ? value.elements : [value];
}

/**
 * Every rule of the document with its interface block, in order, and every
 * `protect` as a rule of no block: its matches are a rule's and every check
 * of matches (addresses, ports, protocols, references…) holds for them too.
 * Arrays, not generators, in these walks: a generator's steps allocated
 * ~20 MB across the checks of 4,096 rules.
 */
export function documentRules(document: PolicyDocument): { block: InterfaceBlock | null; rule: Rule }[] {
  const out: { block: InterfaceBlock | null; rule: Rule }[] = [];
  for (const item of document.items) {
    if (item.kind === 'protect') out.push({ block: null, rule: protectAsRule(item) });
    if (item.kind !== 'interface') continue;
    for (const statement of item.statements) if (statement.kind === 'rule') out.push({ block: item, rule: statement });
  }
  return out;
}

/** A protect's matches as an `allow` rule: what lowering and the match checks take. */
export function protectAsRule(protect: ProtectStatement): Rule {
  return { kind: 'rule', action: 'allow', matches: protect.matches, span: protect.span };
}

/** Every address literal written in a define or a rule (set entries are parsed per set, in bulk). */
export function addressLiteralsOutsideSets(document: PolicyDocument): AddressLiteral[] {
  const out: AddressLiteral[] = [];
  for (const item of document.items) {
    if (item.kind !== 'define') continue;
    for (const e of defineElements(item.value)) if (e.kind === 'address') out.push(e);
  }
  for (const { rule } of documentRules(document)) {
    for (const match of rule.matches) {
      if (match.kind !== 'address-match') continue;
      const elements = match.value.kind === 'list' ? match.value.elements : [match.value];
      for (const e of elements) if (e.kind === 'address') out.push(e);
    }
  }
  return out;
}

/** Every port literal or range written in a define or a rule. */
export function portLiterals(document: PolicyDocument): (PortLiteral | PortRange)[] {
  const out: (PortLiteral | PortRange)[] = [];
  for (const item of document.items) {
    if (item.kind !== 'define') continue;
    for (const e of defineElements(item.value)) if (e.kind === 'port' || e.kind === 'port-range') out.push(e);
  }
  for (const { rule } of documentRules(document)) {
    for (const match of rule.matches) {
      if (match.kind !== 'port-match') continue;
      const elements = match.value.kind === 'list' ? match.value.elements : [match.value];
      for (const e of elements) if (e.kind === 'port' || e.kind === 'port-range') out.push(e);
    }
  }
  return out;
}

/** Where a reference is used: what its value must be, and how to name the place in a message. */
export interface ReferenceSite {
  reference: SetReference | DefineReference;
  /** `define`: inside another define (checked where that one is used). */
  needs: 'addresses' | 'ports' | 'define';
  /** `'src'`, `'dport'`, `set '@name'`, `define '$name'`. */
  place: string;
  /** The define or set whose value holds the reference, if any, and its node name (`$x`, `@s`). */
  owner?: string;
  declaration?: Define | SetDeclaration;
}

export function collectReferences(document: PolicyDocument): ReferenceSite[] {
  const out: ReferenceSite[] = [];
  for (const item of document.items) {
    if (item.kind === 'define') {
      for (const e of defineElements(item.value)) {
        if (e.kind !== 'define-ref' && e.kind !== 'set-ref') continue;
        const owner = `$${item.name.name}`;
        out.push({ reference: e, needs: 'define', place: `define '${owner}'`, owner, declaration: item });
      }
    } else if (item.kind === 'set' && item.source.kind === 'inline') {
      for (const e of item.source.elements) {
        if (e.kind !== 'define-ref' && e.kind !== 'set-ref') continue;
        const owner = `@${item.name.name}`;
        out.push({ reference: e, needs: 'addresses', place: `set '${owner}'`, owner, declaration: item });
      }
    }
  }
  for (const { rule } of documentRules(document)) {
    for (const match of rule.matches) {
      if (match.kind !== 'address-match' && match.kind !== 'port-match') continue;
      const elements = match.value.kind === 'list' ? match.value.elements : [match.value];
      const needs = match.kind === 'address-match' ? 'addresses' : 'ports';
      for (const e of elements) {
        if (e.kind === 'define-ref' || e.kind === 'set-ref') out.push({ reference: e, needs, place: `'${match.direction}'` });
      }
    }
    if (rule.ban) out.push({ reference: rule.ban.set, needs: 'addresses', place: "'ban'" });
  }
  return out;
}

/** A protocol a match implies: `tcp`, `proto 47`, and also `tcp flags` (6) and `icmp type` (1 / 58). */
export interface ImpliedProtocol {
  protocol: number;
  match: Match;
  /** How the rule says it: `tcp`, `proto 47`, `tcp flags`, `icmpv6 type`. */
  label: string;
}

export function impliedProtocols(rule: Rule): ImpliedProtocol[] {
  const out: ImpliedProtocol[] = [];
  for (const match of rule.matches) {
    if (match.kind === 'protocol-match') {
      const p = match.protocol;
      if (typeof p === 'string') out.push({ protocol: PROTOCOL_NUMBERS[p], match, label: p });
      else out.push({ protocol: p.value, match, label: `proto ${p.value}` });
    } else if (match.kind === 'tcp-flags-match') {
      out.push({ protocol: 6, match, label: 'tcp flags' });
    } else if (match.kind === 'icmp-type-match') {
      out.push({ protocol: PROTOCOL_NUMBERS[match.protocol], match, label: `${match.protocol} type` });
    }
  }
  return out;
}
