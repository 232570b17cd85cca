/**
 * Rules as text: `ruleText` prints a rule the way it was written (one line,
 * for display and for `IrRule.text`); `canonicalRuleText` prints what it
 * means, independent of whitespace, match order, list order and literal
 * spelling (the input of the rule id's hash). The canonical form keeps set
 * and define names rather than their contents, so editing a blocklist does
 * not change the identity (and the counters) of the rule that uses it.
 */
import type { AddressElement, AddressValue, LimitMatch, Match, PortElement, PortValue, Rule } from '../../policy/ast.js';
import { isAddressError } from '../structures/address.js';
import type { CheckContext } from '../context.js';
import { CT_STATE_NAMES, ctStateBit, icmpTypeNumber, tcpFlagBit } from './names.js';

export function ruleText(rule: Rule): string {
  return printRule(rule, true);
}

/**
 * The rule's text with its limit's rate, `over` and burst left out: what a
 * limit id hashes for a rule without a name, so a bucket keeps its identity
 * when only the rate changes (docs/DESIGN.md, "Meters").
 */
export function ruleTextWithoutRate(rule: Rule): string {
  return printRule(rule, false);
}

function printRule(rule: Rule, withRate: boolean): string {
  const parts: string[] = rule.audit ? ['audit', rule.action] : [rule.action];
  let previous: Match | undefined;
  for (const match of rule.matches) {
    parts.push(match.kind === 'limit-match' ? limitText(match, withRate) : matchText(match, previous));
    previous = match;
  }
  if (rule.ban) {
    const { duration } = rule.ban;
    const time = duration === undefined ? '' : duration.kind === 'duration' ? ` ${duration.value}${duration.unit}` : ` ${duration.value}`;
    parts.push(`ban @${rule.ban.set.name}${time}`);
  }
  if (rule.log) parts.push('log');
  if (rule.name) parts.push(`name ${JSON.stringify(rule.name.value)}`);
  return parts.join(' ');
}

function limitText(match: LimitMatch, withRate: boolean): string {
  const parts = ['limit'];
  if (withRate && match.rate) parts.push(`rate${match.over ? ' over' : ''} ${match.rate.value.value}/${match.rate.unit.name}`);
  if (withRate && match.burst) parts.push(`burst ${match.burst.value}`);
  if (match.per) parts.push(`per ${match.per.field}${match.per.lengths.map((l) => `/${l.value}`).join('')}`);
  return parts.join(' ');
}

function matchText(match: Match, previous: Match | undefined): string {
  const follows = (protocol: string) => previous?.kind === 'protocol-match' && previous.protocol === protocol;
  switch (match.kind) {
    case 'address-match':
      return `${match.direction} ${match.negated ? '! ' : ''}${valueText(match.value)}`;
    case 'port-match':
      return `${match.direction} ${valueText(match.value)}`;
    case 'protocol-match':
      return typeof match.protocol === 'string' ? match.protocol : `proto ${match.protocol.value}`;
    case 'family-match':
      return match.family;
    case 'tcp-flags-match': {
      const flags = `flags ${match.flags.map((f) => f.name).join(',') || 'none'}`;
      const text = match.mask ? `${flags} / ${match.mask.map((f) => f.name).join(',')}` : flags;
      return follows('tcp') ? text : `tcp ${text}`;
    }
    case 'icmp-type-match': {
      const types = match.types.map((t) => (t.kind === 'number' ? String(t.value) : t.name));
      const text = `type ${types.length === 1 ? types[0] : `{ ${types.join(', ')} }`}`;
      return follows(match.protocol) ? text : `${match.protocol} ${text}`;
    }
    case 'ct-state-match':
      return `ct state ${match.states.map((s) => s.name).join(',')}`;
    case 'limit-match':
      return limitText(match, true);
  }
}

function valueText(value: AddressValue | PortValue): string {
  if (value.kind === 'list') return `{ ${(value.elements as (AddressElement | PortElement)[]).map(elementText).join(', ')} }`;
  return elementText(value);
}

function elementText(e: AddressElement | PortElement): string {
  switch (e.kind) {
    case 'address':
      return e.text;
    case 'set-ref':
      return `@${e.name}`;
    case 'define-ref':
      return `$${e.name}`;
    case 'port':
      return String(e.value);
    case 'port-range':
      return `${e.low}-${e.high}`;
  }
}

/** The rule's meaning as text; see the module comment. Call only on a checked rule. */
export function canonicalRuleText(rule: Rule, context: CheckContext): string {
  const matches = rule.matches.map((match) => canonicalMatch(match, context));
  if (rule.ban) matches.push(`ban @${rule.ban.set.name}`);
  // `audit` changes what the counters count; `log` does not.
  return [...(rule.audit ? ['audit'] : []), rule.action, ...[...new Set(matches)].sort()].join(' ');
}

function canonicalMatch(match: Match, context: CheckContext): string {
  switch (match.kind) {
    case 'address-match': {
      const elements = match.value.kind === 'list' ? match.value.elements : [match.value];
      const texts = elements.map((e) => {
        if (e.kind !== 'address') return elementText(e);
        const parsed = context.address(e);
        return isAddressError(parsed) ? e.text : parsed.text;
      });
      return `${match.direction}${match.negated ? ' !' : ''} {${sortedUnique(texts).join(',')}}`;
    }
    case 'port-match': {
      const elements: PortElement[] = match.value.kind === 'list' ? match.value.elements : [match.value];
      return `${match.direction} {${sortedUnique(elements.map(elementText)).join(',')}}`;
    }
    case 'tcp-flags-match': {
      const names = (list: { name: string }[]) =>
        [...new Set(list.map((f) => f.name.toLowerCase()))].sort((a, b) => (tcpFlagBit(a) ?? 0) - (tcpFlagBit(b) ?? 0));
      return `tcp flags ${names(match.flags).join(',') || 'none'}/${names(match.mask ?? match.flags).join(',')}`;
    }
    case 'icmp-type-match': {
      const numbers = match.types.map((t) => (t.kind === 'number' ? t.value : (icmpTypeNumber(match.protocol, t.name) ?? -1)));
      return `${match.protocol} type {${[...new Set(numbers)].sort((a, b) => a - b).join(',')}}`;
    }
    case 'ct-state-match': {
      const bits = match.states.map((s) => ctStateBit(s.name) ?? 0);
      return `ct state ${CT_STATE_NAMES.filter((_, state) => bits.includes(1 << state)).join(',')}`;
    }
    default:
      return matchText(match, undefined);
  }
}

function sortedUnique(texts: string[]): string[] {
  return [...new Set(texts)].sort();
}
