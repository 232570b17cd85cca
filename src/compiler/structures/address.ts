/**
 * Address and CIDR literals → validated, normalised prefixes. IPv4 in the
 * strict dotted-quad form has a hand-written fast path (a million-entry set
 * file is parsed here); everything else goes through ipaddr.js.
 */
import ipaddr from 'ipaddr.js';
import type { Prefix } from '../ir.js';
import type { PrefixBuilder } from './prefix-list.js';

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
  const scanned = scan4(text, 0, text.length);
  if (scanned < 0) return undefined;
  const address = Math.floor(scanned / 64);
  const bytes = [address >>> 24, (address >>> 16) & 255, (address >>> 8) & 255, address & 255];
  const length = scanned % 64;
  return { family: 4, bytes, length, text: text.includes('/') ? text : `${text}/32` };
}

/**
 * The canonical IPv4 form in text[start, end): address * 64 + length, or -1
 * for anything else (which the general path then parses or words an error for).
 */
function scan4(text: string, start: number, end: number): number {
  let address = 0;
  let part = 0;
  let value = 0;
  let digits = 0;
  let i = start;
  for (; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits > 0 && value === 0) return -1; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return -1;
    } else if (c === 46 /* . */ && part < 3 && digits > 0) {
      address = address * 256 + value;
      part++;
      value = digits = 0;
    } else break;
  }
  if (part !== 3 || digits === 0) return -1;
  address = address * 256 + value;
  if (i === end) return address * 64 + 32;
  const length = scanLength(text, i, end, 32);
  if (length < 0) return -1;
  const hostMask = length === 0 ? 0xffffffff : length === 32 ? 0 : 0xffffffff >>> length;
  return (address & hostMask) === 0 ? address * 64 + length : -1;
}

/** `/n` at text[i, end): n (no leading zero, at most `max`), or -1. */
function scanLength(text: string, i: number, end: number, max: number): number {
  if (text.charCodeAt(i) !== 47 /* / */ || i + 1 >= end || end - i > 4) return -1;
  let length = 0;
  for (let j = i + 1; j < end; j++) {
    const c = text.charCodeAt(j);
    if (c < 48 || c > 57 || (j > i + 1 && length === 0)) return -1; // not a digit, or a leading zero
    length = length * 10 + (c - 48);
  }
  return length <= max ? length : -1;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Plain IPv6 in text[start, end) — groups of 1–4 hex digits, at most one
 * `::`, an optional `/n`, host bits clear — into words[0..3]: the length, or
 * -1 for anything else (embedded IPv4, zones, errors: the general path).
 */
function scan6(text: string, start: number, end: number, words: Uint32Array): number {
  const groups: number[] = [];
  let gap = -1; // index in groups where `::` stands
  let i = start;
  if (text.charCodeAt(i) === 58 && text.charCodeAt(i + 1) === 58) {
    gap = 0;
    i += 2;
  }
  while (i < end && text.charCodeAt(i) !== 47) {
    let value = 0;
    let digits = 0;
    for (; i < end; i++) {
      const d = hexDigit(text.charCodeAt(i));
      if (d < 0) break;
      value = value * 16 + d;
      if (++digits > 4) return -1;
    }
    if (digits === 0) return -1;
    groups.push(value);
    if (i >= end || text.charCodeAt(i) === 47) break;
    if (text.charCodeAt(i) !== 58) return -1;
    i++;
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) return -1;
      gap = groups.length;
      i++;
    } else if (i >= end || text.charCodeAt(i) === 47) return -1; // a trailing single ':'
  }
  if (gap < 0 ? groups.length !== 8 : groups.length > 7) return -1;
  const length = i === end ? 128 : scanLength(text, i, end, 128);
  if (length < 0) return -1;
  const zeros = 8 - groups.length;
  const group = (g: number) => (gap < 0 || g < gap ? groups[g] : g < gap + zeros ? 0 : groups[g - zeros]);
  for (let w = 0; w < 4; w++) words[w] = ((group(2 * w) << 16) | group(2 * w + 1)) >>> 0;
  for (let w = 0; w < 4; w++) {
    const bits = Math.max(0, Math.min(32, length - 32 * w));
    const host = bits === 32 ? 0 : 0xffffffff >>> bits;
    if ((words[w] & host) !== 0) return -1;
  }
  return length;
}

const scratch6 = new Uint32Array(4);

/**
 * Parses text[start, end) into `builder`: the error when it is not a valid
 * address or CIDR. Set files take this path: no string or object per entry
 * when the entry is plain IPv4 or IPv6.
 */
export function addAddress(builder: PrefixBuilder, text: string, start = 0, end = text.length): AddressError | undefined {
  const v4 = scan4(text, start, end);
  if (v4 >= 0) {
    builder.add4(Math.floor(v4 / 64), v4 % 64);
    return undefined;
  }
  const length6 = scan6(text, start, end, scratch6);
  if (length6 >= 0) {
    builder.add6(scratch6, 0, length6);
    return undefined;
  }
  const parsed = parseAddress(text.slice(start, end));
  if (isAddressError(parsed)) return parsed;
  builder.addPrefix(parsed);
  return undefined;
}
