/**
 * The packet text of `xdpfw test --packet` and of test cases, to a PacketSpec
 * and back:
 *
 *   tcp 198.51.100.1:4242 > 192.0.2.1:22 flags S
 *   udp [2001:db8::1]:53 > [2001:db8::2]:53
 *   icmp 198.51.100.1 > 192.0.2.1 type echo-request
 *   icmpv6 2001:db8::1 > 2001:db8::2 type 135
 *   proto 47 10.0.0.1 > 10.0.0.2
 *
 * followed by modifiers in any order: `flags X` (tcp; X is letters of
 * FSRPAUEC, names like syn,ack, a number or none); `type NAME|N` and `code N`
 * (icmp, icmpv6); `vlan ID` (802.1Q) and `svlan ID` (802.1ad), outermost
 * first; `ext hopopts,routing,fragment,ah,dstopts` (IPv6 extension headers,
 * in order); `ipopt`, `ipopt N` or `ipopt 0xHEX` (IPv4 options: NOP+EOL, N
 * bytes of NOPs ending in EOL, or these bytes); `frag OFFSET [mf]` (offset
 * in 8-byte units); `len N` (payload bytes); `trunc N` (cut the frame);
 * `ct STATE` (new, established, related or invalid: the connection state
 * the packet is judged in; without it, `new`).
 *
 * formatPacket prints a spec in this form, modifiers in the order above, so
 * parsePacket(formatPacket(s)) gives s back (ports and addresses normalised).
 */

import ipaddr from 'ipaddr.js';
import { buildFrame } from './build.js';
import { icmpTypeByName, icmpTypeName, icmpTypeNames } from './icmp-names.js';
import type { PacketSpec } from './spec.js';
import { TCP_FLAGS, tcpFlagByLetter, tcpFlagByName, tcpFlagLetters } from './tcp-flags.js';

/** A packet text that does not parse. `column` is 1-based, in characters. */
export class PacketSyntaxError extends Error {
  override readonly name = 'PacketSyntaxError';
  readonly code = 'packet-syntax';

  constructor(
    readonly reason: string,
    readonly input: string,
    readonly column: number,
  ) {
    super(`column ${column}: ${reason}`);
  }

  /** The input and a caret under the column. */
  excerpt(): string {
    return `${this.input}\n${' '.repeat(this.column - 1)}^`;
  }
}

const EXT_NAMES: Readonly<Record<string, number>> = {
  hopopts: 0,
  'hop-by-hop': 0,
  routing: 43,
  fragment: 44,
  ah: 51,
  dstopts: 60,
};
const EXT_PRINTED: Readonly<Record<number, string>> = {
  0: 'hopopts',
  43: 'routing',
  44: 'fragment',
  51: 'ah',
  60: 'dstopts',
};

const VLAN_TPIDS = { vlan: 0x8100, svlan: 0x88a8 } as const;

const CT_STATES = ['new', 'established', 'related', 'invalid'] as const;

// ---- parsing -------------------------------------------------------------------

interface Token {
  text: string;
  column: number;
}

/** Words separated by blanks; `>` is a word of its own even when glued to an address. */
function tokenize(input: string): Token[] {
  const tokens: Token[] = [];
  for (const match of input.matchAll(/>|[^\s>]+/g)) tokens.push({ text: match[0], column: (match.index ?? 0) + 1 });
  return tokens;
}

const KINDS = ['tcp', 'udp', 'icmp', 'icmpv6', 'proto'] as const;
type Kind = (typeof KINDS)[number];
const PROTOCOL_NUMBERS = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58 } as const;

interface Endpoint {
  family: 4 | 6;
  address: string;
  port?: number;
}

class Parser {
  private readonly tokens: Token[];
  private at = 0;

  constructor(private readonly input: string) {
    this.tokens = tokenize(input);
  }

  parse(): PacketSpec {
    const first = this.next('a protocol (tcp, udp, icmp, icmpv6 or proto N)');
    const kind = KINDS.find((k) => k === first.text.toLowerCase());
    if (!kind) throw this.error(first, `unknown protocol '${first.text}' (expected tcp, udp, icmp, icmpv6 or proto N)`);
    const protocol = kind === 'proto' ? this.number(this.next('a protocol number'), 'protocol number', 0, 255) : PROTOCOL_NUMBERS[kind];

    const withPorts = kind === 'tcp' || kind === 'udp';
    const srcToken = this.next('a source address');
    const src = this.endpoint(srcToken, withPorts);
    const arrow = this.next("'>' between source and destination");
    if (arrow.text !== '>') {
      throw this.error(arrow, `expected '>' between source and destination, found '${arrow.text}'`);
    }
    const dstToken = this.next('a destination address');
    const dst = this.endpoint(dstToken, withPorts);
    if (dst.family !== src.family) {
      throw this.error(dstToken, `destination is IPv${dst.family} but the source is IPv${src.family}`);
    }
    const family = src.family;
    this.checkProtocolFamily(kind, protocol, family, first);

    const spec: PacketSpec = { family, protocol, src: src.address, dst: dst.address };
    if (withPorts) {
      spec.sport = src.port;
      spec.dport = dst.port;
    }
    this.modifiers(spec, kind);
    return spec;
  }

  private checkProtocolFamily(kind: Kind, protocol: number, family: 4 | 6, at: Token): void {
    if (kind === 'icmp' && family === 6) {
      throw this.error(at, 'icmp is ICMP for IPv4; use icmpv6 with IPv6 addresses (or proto 1 for ICMP carried by IPv6)');
    }
    if (kind === 'icmpv6' && family === 4) {
      throw this.error(at, 'icmpv6 needs IPv6 addresses (use proto 58 for ICMPv6 carried by IPv4)');
    }
    if (kind !== 'proto') return;
    // One spelling per packet, so that printing and parsing round-trip.
    const named = kindOf({ family, protocol, src: '', dst: '' });
    if (named !== 'proto') throw this.error(at, `write '${named}' instead of 'proto ${protocol}'`);
  }

  private endpoint(token: Token, withPort: boolean): Endpoint {
    const text = token.text;
    let address = text;
    let portText: string | undefined;
    let portColumn = token.column;
    const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    if (bracketed) {
      address = bracketed[1];
      portText = bracketed[2];
      if (!ipaddr.IPv6.isValid(address) || address.includes('%')) {
        throw this.error(token, `'${address}' in brackets is not an IPv6 address`);
      }
      portColumn += address.length + 3;
    } else if (text.split(':').length === 2) {
      // An IPv6 address has at least two colons: one colon separates an IPv4 address from its port.
      const colon = text.lastIndexOf(':');
      address = text.slice(0, colon);
      portText = text.slice(colon + 1);
      portColumn += colon + 1;
    }
    const family = this.family(address, token);
    const canonical = family === 4 ? ipaddr.IPv4.parse(address).toString() : ipaddr.IPv6.parse(address).toRFC5952String();

    if (!withPort) {
      if (portText !== undefined) throw this.error(token, `a port needs tcp or udp; '${text}' has one`);
      return { family, address: canonical };
    }
    if (portText === undefined) {
      const example = family === 4 ? `${canonical}:80` : `[${canonical}]:80`;
      throw this.error(token, `expected an address with a port, like ${example}`);
    }
    const port = this.number({ text: portText, column: portColumn }, 'port', 0, 65535);
    return { family, address: canonical, port };
  }

  private family(address: string, token: Token): 4 | 6 {
    if (ipaddr.IPv4.isValidFourPartDecimal(address)) return 4;
    if (ipaddr.IPv6.isValid(address) && !address.includes('%')) return 6;
    throw this.error(token, `'${address}' is not an IPv4 or IPv6 address`);
  }

  private modifiers(spec: PacketSpec, kind: Kind): void {
    const seen = new Set<string>();
    for (let token = this.peek(); token; token = this.peek()) {
      this.at++;
      const word = token.text.toLowerCase();
      if (word !== 'vlan' && word !== 'svlan') {
        if (seen.has(word)) throw this.error(token, `'${word}' is given twice`);
        seen.add(word);
      }
      switch (word) {
        case 'flags':
          if (kind !== 'tcp') throw this.error(token, "'flags' needs tcp");
          spec.tcpFlags = this.flags(this.next('TCP flags, like S, SA or syn,ack'));
          break;
        case 'type':
        case 'code':
          if (kind !== 'icmp' && kind !== 'icmpv6') throw this.error(token, `'${word}' needs icmp or icmpv6`);
          if (word === 'type') spec.icmpType = this.icmpType(this.next('an ICMP type'), spec.family);
          else spec.icmpCode = this.number(this.next('an ICMP code'), 'ICMP code', 0, 255);
          break;
        case 'vlan':
        case 'svlan':
          (spec.vlans ??= []).push({
            tpid: VLAN_TPIDS[word],
            id: this.number(this.next('a VLAN id'), 'VLAN id', 0, 4095),
          });
          break;
        case 'frag': {
          const offset = this.number(this.next('a fragment offset (in 8-byte units)'), 'fragment offset', 0, 8191);
          const moreFragments = this.peek()?.text.toLowerCase() === 'mf';
          if (moreFragments) this.at++;
          spec.fragment = { offset, moreFragments };
          break;
        }
        case 'ext':
          if (spec.family !== 6) throw this.error(token, "'ext' (extension headers) needs IPv6 addresses");
          spec.ipv6ExtensionHeaders = this.extensionHeaders(this.next('extension headers, like hopopts,dstopts'));
          break;
        case 'ipopt':
          if (spec.family !== 4) throw this.error(token, "'ipopt' (IPv4 options) needs IPv4 addresses");
          spec.ipv4Options = this.ipv4Options();
          break;
        case 'len':
          spec.payloadLength = this.number(this.next('a payload length'), 'payload length', 0, 65000);
          break;
        case 'trunc':
          spec.truncateTo = this.number(this.next('a frame length'), 'frame length', MIN_TEST_FRAME, MAX_TEST_FRAME);
          break;
        case 'ct':
          spec.ctState = this.ctState(this.next('a connection state (new, established, related or invalid)'));
          break;
        default:
          throw this.error(token, `unknown word '${token.text}' (expected ${this.expectedModifiers(kind)})`);
      }
    }
  }

  private expectedModifiers(kind: Kind): string {
    const words = ['vlan', 'svlan', 'frag', 'ext', 'ipopt', 'len', 'trunc', 'ct'];
    if (kind === 'tcp') words.unshift('flags');
    if (kind === 'icmp' || kind === 'icmpv6') words.unshift('type', 'code');
    return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
  }

  private flags(token: Token): number {
    const text = token.text;
    if (text.toLowerCase() === 'none') return 0;
    if (/^(0x[0-9a-f]+|[0-9]+)$/i.test(text)) return this.number(token, 'TCP flags', 0, 255);
    if (!text.includes(',') && tcpFlagByName(text) !== undefined) return tcpFlagByName(text) as number;
    if (!text.includes(',') && [...text].every((c) => tcpFlagByLetter(c) !== undefined)) {
      return [...text].reduce((flags, c) => flags | (tcpFlagByLetter(c) as number), 0);
    }
    let flags = 0;
    let column = token.column;
    for (const name of text.split(',')) {
      const bit = tcpFlagByName(name);
      if (bit === undefined) {
        const known = TCP_FLAGS.map((f) => f.name).join(', ');
        throw this.error({ text: name, column }, `unknown TCP flag '${name}' (letters FSRPAUEC, or names ${known})`);
      }
      flags |= bit;
      column += name.length + 1;
    }
    return flags;
  }

  private icmpType(token: Token, family: 4 | 6): number {
    if (/^[0-9]+$/.test(token.text)) return this.number(token, 'ICMP type', 0, 255);
    const type = icmpTypeByName(family, token.text);
    if (type === undefined) {
      const what = family === 4 ? 'ICMP' : 'ICMPv6';
      const names = icmpTypeNames(family).join(', ');
      throw this.error(token, `unknown ${what} type '${token.text}' (a number, or one of ${names})`);
    }
    return type;
  }

  private ctState(token: Token): NonNullable<PacketSpec['ctState']> {
    const state = CT_STATES.find((s) => s === token.text.toLowerCase());
    if (!state) throw this.error(token, `unknown connection state '${token.text}' (expected ${CT_STATES.join(', ')})`);
    return state;
  }

  private extensionHeaders(token: Token): number[] {
    const headers: number[] = [];
    let column = token.column;
    for (const name of token.text.split(',')) {
      const part = { text: name, column };
      const key = name.toLowerCase();
      const type = /^[0-9]+$/.test(name)
        ? this.number(part, 'extension header', 0, 255)
        : Object.hasOwn(EXT_NAMES, key)
          ? EXT_NAMES[key]
          : undefined;
      if (type === undefined || !Object.hasOwn(EXT_PRINTED, type)) {
        throw this.error(
          part,
          `unknown IPv6 extension header '${name}' (expected hopopts, routing, fragment, ah, dstopts or 0, 43, 44, 51, 60)`,
        );
      }
      headers.push(type);
      column += name.length + 1;
    }
    return headers;
  }

  /** `ipopt` alone, `ipopt N` or `ipopt 0xHEX`. */
  private ipv4Options(): number[] {
    const next = this.peek();
    if (next && /^0x/i.test(next.text)) {
      this.at++;
      const hexDigits = next.text.slice(2);
      if (!/^([0-9a-f]{2}){1,40}$/i.test(hexDigits)) {
        throw this.error(next, 'IPv4 options as hex need 1 to 40 whole bytes, like 0x0100');
      }
      return hexDigits.match(/../g)!.map((byte) => parseInt(byte, 16));
    }
    if (next && /^[0-9]+$/.test(next.text)) {
      this.at++;
      return nopOptions(this.number(next, 'IPv4 options length', 1, 40));
    }
    return nopOptions(2);
  }

  private number(token: Token, what: string, low: number, high: number): number {
    const text = token.text;
    const value = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(value)) throw this.error(token, `expected a ${what}, found '${token.text}'`);
    if (value < low || value > high) throw this.error(token, `${what} ${token.text} is out of range ${low}–${high}`);
    return value;
  }

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }

  private next(expected: string): Token {
    const token = this.tokens[this.at++];
    if (!token) {
      throw new PacketSyntaxError(`expected ${expected} at the end`, this.input, this.input.trimEnd().length + 1);
    }
    return token;
  }

  private error(token: Token, reason: string): PacketSyntaxError {
    return new PacketSyntaxError(reason, this.input, token.column);
  }
}

/** `n - 1` NOPs then an EOL. */
function nopOptions(n: number): number[] {
  return [...Array<number>(n - 1).fill(1), 0];
}

/**
 * The largest frame BPF_PROG_TEST_RUN takes for XDP: a page less the
 * headroom (256) and the skb_shared_info tail (320 on x86-64). A larger
 * frame is EINVAL from the kernel, so it is refused here, as a usage error.
 */
export const MAX_TEST_FRAME = 4096 - 256 - 320;
/** The Ethernet header: a frame cut shorter is refused by the kernel too. */
export const MIN_TEST_FRAME = 14;

/** Parses packet text; throws PacketSyntaxError, also for a frame that cannot be built or that the kernel's test run would refuse. */
export function parsePacket(text: string): PacketSpec {
  const spec = new Parser(text).parse();
  let length: number;
  try {
    length = buildFrame(spec).length;
  } catch (error) {
    // A spec the builder cannot lay out (a non-first fragment with headers after its fragment header).
    if (error instanceof RangeError) throw new PacketSyntaxError(error.message, text, 1);
    throw error;
  }
  if (length > MAX_TEST_FRAME) {
    const message = `the frame would be ${length} bytes; a test frame is at most ${MAX_TEST_FRAME} (fewer 'len' bytes or 'vlan' tags)`;
    throw new PacketSyntaxError(message, text, 1);
  }
  return spec;
}

// ---- printing -----------------------------------------------------------------

/** A spec in packet text, the form parsePacket reads. */
export function formatPacket(spec: PacketSpec): string {
  const words: string[] = [];
  const kind = kindOf(spec);
  words.push(kind === 'proto' ? `proto ${spec.protocol}` : kind);
  const withPorts = kind === 'tcp' || kind === 'udp';
  words.push(endpoint(spec.family, spec.src, withPorts ? (spec.sport ?? 0) : undefined), '>');
  words.push(endpoint(spec.family, spec.dst, withPorts ? (spec.dport ?? 0) : undefined));

  if (kind === 'tcp' && spec.tcpFlags !== undefined) {
    words.push('flags', spec.tcpFlags === 0 ? 'none' : tcpFlagLetters(spec.tcpFlags));
  }
  if (kind === 'icmp' || kind === 'icmpv6') {
    if (spec.icmpType !== undefined) {
      words.push('type', icmpTypeName(spec.family, spec.icmpType) ?? String(spec.icmpType));
    }
    if (spec.icmpCode !== undefined) words.push('code', String(spec.icmpCode));
  }
  for (const tag of spec.vlans ?? []) words.push(tag.tpid === 0x88a8 ? 'svlan' : 'vlan', String(tag.id));
  if (spec.family === 6 && spec.ipv6ExtensionHeaders?.length) {
    words.push('ext', spec.ipv6ExtensionHeaders.map((t) => EXT_PRINTED[t] ?? String(t)).join(','));
  }
  if (spec.family === 4 && spec.ipv4Options?.length) words.push(...ipv4OptionWords(spec.ipv4Options));
  if (spec.fragment) words.push('frag', String(spec.fragment.offset), ...(spec.fragment.moreFragments ? ['mf'] : []));
  if (spec.payloadLength !== undefined) words.push('len', String(spec.payloadLength));
  if (spec.truncateTo !== undefined) words.push('trunc', String(spec.truncateTo));
  if (spec.ctState !== undefined) words.push('ct', spec.ctState);
  return words.join(' ');
}

function kindOf(spec: PacketSpec): Kind {
  if (spec.protocol === 6) return 'tcp';
  if (spec.protocol === 17) return 'udp';
  if (spec.protocol === 1 && spec.family === 4) return 'icmp';
  if (spec.protocol === 58 && spec.family === 6) return 'icmpv6';
  return 'proto';
}

function endpoint(family: 4 | 6, address: string, port: number | undefined): string {
  if (port === undefined) return address;
  return family === 4 ? `${address}:${port}` : `[${address}]:${port}`;
}

function ipv4OptionWords(options: number[]): string[] {
  const isNops = options.length >= 1 && options[options.length - 1] === 0 && options.slice(0, -1).every((b) => b === 1);
  if (isNops) return options.length === 2 ? ['ipopt'] : ['ipopt', String(options.length)];
  return ['ipopt', `0x${options.map((b) => b.toString(16).padStart(2, '0')).join('')}`];
}
