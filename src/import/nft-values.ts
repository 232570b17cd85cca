/**
 * The values of nft matches, as libnftables' JSON writes them, → the
 * normalised fields of a Condition: addresses as prefixes (a range split
 * into the fewest), ports as intervals (negation as the complement),
 * protocols and ICMP types as numbers, connection states and TCP flags by
 * name. A value xdpfw cannot match is a refusal naming it.
 */
import type { Refusal } from './nft-match.js';
import { parseCidr, parseRange, type Cidr } from './iptables-addresses.js';
import {
  PROTOCOL_NUMBERS,
  complementPorts,
  mergeIntervals,
  type AddressMatch,
  type Condition,
  type Interval,
} from './iptables-conditions.js';
import type { NftExpr } from './nft-json.js';
import { renderValue } from './nft-render.js';
import { icmpTypeNumber } from '../compiler/syntax/names.js';

export type ValueResult<T> = { value: T } | { refusal: Refusal };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const fail = <T>(code: Refusal['code'], message: string): ValueResult<T> => ({ refusal: { code, message } });

export function addressMatch(values: NftExpr[], family: 4 | 6, negated: boolean, shown: string): ValueResult<AddressMatch> {
  const cidrs: Cidr[] = [];
  for (const value of values) {
    let parsed: Cidr | Cidr[] | { kind: string; message: string };
    if (typeof value === 'string') parsed = parseCidr(value);
    else if (isObject(value) && isObject(value.prefix)) parsed = parseCidr(`${String(value.prefix.addr)}/${String(value.prefix.len)}`);
    else if (isObject(value) && Array.isArray(value.range)) parsed = parseRange(`${String(value.range[0])}-${String(value.range[1])}`);
    else return fail('import-unsupported', `${shown}: '${renderValue(value)}' is not an address, prefix or range`);
    if ('kind' in parsed) return fail('import-unsupported', `${shown}: ${parsed.message}`);
    for (const cidr of Array.isArray(parsed) ? parsed : [parsed]) {
      if (cidr.family !== family) return fail('import-unsupported', `${shown}: '${renderValue(value)}' is not an IPv${family} address`);
      cidrs.push(cidr);
    }
  }
  return { value: { cidrs, negated } };
}

const port = (value: NftExpr): number | undefined => {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 65535 ? n : undefined;
};

export function portIntervals(op: string, values: NftExpr[], shown: string): ValueResult<Interval[]> {
  const intervals: Interval[] = [];
  for (const value of values) {
    const range = isObject(value) && Array.isArray(value.range) ? value.range.map(port) : [port(value), port(value)];
    const [low, high] = range;
    if (low === undefined || high === undefined || low > high) {
      return fail('import-unsupported', `${shown}: '${renderValue(value)}' is not a port or port range (port names are not resolved)`);
    }
    intervals.push([low, high]);
  }
  const merged = mergeIntervals(intervals);
  const bound = merged[0]?.[0] ?? 0;
  if (op === '<') return { value: bound === 0 ? [] : [[0, bound - 1]] };
  if (op === '<=') return { value: [[0, bound]] };
  if (op === '>') return { value: bound === 65535 ? [] : [[bound + 1, 65535]] };
  if (op === '>=') return { value: [[bound, 65535]] };
  return { value: op === '!=' ? complementPorts(merged) : merged };
}

export function protocolNumber(value: NftExpr): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 255 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  return /^\d{1,3}$/.test(value) && Number(value) <= 255 ? Number(value) : PROTOCOL_NUMBERS[value.toLowerCase()];
}

export function icmpTypeList(protocol: 'icmp' | 'icmpv6', values: NftExpr[], shown: string): ValueResult<number[]> {
  const types: number[] = [];
  for (const value of values) {
    const type =
      typeof value === 'number'
        ? value
        : typeof value === 'string'
          ? (icmpTypeNumber(protocol, value) ?? protocolAlias(protocol, value))
          : undefined;
    if (type === undefined || type < 0 || type > 255) {
      return fail('import-icmp-code', `${shown}: ${protocol} type '${renderValue(value)}' is no type xdpfw knows`);
    }
    types.push(type);
  }
  return { value: [...new Set(types)].sort((a, b) => a - b) };
}

/** nft's ICMPv6 names that xdpfw spells otherwise. */
function protocolAlias(protocol: 'icmp' | 'icmpv6', name: string): number | undefined {
  const aliases: Record<string, number> = { 'mld-listener-reduction': 132, 'router-renumbering': 138 };
  return protocol === 'icmpv6' ? aliases[name] : undefined;
}

const FAMILY_NAMES: Readonly<Record<string, 4 | 6>> = { ipv4: 4, ipv6: 6, ip: 4, ip6: 6, '2': 4, '10': 6 };

/** The families `meta nfproto` (or `meta protocol`) lets through: none, one or both. */
export function familyOf(values: NftExpr[], negated: boolean, shown: string): ValueResult<(4 | 6)[]> {
  const named: (4 | 6)[] = [];
  for (const value of values) {
    const family = FAMILY_NAMES[String(value)];
    if (family === undefined) return fail('import-unsupported', `${shown}: '${renderValue(value)}' is not IPv4 or IPv6`);
    named.push(family);
  }
  return { value: ([4, 6] as const).filter((f) => named.includes(f) !== negated) };
}

const CT_STATES = ['new', 'established', 'related', 'invalid'];

export function ctStateList(values: NftExpr[], negated: boolean, shown: string): ValueResult<string[]> {
  const names = values.map((v) => String(v));
  const unknown = names.filter((n) => !CT_STATES.includes(n));
  if (unknown.length > 0) return fail('import-ct-state', `${shown}: state ${unknown.join(', ')} has no xdpfw equivalent`);
  return { value: CT_STATES.filter((s) => names.includes(s) !== negated) };
}

const FLAG_BITS: Readonly<Record<string, number>> = { fin: 1, syn: 2, rst: 4, psh: 8, ack: 16, urg: 32, ecn: 64, cwr: 128 };
/** xdpfw's names, by bit: nft says `ecn` for the ECE flag. */
const XDPFW_FLAGS = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg', 'ece', 'cwr'];

/** A flag value: a name, a number, a list or `|` of them (the bits OR'd). */
function flagBits(value: NftExpr): number | undefined {
  if (typeof value === 'number') return value >= 0 && value <= 255 ? value : undefined;
  if (typeof value === 'string') return FLAG_BITS[value];
  const parts = Array.isArray(value) ? value : isObject(value) && Array.isArray(value['|']) ? value['|'] : undefined;
  if (!parts) return undefined;
  let bits = 0;
  for (const part of parts) {
    const b = flagBits(part);
    if (b === undefined) return undefined;
    bits |= b;
  }
  return bits;
}

const names = (bits: number) => XDPFW_FLAGS.filter((_, i) => (bits & (1 << i)) !== 0);

/**
 * `tcp flags & MASK == SET` (`mask` given), `tcp flags == SET` (all eight
 * flags looked at), `tcp flags SYN` (op `in`: the flag is set; of several,
 * any, which one xdpfw rule cannot say), and `& MASK != 0` of one flag.
 */
export function tcpFlagsMatch(op: string, mask: NftExpr | undefined, right: NftExpr, shown: string): ValueResult<Condition['tcpFlags']> {
  if (isObject(right) && 'set' in right) return fail('import-tcp-flags', `${shown}: a set of flag combinations is not translated`);
  const maskBits = mask === undefined ? 255 : flagBits(mask);
  const setBits = flagBits(right);
  if (maskBits === undefined || setBits === undefined) return fail('import-unsupported', `${shown}: unknown TCP flag names`);
  const oneFlag = (bits: number) => bits !== 0 && (bits & (bits - 1)) === 0;
  if (op === 'in' && mask === undefined) {
    if (!oneFlag(setBits))
      return fail('import-tcp-flags', `${shown}: any of several flags is not translated (xdpfw's flags F / M says all of F)`);
    return { value: { set: names(setBits), mask: names(setBits) } };
  }
  if (op === '!=' && setBits === 0 && oneFlag(maskBits)) return { value: { set: names(maskBits), mask: names(maskBits) } };
  if (op !== '==') return fail('import-negation', `${shown} is not translated`);
  if ((setBits & ~maskBits) !== 0) return fail('import-tcp-flags', `${shown}: the flags compared are not all under the mask`);
  // `tcp flags & 0 == 0` holds for every packet.
  if (maskBits === 0) return { value: undefined };
  return { value: { set: names(setBits), mask: names(maskBits) } };
}
