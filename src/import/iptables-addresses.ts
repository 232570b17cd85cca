/**
 * Addresses of iptables rules as prefixes: `-s`/`-d` values (an address, a
 * CIDR, or an address with a dotted mask, as iptables-save writes for a mask
 * that is not a prefix length), `--src-range` split into the fewest CIDRs,
 * and the intersection of two prefix lists that inlining a chain needs.
 */
import ipaddr from 'ipaddr.js';

export interface Cidr {
  family: 4 | 6;
  /** The network address, host bits clear. */
  value: bigint;
  length: number;
}

const width = (family: 4 | 6) => (family === 4 ? 32 : 128);

function toBigint(bytes: number[]): bigint {
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

function hostMask(family: 4 | 6, length: number): bigint {
  return (1n << BigInt(width(family) - length)) - 1n;
}

function parseHost(text: string): { family: 4 | 6; value: bigint } | undefined {
  if (text.includes(':')) {
    if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
    return { family: 6, value: toBigint(ipaddr.IPv6.parse(text).toByteArray()) };
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(text)) return undefined;
  return { family: 4, value: toBigint(ipaddr.IPv4.parse(text).toByteArray()) };
}

/** Why an address is refused: `mask` for a dotted mask that is not contiguous. */
export type AddressProblem = { kind: 'mask' | 'syntax'; message: string };

/** One element of a `-s a,b/24,c/255.255.0.0` list. */
export function parseCidr(text: string): Cidr | AddressProblem {
  const [hostText, maskText, extra] = text.split('/');
  const host = hostText === undefined ? undefined : parseHost(hostText);
  if (!host || extra !== undefined) {
    return { kind: 'syntax', message: `'${text}' is not an address or CIDR (host names are not resolved by the importer)` };
  }
  const max = width(host.family);
  let length = max;
  if (maskText !== undefined && /^\d{1,3}$/.test(maskText) && Number(maskText) <= max) {
    length = Number(maskText);
  } else if (maskText !== undefined) {
    const mask = parseHost(maskText);
    if (!mask || mask.family !== host.family)
      return { kind: 'syntax', message: `'/${maskText}' in '${text}' is not a prefix length or mask` };
    const bits = mask.value.toString(2).padStart(max, '0');
    length = /^1*0*$/.test(bits) ? (bits.indexOf('0') < 0 ? max : bits.indexOf('0')) : -1;
    if (length < 0) {
      return { kind: 'mask', message: `the mask '${maskText}' of '${text}' is not contiguous (xdpfw matches prefixes only)` };
    }
  }
  return { family: host.family, value: host.value & ~hostMask(host.family, length), length };
}

/** `a-b` of -m iprange → the fewest CIDRs covering exactly that range. */
export function parseRange(text: string): Cidr[] | AddressProblem {
  const [fromText, toText, extra] = text.split('-');
  const from = fromText === undefined ? undefined : parseHost(fromText);
  const to = toText === undefined ? undefined : parseHost(toText);
  if (!from || !to || extra !== undefined || from.family !== to.family || from.value > to.value) {
    return { kind: 'syntax', message: `'${text}' is not an address range (expected FROM-TO, FROM not above TO, one family)` };
  }
  const family = from.family;
  const out: Cidr[] = [];
  let start = from.value;
  while (start <= to.value) {
    let length = width(family);
    while (length > 0) {
      const wider = length - 1;
      const mask = hostMask(family, wider);
      if ((start & mask) !== 0n || (start | mask) > to.value) break;
      length = wider;
    }
    out.push({ family, value: start, length });
    start = (start | hostMask(family, length)) + 1n;
  }
  return out;
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family && outer.length <= inner.length && (inner.value & ~hostMask(outer.family, outer.length)) === outer.value
  );
}

/** The prefixes in both lists: two prefixes meet only when one holds the other. */
export function intersectCidrs(a: readonly Cidr[], b: readonly Cidr[]): Cidr[] {
  const out: Cidr[] = [];
  for (const x of a) {
    for (const y of b) {
      if (contains(x, y)) out.push(y);
      else if (contains(y, x)) out.push(x);
    }
  }
  return out;
}

export function cidrText(cidr: Cidr): string {
  const bytes: number[] = [];
  for (let i = width(cidr.family) / 8 - 1; i >= 0; i--) bytes.push(Number((cidr.value >> BigInt(i * 8)) & 0xffn));
  const address = cidr.family === 4 ? bytes.join('.') : ipaddr.fromByteArray(bytes).toString();
  return cidr.length === width(cidr.family) ? address : `${address}/${cidr.length}`;
}
