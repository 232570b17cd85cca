/**
 * Address and CIDR literals → validated, normalised prefixes. IPv4 in the
 * strict dotted-quad form has a hand-written fast path (a million-entry set
 * file is parsed here); everything else goes through ipaddr.js.
 */
import ipaddr from 'ipaddr.js';
import type { Prefix } from './ir.js';

/** Why a literal is not a valid address or CIDR. */
export interface AddressError {
  message: string;
  hint?: string;
}

/** A prefix, or why the text is not one (no wrapper object: a million-entry set is parsed here). */
export type AddressParse = Prefix | AddressError;

export function isAddressError(parsed: AddressParse): parsed is AddressError {
  return 'message' in parsed;
}

const EXAMPLES = 'e.g. 192.0.2.0/24, 198.51.100.7 or 2001:db8::/32';

export function parseAddress(text: string): AddressParse {
  const fast = parseIpv4Fast(text);
  if (fast) return fast;
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const lengthText = slash < 0 ? undefined : text.slice(slash + 1);
  const family = addressText.includes(':') ? 6 : 4;
  const bytes = addressBytes(addressText, family);
  if (!bytes) {
    return {
      message: `invalid address '${text}'`,
      hint:
        family === 4
          ? 'an IPv4 address is four numbers 0–255 separated by dots; ' + EXAMPLES
          : 'expected an IPv6 address such as 2001:db8::1 (no zone index); ' + EXAMPLES,
    };
  }
  const max = family === 4 ? 32 : 128;
  let length = max;
  if (lengthText !== undefined) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > max) {
      return {
        message: `invalid prefix length '/${lengthText}' in '${text}'`,
        hint: `an IPv${family} prefix length is 0 to ${max}`,
      };
    }
    length = Number(lengthText);
  }
  const network = maskBytes(bytes, length);
  const prefix = makePrefix(family, network, length);
  if (network.some((b, i) => b !== bytes[i])) {
    const single = `${addressText}/${max}`;
    return {
      message: `${text} has host bits set; did you mean ${prefix.text}?`,
      hint: `${prefix.text} is the network that contains it; for the single address write ${single}`,
    };
  }
  return prefix;
}

export function makePrefix(family: 4 | 6, bytes: number[], length: number): Prefix {
  return { family, bytes, length, text: `${bytesToText(family, bytes)}/${length}` };
}

export function bytesToText(family: 4 | 6, bytes: number[]): string {
  return family === 4 ? bytes.join('.') : ipaddr.fromByteArray(bytes).toString();
}

function addressBytes(text: string, family: 4 | 6): number[] | undefined {
  if (family === 4) {
    return ipaddr.IPv4.isValidFourPartDecimal(text) ? ipaddr.IPv4.parse(text).toByteArray() : undefined;
  }
  if (text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  return ipaddr.IPv6.parse(text).toByteArray();
}

function maskBytes(bytes: number[], length: number): number[] {
  return bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, length - 8 * i));
    return b & ((0xff00 >> bits) & 0xff);
  });
}

/**
 * `a.b.c.d` or `a.b.c.d/n`, decimal without leading zeros, host bits clear:
 * the canonical form, so the text is kept as written. Anything else (also
 * every invalid input) returns undefined and takes the general path.
 */
function parseIpv4Fast(text: string): Prefix | undefined {
  const bytes = [0, 0, 0, 0];
  let part = 0;
  let value = 0;
  let digits = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return undefined; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return undefined;
    } else if (c === 46 /* . */ && part < 3 && digits > 0) {
      bytes[part++] = value;
      value = digits = 0;
    } else break;
  }
  if (part !== 3 || digits === 0) return undefined;
  bytes[3] = value;
  if (i < text.length) {
    if (text.charCodeAt(i) !== 47 /* / */ || i + 1 >= text.length || text.length - i > 3) return undefined;
    let length = 0;
    for (let j = i + 1; j < text.length; j++) {
      const c = text.charCodeAt(j);
      if (c < 48 || c > 57 || (j > i + 1 && length === 0)) return undefined; // not a digit, or a leading zero
      length = length * 10 + (c - 48);
    }
    if (length > 32) return undefined;
    const address = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
    const hostMask = length === 0 ? 0xffffffff : length === 32 ? 0 : 0xffffffff >>> length;
    if ((address & hostMask) !== 0) return undefined;
    return { family: 4, bytes, length, text };
  }
  return { family: 4, bytes, length: 32, text: `${text}/32` };
}
