/**
 * Every diagnostic code the compiler's checks emit, with its severity and a
 * one-line description (the README's table is generated from this; a test
 * fails when a check emits a code that is not listed here).
 */
import { MAX_DYNSETS, MAX_RULES, MAX_TAIL_RULES } from '../contract/kernel.js';
import { CONNTRACK_SIZE, FLOOD_THRESHOLD } from './conntrack.js';
import { MAX_EXPANDED_ELEMENTS } from './limits.js';
import { BURST, DYNAMIC_SET_SIZE, LIMITS_SIZE, RATE } from './rate-limits.js';
import type { Span } from '../policy/ast.js';
import type { Diagnostic, Severity } from '../policy/diagnostic.js';

interface CodeInfo {
  severity: Severity;
  description: string;
}

export const COMPILER_CODES = {
  'unknown-set': { severity: 'error', description: 'a rule, set or define refers to a set (@name) that is not declared' },
  'unknown-define': { severity: 'error', description: 'a $name refers to a define that is not declared' },
  'duplicate-set': { severity: 'error', description: 'two sets have the same name' },
  'duplicate-define': { severity: 'error', description: 'two defines have the same name' },
  'duplicate-interface': { severity: 'error', description: 'two interface blocks name the same interface' },
  'duplicate-rule-name': { severity: 'error', description: 'two rules of one interface have the same name' },
  'duplicate-default': { severity: 'error', description: 'an interface has more than one default statement' },
  'duplicate-mode': { severity: 'error', description: 'an interface has more than one mode statement' },
  'define-cycle': { severity: 'error', description: 'defines or sets refer to each other in a cycle' },
  'expansion-limit': {
    severity: 'error',
    description: `a define, set or match value stands for more than ${MAX_EXPANDED_ELEMENTS.toLocaleString('en-US')} elements once expanded`,
  },
  'define-type': { severity: 'error', description: 'a define is used where its values do not fit (ports as addresses, …)' },
  'invalid-address': { severity: 'error', description: 'an address or CIDR is malformed or has host bits set' },
  'invalid-port': { severity: 'error', description: 'a port is above 65535 or a range is empty' },
  'invalid-protocol': { severity: 'error', description: 'a protocol number is above 255' },
  'port-without-protocol': { severity: 'error', description: 'sport/dport in a rule that does not match tcp or udp' },
  'conflicting-protocols': { severity: 'error', description: 'a rule matches two different protocols, which no packet has' },
  'duplicate-match': { severity: 'error', description: 'a rule has the same match twice (two dport, two src, …)' },
  'tcp-flags-unknown': { severity: 'error', description: 'an unknown TCP flag name' },
  'tcp-flags-mask': {
    severity: 'error',
    description: 'tcp flags A / M where a flag of A is not in M (the match never holds), or tcp flags none without a mask',
  },
  'icmp-type-unknown': { severity: 'error', description: 'an unknown ICMP/ICMPv6 type name, or a type number above 255' },
  'family-mismatch': { severity: 'error', description: 'a rule mixes address families so that no packet can match it' },
  'empty-set': { severity: 'error', description: 'a set or address list has no entries, so a rule using it matches nothing' },
  'no-rules': { severity: 'warning', description: 'an interface has no rules: every packet gets the default action' },
  'too-many-rules': { severity: 'error', description: `an interface has more rules than the data plane supports (${MAX_RULES})` },
  'no-interfaces': { severity: 'warning', description: 'the policy has no interface block: `apply` refuses it, as it would apply nothing' },
  'shadowed-rule': { severity: 'warning', description: 'an earlier rule matches every packet this rule matches: it never decides' },
  'nd-dropped': { severity: 'warning', description: 'IPv6 neighbour discovery would be dropped, which silently breaks IPv6' },
  'unknown-ct-state': { severity: 'error', description: 'a `ct state` name is not new, established, related or invalid' },
  'duplicate-ct-state': { severity: 'warning', description: 'a `ct state` list names a state twice' },
  'duplicate-conntrack': { severity: 'error', description: 'the policy (its includes counted) has more than one conntrack block' },
  'conntrack-option': { severity: 'error', description: 'a conntrack block has an unknown option, or sets one twice' },
  'bad-duration': { severity: 'error', description: 'a duration is zero, has an unknown unit (s, m, h, d) or is longer than 30 days' },
  'conntrack-size': {
    severity: 'error',
    description: `conntrack size is not a number ${CONNTRACK_SIZE.min.toLocaleString('en-US')} … ${CONNTRACK_SIZE.max.toLocaleString('en-US')}`,
  },
  'flood-threshold': {
    severity: 'error',
    description: `conntrack flood-threshold is not a number ${FLOOD_THRESHOLD.min.toLocaleString('en-US')} … ${FLOOD_THRESHOLD.max.toLocaleString('en-US')}`,
  },
  'no-return-traffic': {
    severity: 'warning',
    description:
      "an interface drops by default and no rule allows 'ct state established': replies to the host's own connections are dropped",
  },
  'limit-rate': {
    severity: 'error',
    description: `a limit has no rate, or its rate is not ${RATE.min} … ${RATE.max.toLocaleString('en-US')} packets a unit`,
  },
  'limit-unit': { severity: 'error', description: "a limit's rate unit is not second, minute or hour" },
  'limit-burst': { severity: 'error', description: `a limit's burst is not ${BURST.min} … ${BURST.max.toLocaleString('en-US')} packets` },
  'limit-per': {
    severity: 'error',
    description: "per's prefix lengths: beyond the family (/32, /128), more than two, or one on a rule that matches both families",
  },
  'ban-set': { severity: 'error', description: "'ban' names a static set: only a dynamic set takes entries at run time" },
  'ban-duration': { severity: 'error', description: "'ban' gives no duration and its set has no timeout" },
  'ban-within-rate': {
    severity: 'warning',
    description: "a rule bans and its limit has no 'over': it bans the sources that stay within the rate",
  },
  'dynamic-set-entries': { severity: 'error', description: 'a dynamic set is given entries in the policy' },
  'dynamic-set-alone': {
    severity: 'error',
    description: 'a dynamic set is named in a list, a define or another set instead of alone in a match',
  },
  'dynamic-set-option': {
    severity: 'error',
    description: `a dynamic set has an unknown or repeated option, or a size not ${DYNAMIC_SET_SIZE.min} … ${DYNAMIC_SET_SIZE.max.toLocaleString('en-US')}`,
  },
  'too-many-tails': {
    severity: 'error',
    description: `an interface has more than ${MAX_TAIL_RULES} rules with a dynamic set, a limit or a ban`,
  },
  'too-many-dynamic-sets': { severity: 'error', description: `an interface's rules name more than ${MAX_DYNSETS} dynamic sets` },
  'duplicate-limits': { severity: 'error', description: 'the policy (its includes counted) has more than one limits block' },
  'limits-option': {
    severity: 'error',
    description: `a limits block has an unknown or repeated option, or a size not ${LIMITS_SIZE.min.toLocaleString('en-US')} … ${LIMITS_SIZE.max.toLocaleString('en-US')}`,
  },
  'unprotectable-match': {
    severity: 'error',
    description: "a protect has a match that depends on state ('ct state', 'limit', a dynamic set), which no proof can rely on",
  },
  lockout: {
    severity: 'error',
    description: 'an interface would drop a packet that a protect matches (or, in apply, a packet of the SSH session apply runs in)',
  },
} as const satisfies Record<string, CodeInfo>;

export type CompilerCode = keyof typeof COMPILER_CODES;

export function diagnostic(code: CompilerCode, span: Span, message: string, hint?: string): Diagnostic {
  const d: Diagnostic = { code, severity: COMPILER_CODES[code].severity, message, span };
  if (hint !== undefined) d.hint = hint;
  return d;
}

/** `file:line:col`, as diagnostics and compiled rules show locations. */
export function location(span: Span): string {
  return `${span.file}:${span.start.line}:${span.start.column}`;
}

/** "line 12" in the same file, "other.xdpfw:12" across files. */
export function lineRef(span: Span, from: Span): string {
  return span.file === from.file ? `line ${span.start.line}` : `${span.file}:${span.start.line}`;
}
