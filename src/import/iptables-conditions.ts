/**
 * One iptables rule's matches → a Condition: the fields xdpfw matches on,
 * each normalised so that two conditions can be conjoined field by field
 * (addresses as prefixes, ports as intervals, protocols as numbers, ICMP
 * types as numbers). Whatever xdpfw cannot match is a refusal naming the
 * construct; a rule with any refusal is not translated.
 */
import type { ImportCode } from './codes.js';
import { parseCidr, parseRange, type Cidr } from './iptables-addresses.js';
import type { MatchBlock, Rule, RuleOption } from './iptables-save.js';
import { statefulContext, type StatefulContext } from './iptables-sets.js';
import { STATEFUL_MODULES, statefulBlock, type StatefulBlock } from './iptables-stateful.js';
import { icmpTypeNumber } from '../compiler/syntax/names.js';

export interface AddressMatch {
  cidrs: Cidr[];
  negated: boolean;
  /**
   * The static set (an ipset, -m set) whose entries `cidrs` are, as the
   * policy names it: emitted `src @NAME`. Only the name: `cidrs` say what
   * matches, and a conjunction that changes them drops it.
   */
  set?: string;
}

/**
 * A token bucket (-m limit, -m hashlimit): `limit rate [over] N/UNIT burst
 * B [per FIELD/LENGTH]`, with xdpfw's meaning (docs/language.md, "Rate
 * limits and dynamic sets"): state, tested after the rest of the condition.
 */
export interface Limit {
  /** True: the condition holds for packets beyond the rate (hashlimit-above). */
  over: boolean;
  rate: number;
  unit: 'second' | 'minute' | 'hour';
  burst: number;
  /** One bucket per prefix of this length of the field (of `family`'s addresses); absent: one bucket. */
  per?: { field: 'src' | 'dst'; length: number; family: 4 | 6 };
}

/** An inclusive range of ports. */
export type Interval = readonly [number, number];

export interface Condition {
  /** The `-i` interface; none: every interface. */
  iface?: string;
  /** Only packets of this family (nft's `meta nfproto`), when no address or protocol of the condition says it already. */
  family?: 4 | 6;
  src?: AddressMatch;
  dst?: AddressMatch;
  protocol?: number;
  sport?: Interval[];
  dport?: Interval[];
  /** Of the flags `mask`, exactly `set` are set (lower-case names). */
  tcpFlags?: { set: string[]; mask: string[] };
  icmpTypes?: number[];
  ctStates?: string[];
  /*
   * The stateful parts, apart so that the fields above stay a condition on
   * one packet's headers and connection state. Each reads or writes state
   * that earlier packets left.
   */
  limit?: Limit;
  /** The address is (negated: is not) a live entry of a dynamic set whose entries live `seconds` (-m recent --rcheck). */
  dynamicSet?: { name: string; field: 'src' | 'dst'; negated: boolean; seconds: number };
  /** Not a test but an effect: when the rule decides, its source enters this dynamic set (-m recent --set). */
  ban?: string;
  /** How long the ban lasts, when not the set's timeout (nft's `update @S { ip saddr timeout 1m }`). */
  banSeconds?: number;
}

export interface Refusal {
  code: ImportCode;
  column: number;
  message: string;
}

export interface RuleCondition {
  condition: Condition;
  refusals: Refusal[];
  /** What is translated with a difference the message states; the rule is still translated. */
  warnings: Refusal[];
  /** The -m hashlimit table the rule names (rules naming one table share its buckets). */
  hashlimitName?: string;
  comments: string[];
  /** `-i lo`: XDP never sees this rule's packets. */
  loopback: boolean;
}

export const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  'ipv6-icmp': 58,
  sctp: 132,
  udplite: 136,
};

const IPTABLES_ALL_FLAGS = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg'];
const FLAG_NAMES = new Set([...IPTABLES_ALL_FLAGS, 'ece', 'cwr']);
const CT_STATES = ['new', 'established', 'related', 'invalid'];

/** ip6tables' names of ICMPv6 types that xdpfw spells differently. */
const ICMPV6_ALIASES: Readonly<Record<string, number>> = {
  'neighbour-solicitation': 135,
  'neighbor-solicitation': 135,
  'neighbour-advertisement': 136,
  'neighbor-advertisement': 136,
  'router-solicitation': 133,
  'router-advertisement': 134,
  redirect: 137,
};

export function ruleCondition({ rule }: Rule, context: StatefulContext = statefulContext(4)): RuleCondition {
  const condition: Condition = {};
  const refusals: Refusal[] = [];
  const warnings: Refusal[] = [];
  let hashlimitName: string | undefined;
  const comments: string[] = [];
  let loopback = false;
  const refuse = (code: ImportCode, column: number, message: string) => refusals.push({ code, column, message });
  const unsupported = (column: number, what: string) => refuse('import-unsupported', column, `${what} is not translated`);

  if (rule.inInterface) {
    const { value, negated, column } = rule.inInterface;
    if (value === 'lo' && !negated) loopback = true;
    else if (value === 'lo') {
      // `! -i lo` holds for every packet XDP sees.
    } else if (negated || value.endsWith('+')) {
      refuse('import-interface', column, `'${negated ? '! ' : ''}-i ${value}' is not translated (only one named interface a rule)`);
    } else condition.iface = value;
  }
  if (rule.outInterface) unsupported(rule.outInterface.column, `'-o ${rule.outInterface.value}' (XDP sees only inbound packets)`);
  if (rule.fragment) unsupported(rule.fragment.column, `'-f' (a fragment match)`);

  const address = (field: 'src' | 'dst', value: string, negated: boolean, column: number) => {
    const cidrs: Cidr[] = [];
    for (const part of value.split(',')) {
      const parsed = parseCidr(part);
      if ('kind' in parsed) refuse(parsed.kind === 'mask' ? 'import-mask' : 'import-unsupported', column, parsed.message);
      else cidrs.push(parsed);
    }
    if (negated && cidrs.length > 1) {
      refuse('import-negation', column, `'! ${value}': a negated list of addresses is not translated`);
    }
    if (condition[field]) refuse('import-conjunction', column, `a rule with two ${field} address matches is not translated`);
    condition[field] = { cidrs, negated };
  };
  if (rule.source) address('src', rule.source.value, rule.source.negated, rule.source.column);
  if (rule.destination) address('dst', rule.destination.value, rule.destination.negated, rule.destination.column);

  if (rule.protocol) {
    const { value, negated, column } = rule.protocol;
    const name = value.toLowerCase();
    const number = /^\d{1,3}$/.test(name) ? Number(name) : PROTOCOL_NUMBERS[name];
    if (negated) refuse('import-negation', column, `'! -p ${value}' is not translated`);
    else if (name === 'all' || number === 0) {
      // Any protocol: no match.
    } else if (number === undefined || number > 255) refuse('import-unsupported', column, `protocol '${value}' is not known`);
    else condition.protocol = number;
  }

  rule.matches.forEach((block, index) => {
    if (!STATEFUL_MODULES.has(block.module) || block.implicit) return matchBlock(block, condition, comments, refuse, unsupported);
    const followed = rule.matches.slice(index + 1).some((b) => b.module !== 'comment');
    const stateful: StatefulBlock = { block, followed, context, condition, refuse, warn: (w) => warnings.push(w) };
    statefulBlock(stateful);
    hashlimitName = stateful.hashlimitName ?? hashlimitName;
  });
  if ((condition.sport || condition.dport) && condition.protocol !== 6 && condition.protocol !== 17) {
    const column = rule.protocol?.column ?? 1;
    unsupported(column, `a port match on protocol '${rule.protocol?.value ?? 'all'}' (xdpfw matches TCP and UDP ports)`);
  }
  return { condition, refusals, warnings, comments, loopback, ...(hashlimitName !== undefined ? { hashlimitName } : {}) };
}

type Refuse = (code: ImportCode, column: number, message: string) => void;
type Unsupported = (column: number, what: string) => void;

const TRANSLATED_MODULES = new Set(['tcp', 'udp', 'multiport', 'icmp', 'icmp6', 'conntrack', 'state', 'comment', 'iprange']);

function matchBlock(block: MatchBlock, condition: Condition, comments: string[], refuse: Refuse, unsupported: Unsupported): void {
  const name = block.module;
  if (!TRANSLATED_MODULES.has(name)) {
    const options = block.options.map((o) => `${o.negated ? '! ' : ''}${o.option} ${o.values.join(' ')}`.trimEnd());
    unsupported(block.column, `'${[`-m ${name}`, ...options].join(' ')}'`);
    return;
  }
  for (const option of block.options) {
    const key = option.option.replace(/^--?/, '');
    const shown = `'${option.negated ? '! ' : ''}${option.option} ${option.values.join(' ')}'`.replace(/ '$/, "'");
    const set = <K extends keyof Condition>(field: K, value: Condition[K]) => {
      const before = condition.ctStates;
      if (field === 'ctStates' && before) {
        // -m state and -m conntrack in one rule: both must hold.
        const both = before.filter((s) => (value as string[]).includes(s));
        if (both.length > 0) condition.ctStates = both;
        else refuse('import-conjunction', option.column, `${shown}: no state meets both state matches of the rule`);
        return;
      }
      if (condition[field] !== undefined)
        refuse('import-conjunction', option.column, `${shown}: a second ${field} match in one rule is not translated`);
      condition[field] = value;
    };
    if ((name === 'tcp' || name === 'udp') && /^(sport|source-port|dport|destination-port)$/.test(key)) {
      const intervals = portIntervals([option.values[0]], option, refuse);
      if (intervals) set(key.startsWith('s') ? 'sport' : 'dport', intervals);
    } else if (name === 'tcp' && key === 'syn') {
      if (option.negated) refuse('import-negation', option.column, `'! --syn' is not translated`);
      else set('tcpFlags', { set: ['syn'], mask: ['fin', 'syn', 'rst', 'ack'] });
    } else if (name === 'tcp' && key === 'tcp-flags') {
      const flags = tcpFlags(option, shown, refuse);
      if (flags) set('tcpFlags', flags);
    } else if (name === 'multiport' && /^(sports|source-ports|dports|destination-ports)$/.test(key)) {
      const intervals = portIntervals(option.values[0].split(','), option, refuse);
      if (intervals) set(key.startsWith('s') ? 'sport' : 'dport', intervals);
    } else if ((name === 'icmp' && key === 'icmp-type') || (name === 'icmp6' && key === 'icmpv6-type')) {
      const type = icmpType(name === 'icmp' ? 'icmp' : 'icmpv6', option.values[0]);
      if (option.negated) refuse('import-negation', option.column, `${shown} is not translated`);
      else if (typeof type === 'string') refuse('import-icmp-code', option.column, type);
      else if (type !== undefined) set('icmpTypes', [type]);
    } else if ((name === 'conntrack' && key === 'ctstate') || (name === 'state' && key === 'state')) {
      const states = ctStates(option, shown, refuse);
      if (states) set('ctStates', states);
    } else if (name === 'comment' && key === 'comment') {
      comments.push(option.values[0]);
    } else if (name === 'iprange' && (key === 'src-range' || key === 'dst-range')) {
      const range = parseRange(option.values[0]);
      if (option.negated) refuse('import-negation', option.column, `${shown} is not translated`);
      else if ('kind' in range) refuse('import-unsupported', option.column, range.message);
      else set(key === 'src-range' ? 'src' : 'dst', { cidrs: range, negated: false });
    } else {
      const where = block.implicit ? `of -p ${name}` : `of -m ${name}`;
      unsupported(option.column, `${shown} ${where}`);
    }
  }
}

function portIntervals(values: string[], option: RuleOption, refuse: Refuse): Interval[] | undefined {
  const intervals: [number, number][] = [];
  for (const value of values) {
    const m = /^(\d*)(?::(\d*))?$/.exec(value);
    const low = m && m[1] !== '' ? Number(m[1]) : 0;
    const high = m && m[2] !== undefined ? (m[2] === '' ? 65535 : Number(m[2])) : low;
    if (!m || (m[1] === '' && m[2] === undefined) || high > 65535 || low > high) {
      refuse(
        'import-unsupported',
        option.column,
        `'${value}' of '${option.option}' is not a port or port range (port names are not resolved)`,
      );
      return undefined;
    }
    intervals.push([low, high]);
  }
  const merged = mergeIntervals(intervals);
  return option.negated ? complementPorts(merged) : merged;
}

export function mergeIntervals(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [low, high] of sorted) {
    const last = out.at(-1);
    if (last && low <= last[1] + 1) last[1] = Math.max(last[1], high);
    else out.push([low, high]);
  }
  return out;
}

/** The ports 0–65535 outside `merged` (sorted, disjoint). */
export function complementPorts(merged: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let next = 0;
  for (const [low, high] of merged) {
    if (low > next) out.push([next, low - 1]);
    next = high + 1;
  }
  if (next <= 65535) out.push([next, 65535]);
  return out;
}

function flagList(text: string): string[] | undefined {
  if (text.toUpperCase() === 'ALL') return IPTABLES_ALL_FLAGS;
  if (text.toUpperCase() === 'NONE') return [];
  const names = text.toLowerCase().split(',');
  return names.every((n) => FLAG_NAMES.has(n)) ? names : undefined;
}

function tcpFlags(option: RuleOption, shown: string, refuse: Refuse): Condition['tcpFlags'] {
  const mask = flagList(option.values[0] ?? '');
  const set = flagList(option.values[1] ?? '');
  if (option.negated) refuse('import-negation', option.column, `${shown} is not translated`);
  else if (!mask || !set) refuse('import-unsupported', option.column, `${shown}: unknown TCP flag names`);
  else if (mask.length > 0) return { set: set.filter((f) => mask.includes(f)), mask };
  // A mask of NONE looks at no flag: every TCP packet matches, as with no flag match.
  return undefined;
}

/** A type number, a message for a type with a code, or undefined for "any". */
function icmpType(protocol: 'icmp' | 'icmpv6', text: string): number | string | undefined {
  if (text === 'any') return undefined;
  if (/^\d{1,3}$/.test(text) && Number(text) <= 255) return Number(text);
  const named = icmpTypeNumber(protocol, text) ?? (protocol === 'icmpv6' ? ICMPV6_ALIASES[text] : undefined);
  if (named !== undefined) return named;
  return `${protocol} type '${text}' names a type and code, or no type xdpfw knows (xdpfw matches the type only)`;
}

function ctStates(option: RuleOption, shown: string, refuse: Refuse): string[] | undefined {
  const names = option.values[0].toLowerCase().split(',');
  const unknown = names.filter((n) => !CT_STATES.includes(n));
  if (unknown.length > 0) {
    refuse('import-ct-state', option.column, `${shown}: state ${unknown.map((n) => n.toUpperCase()).join(', ')} has no xdpfw equivalent`);
    return undefined;
  }
  return option.negated ? CT_STATES.filter((s) => !names.includes(s)) : CT_STATES.filter((s) => names.includes(s));
}
