/**
 * One nft `match` (LEFT OP RIGHT) → the Conditions a packet can meet it by:
 * usually one, several when a set on a field one xdpfw rule holds once
 * (`meta l4proto { tcp, udp }`, `iifname { "eth0", "eth1" }`) needs one
 * rule each, none when no packet meets it. The right-hand side is a value,
 * an anonymous set, a prefix, a range, a bitmask list or a named set
 * (`@name`, read from the ruleset). What xdpfw cannot match is a refusal
 * naming it. Values are read by nft-values.ts.
 */
import type { ImportCode } from './codes.js';
import type { Condition } from './iptables-conditions.js';
import type { NftExpr, NftSet } from './nft-json.js';
import { renderStatement, renderValue } from './nft-render.js';
import { dynamicSetProblem, isDynamic } from './nft-stateful.js';
import {
  addressMatch,
  ctStateList,
  familyOf,
  icmpTypeList,
  portIntervals,
  protocolNumber,
  tcpFlagsMatch,
  type ValueResult,
} from './nft-values.js';

export interface Refusal {
  code: ImportCode;
  message: string;
}

export type MatchResult = { alternatives: Condition[] } | { refusal: Refusal };

/** Finds a named set or map of the rule's table. */
export type SetLookup = (name: string) => NftSet | undefined;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const refuse = (code: ImportCode, message: string): MatchResult => ({ refusal: { code, message } });
const unsupported = (what: string) => refuse('import-unsupported', `${what} is not translated`);
const one = (condition: Condition): MatchResult => ({ alternatives: [condition] });
const result = <T>(value: ValueResult<T>, make: (v: T) => MatchResult): MatchResult => ('refusal' in value ? value : make(value.value));

const TRANSPORT: Readonly<Record<string, number | undefined>> = { tcp: 6, udp: 17, sctp: 132, dccp: 33, udplite: 136, th: undefined };

/** The elements a right-hand side stands for: a set's or named set's members, a bitmask list's flags, or itself. */
export function elementsOf(right: NftExpr, lookup: SetLookup): ValueResult<NftExpr[]> {
  if (typeof right === 'string' && right.startsWith('@')) {
    const set = lookup(right.slice(1));
    if (!set) return { refusal: { code: 'import-unsupported', message: `the set ${right} is not in the ruleset's table` } };
    if (Array.isArray(set.type))
      return { refusal: { code: 'import-unsupported', message: `${right} is a set of concatenations, not translated` } };
    if (set.flags.includes('dynamic') || set.flags.includes('timeout')) {
      return {
        refusal: {
          code: 'import-unsupported',
          message: `${right} is a set whose elements expire or are added as packets pass, not translated`,
        },
      };
    }
    return { value: set.elem };
  }
  if (isObject(right) && 'set' in right) return { value: Array.isArray(right.set) ? right.set : [right.set] };
  if (Array.isArray(right)) return { value: right };
  return { value: [right] };
}

export function matchAlternatives(op: string, left: NftExpr, right: NftExpr, lookup: SetLookup): MatchResult {
  const shown = `'${renderStatement({ match: { op, left, right } })}'`;
  const negated = op === '!=';
  if (!['==', '!=', 'in', '<', '>', '<=', '>='].includes(op)) return unsupported(`the operator '${op}' of ${shown}`);
  const ordered = op !== '==' && op !== '!=' && op !== 'in';

  if (isObject(left) && '&' in left) {
    const [inner, mask] = Array.isArray(left['&']) ? (left['&'] as NftExpr[]) : [];
    if (isTcpFlags(inner) && !ordered) return result(tcpFlagsMatch(op, mask, right, shown), (f) => one({ protocol: 6, tcpFlags: f }));
    return unsupported(shown);
  }
  const dynamic = dynamicSetMatch(left, right, negated, lookup, shown);
  if (dynamic) return dynamic;
  const elements = elementsOf(right, lookup);
  if ('refusal' in elements) return elements;
  const values = elements.value;
  if (ordered && !isPortField(left)) return unsupported(shown);

  if (isObject(left) && isObject(left.payload)) {
    const protocol = String(left.payload.protocol);
    const field = String(left.payload.field);
    if ((protocol === 'ip' || protocol === 'ip6') && (field === 'saddr' || field === 'daddr')) {
      const family = protocol === 'ip' ? 4 : 6;
      return result(addressMatch(values, family, negated, shown), (match) => one({ [field === 'saddr' ? 'src' : 'dst']: match }));
    }
    if (protocol in TRANSPORT && (field === 'sport' || field === 'dport')) {
      const number = TRANSPORT[protocol];
      return result(portIntervals(op, values, shown), (intervals) =>
        one({ ...(number !== undefined ? { protocol: number } : {}), [field]: intervals }),
      );
    }
    if ((protocol === 'icmp' || protocol === 'icmpv6') && field === 'type') {
      if (negated) return refuse('import-negation', `${shown}: a negated ICMP type is not translated`);
      return result(icmpTypeList(protocol, values, shown), (types) => one({ protocol: protocol === 'icmp' ? 1 : 58, icmpTypes: types }));
    }
    if ((protocol === 'icmp' || protocol === 'icmpv6') && field === 'code') {
      return refuse('import-icmp-code', `${shown}: xdpfw matches the ICMP type only`);
    }
    if ((protocol === 'ip' && field === 'protocol') || (protocol === 'ip6' && field === 'nexthdr')) {
      return protocols(values, negated, shown, protocol === 'ip' ? 4 : 6);
    }
    if (isTcpFlags(left)) return result(tcpFlagsMatch(op, undefined, right, shown), (f) => one({ protocol: 6, tcpFlags: f }));
    return unsupported(shown);
  }
  if (isObject(left) && isObject(left.meta)) {
    const key = String(left.meta.key);
    if (key === 'l4proto') return protocols(values, negated, shown);
    if (key === 'iifname' || key === 'iif') return interfaces(values, negated, shown);
    if (key === 'nfproto' || key === 'protocol') {
      return result(familyOf(values, negated, shown), (families) => ({
        alternatives: families.length === 2 ? [{}] : families.map((f) => ({ family: f })),
      }));
    }
    if (key === 'oifname' || key === 'oif') return unsupported(`${shown} (XDP sees only inbound packets)`);
    return unsupported(shown);
  }
  if (isObject(left) && isObject(left.ct) && left.ct.key === 'state') {
    return result(ctStateList(values, negated, shown), (states) => one({ ctStates: states }));
  }
  return unsupported(shown);
}

/**
 * `ip saddr @S` (or `!=`, daddr, ip6), S a set whose entries expire: a
 * dynamic-set match. `ip saddr` matches IPv4 packets only, which xdpfw's
 * `src @S` does not say by itself (`src ! @S` holds for IPv6): `ip4`.
 */
function dynamicSetMatch(left: NftExpr, right: NftExpr, negated: boolean, lookup: SetLookup, shown: string): MatchResult | undefined {
  const set = typeof right === 'string' && right.startsWith('@') ? lookup(right.slice(1)) : undefined;
  const payload = isObject(left) && isObject(left.payload) ? left.payload : undefined;
  if (!set || !isDynamic(set) || !payload || (payload.protocol !== 'ip' && payload.protocol !== 'ip6')) return undefined;
  if (payload.field !== 'saddr' && payload.field !== 'daddr') return undefined;
  const problem = dynamicSetProblem(set);
  if (problem) return refuse('import-nft-set', `${shown}: ${problem}`);
  const field = payload.field === 'saddr' ? 'src' : 'dst';
  const family = payload.protocol === 'ip' ? 4 : 6;
  return one({ family, dynamicSet: { name: set.name, field, negated, seconds: set.timeout ?? 0 } });
}

function isTcpFlags(left: NftExpr): boolean {
  return isObject(left) && isObject(left.payload) && left.payload.protocol === 'tcp' && left.payload.field === 'flags';
}

function isPortField(left: NftExpr): boolean {
  return (
    isObject(left) && isObject(left.payload) && String(left.payload.protocol) in TRANSPORT && /^[sd]port$/.test(String(left.payload.field))
  );
}

/** One alternative a protocol: xdpfw's rule names one protocol. */
function protocols(values: NftExpr[], negated: boolean, shown: string, family?: 4 | 6): MatchResult {
  if (negated) return refuse('import-negation', `${shown}: a negated protocol is not translated`);
  const numbers: number[] = [];
  for (const value of values) {
    const number = protocolNumber(value);
    if (number === undefined) return refuse('import-unsupported', `${shown}: protocol '${renderValue(value)}' is not known`);
    numbers.push(number);
  }
  return { alternatives: numbers.map((protocol) => ({ protocol, ...(family !== undefined ? { family } : {}) })) };
}

/** One alternative an interface: a rule goes to the block of its interface. `!= "lo"` holds for every packet XDP sees. */
function interfaces(values: NftExpr[], negated: boolean, shown: string): MatchResult {
  const names = values.map((v) => (typeof v === 'string' ? v : renderValue(v)));
  if (negated && names.every((n) => n === 'lo')) return one({});
  if (negated) return refuse('import-interface', `${shown}: a negated interface is not translated (only named interfaces, one a rule)`);
  const wildcard = names.find((n) => n.endsWith('*') || typeof n !== 'string');
  if (wildcard !== undefined)
    return refuse('import-interface', `${shown}: the wildcard '${wildcard}' is not translated (only named interfaces)`);
  return { alternatives: names.map((iface) => ({ iface })) };
}
