/**
 * Flattened rules → policy text: one `interface` block per interface, each
 * rule preceded by `# FILE:LINE: TEXT` lines citing the iptables rules it
 * comes from (the jumping rules first) and by the rule's `-m comment`s as
 * comment lines (a comment, unlike a name, need not be unique or valid).
 */
import { cidrText } from './iptables-addresses.js';
import type { AddressMatch, Condition, Interval } from './iptables-conditions.js';
import type { FlatRule } from './flatten.js';
import { impliedFamily } from './iptables-conjoin.js';
import type { Verdict } from './program.js';
import type { SetDeclaration } from './iptables-sets.js';
import { icmpTypeName } from '../compiler/syntax/names.js';

/** Line terminators of the policy language end a comment; a cited text keeps to one line. */
const oneLine = (text: string) => text.replace(/[\n\r\v\f\u0085\u2028\u2029]/g, ' ').trim();

export function emitPolicy(
  header: string[],
  interfaces: string[],
  defaultVerdict: Verdict,
  rules: FlatRule[],
  file: string,
  family: 4 | 6 | 'both',
  extra: {
    /** What the file holds, for the line that lets the other family pass. */
    rulesOf?: string;
    /** Static sets the rules name, declared before the interfaces. */
    sets?: readonly SetDeclaration[];
  } = {},
): string {
  const rulesOf = extra.rulesOf ?? `ip${family === 6 ? '6' : ''}tables rules`;
  const out = header.map((line) => `# ${oneLine(line)}`);
  for (const set of extra.sets ?? []) out.push('', ...setText(set));
  for (const name of interfaces) {
    out.push('', `interface ${name} {`, `  default ${defaultVerdict}`);
    if (family !== 'both') {
      // xdpfw's rules without an address judge both families; these rules judge one.
      const other = family === 4 ? 6 : 4;
      out.push(`  # ${file} holds ${rulesOf}: IPv${other} packets were never judged by them, and pass`);
      out.push(`  allow ip${other}`);
    }
    for (const rule of rules) {
      if (rule.condition.iface !== undefined && rule.condition.iface !== name) continue;
      for (const cite of rule.cites) out.push(`  # ${cite.file ?? file}:${cite.line}: ${oneLine(cite.text)}`);
      for (const comment of rule.comments) out.push(`  # ${oneLine(comment)}`);
      out.push(`  ${rule.audit ? 'audit ' : ''}${ruleText(rule.verdict, rule.condition, family)}${rule.log ? ' log' : ''}`);
    }
    out.push('}');
  }
  return out.join('\n') + '\n';
}

/**
 * A flat rule as policy text. `context` is the family the source's rules
 * judge: `icmp` (which means IPv4 to xdpfw) is written for protocol 1 only
 * where the rule is an IPv4 one, else `proto 1` (likewise `icmpv6`, 58).
 */
export function ruleText(verdict: Verdict, c: Condition, context: 4 | 6 | 'both' = 'both'): string {
  const parts: string[] = [verdict];
  const family = c.family ?? impliedFamily(c) ?? (context === 'both' ? undefined : context);
  const icmpKeyword = (c.protocol === 1 && family === 4) || (c.protocol === 58 && family === 6);
  const keywordFamily = icmpKeyword ? family : undefined;
  if (c.family !== undefined && impliedFamily({ ...c, family: undefined }) === undefined && keywordFamily === undefined)
    parts.push(`ip${c.family}`);
  if (c.protocol === 6) {
    parts.push('tcp');
    if (c.tcpFlags) parts.push(`flags ${c.tcpFlags.set.join(',') || 'none'} / ${c.tcpFlags.mask.join(',')}`);
  } else if (icmpKeyword) {
    const protocol = c.protocol === 1 ? 'icmp' : 'icmpv6';
    parts.push(protocol);
    if (c.icmpTypes) parts.push(`type ${list(c.icmpTypes.map((t) => icmpTypeName(protocol, t) ?? String(t)))}`);
  } else if (c.protocol === 17) parts.push('udp');
  else if (c.protocol !== undefined) parts.push(`proto ${c.protocol}`);
  if (c.sport) parts.push(`sport ${ports(c.sport)}`);
  if (c.dport) parts.push(`dport ${ports(c.dport)}`);
  if (c.src) parts.push(`src ${addresses(c.src)}`);
  if (c.dst) parts.push(`dst ${addresses(c.dst)}`);
  if (c.ctStates) parts.push(`ct state ${c.ctStates.join(',')}`);
  if (c.dynamicSet) parts.push(`${c.dynamicSet.field} ${c.dynamicSet.negated ? '! ' : ''}@${c.dynamicSet.name}`);
  if (c.limit) parts.push(limitText(c));
  if (c.ban !== undefined) parts.push(`ban @${c.ban}${c.banSeconds !== undefined ? ` ${durationText(c.banSeconds)}` : ''}`);
  return parts.join(' ');
}

function limitText(c: Condition): string {
  const { over, rate, unit, burst, per } = c.limit!;
  const text = `limit rate ${over ? 'over ' : ''}${rate}/${unit} burst ${burst}`;
  if (!per) return text;
  if (per.length === (per.family === 4 ? 32 : 128)) return `${text} per ${per.field}`;
  // A length is of one family: a rule whose addresses (or family match) do not fix it says which.
  const fixed = c.src !== undefined || c.dst !== undefined || c.family !== undefined;
  return `${fixed ? '' : `ip${per.family} `}${text} per ${per.field}/${per.length}`;
}

/** A static set one entry a line, or a dynamic set whose entries last the recent list's --seconds (or the nft set's timeout). */
function setText(set: SetDeclaration): string[] {
  if (set.kind === 'dynamic') {
    const timeout = set.timeoutSeconds !== undefined ? ` timeout ${set.timeoutSeconds}s` : '';
    return [`# ${set.origin ?? `recent list '${set.source}'`}`, `set ${set.name} dynamic${timeout}`];
  }
  const comment = set.name === set.source ? [] : [`# ipset '${set.source}'`];
  return [...comment, `set ${set.name} {`, ...set.cidrs.map((cidr) => `  ${cidrText(cidr)}`), '}'];
}

/** Seconds in the largest unit that keeps them whole: `10m`, `90s`. */
function durationText(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function list(items: string[]): string {
  return items.length === 1 ? items[0] : `{ ${items.join(', ')} }`;
}

function ports(intervals: readonly Interval[]): string {
  return list(intervals.map(([low, high]) => (low === high ? String(low) : `${low}-${high}`)));
}

function addresses(match: AddressMatch): string {
  if (match.set !== undefined) return `${match.negated ? '! ' : ''}@${match.set}`;
  return `${match.negated ? '! ' : ''}${list(match.cidrs.map(cidrText))}`;
}
