/**
 * PacketSpec → Ethernet frame, byte for byte what BPF_PROG_TEST_RUN feeds the
 * data plane. Headers are well-formed (IPv4 header checksum, lengths, L4
 * checksums with the pseudo-header) so that a frame is also fit for a real
 * stack; malformed frames are made by `truncateTo`, a third VLAN tag, or by
 * patching the returned bytes at the offsets `layOutFrame` reports.
 */

import ipaddr from 'ipaddr.js';
import type { PacketSpec } from './spec.js';

export const FRAME_SRC_MAC = '02:00:00:00:00:01';
export const FRAME_DST_MAC = '02:00:00:00:00:02';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;

export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_ICMPV6 = 58;

/** IPv6 extension headers the data plane skips, by next-header value. */
export const IPV6_EXT_HOPOPTS = 0;
export const IPV6_EXT_ROUTING = 43;
export const IPV6_EXT_FRAGMENT = 44;
export const IPV6_EXT_AH = 51;
export const IPV6_EXT_DSTOPTS = 60;
const IPV6_EXTENSION_HEADERS = new Set([IPV6_EXT_HOPOPTS, IPV6_EXT_ROUTING, IPV6_EXT_FRAGMENT, IPV6_EXT_AH, IPV6_EXT_DSTOPTS]);

/** Identification of fragmented datagrams (IPv4 header, IPv6 fragment header) whose spec names none. */
export const FRAGMENT_ID = 0x1234;

export interface FrameOptions {
  /** `aa:bb:cc:dd:ee:ff`; defaults FRAME_SRC_MAC / FRAME_DST_MAC. */
  srcMac?: string;
  dstMac?: string;
}

/** A frame and where its layers start (offsets into `bytes`, before truncation). */
export interface FrameLayout {
  bytes: Uint8Array;
  /** The IP header. */
  l3Offset: number;
  /** The TCP/UDP/ICMP/ICMPv6 header; null when there is none (non-first fragment, other protocol). */
  l4Offset: number | null;
  /** The payload (after the L4 header, or after the IP headers when there is none). */
  payloadOffset: number;
}

export function buildFrame(spec: PacketSpec, options: FrameOptions = {}): Uint8Array {
  return layOutFrame(spec, options).bytes;
}

export function layOutFrame(spec: PacketSpec, options: FrameOptions = {}): FrameLayout {
  checkRange('protocol', spec.protocol, 0, 255);
  const src = addressBytes(spec.family, spec.src, 'src');
  const dst = addressBytes(spec.family, spec.dst, 'dst');
  const payloadLength = spec.payloadLength ?? 0;
  checkRange('payloadLength', payloadLength, 0, 65_000);
  if (spec.fragment) checkRange('fragment offset', spec.fragment.offset, 0, 8191);

  const nonFirstFragment = (spec.fragment?.offset ?? 0) > 0;
  const l4Header = nonFirstFragment ? new Uint8Array(0) : l4HeaderOf(spec);
  const quoted = spec.icmpInner ? quotedDatagram(spec, l4Header.length > 0) : new Uint8Array(0);
  const l4 = concat([l4Header, quoted, payloadBytes(payloadLength)]);
  if (l4Header.length > 0) writeL4Checksum(spec, l4, src, dst);

  const l3 = spec.family === 4 ? ipv4Header(spec, src, dst, l4.length) : ipv6Headers(spec, src, dst, l4.length);
  const l2 = ethernetHeader(spec, options);
  const whole = concat([l2, l3, l4]);
  const bytes = spec.truncateTo === undefined ? whole : whole.slice(0, Math.max(0, spec.truncateTo));
  const l4Offset = l2.length + l3.length;
  return {
    bytes,
    l3Offset: l2.length,
    l4Offset: l4Header.length > 0 ? l4Offset : null,
    payloadOffset: l4Offset + l4Header.length,
  };
}

// ---- layer 2 ----------------------------------------------------------------

function ethernetHeader(spec: PacketSpec, options: FrameOptions): Uint8Array {
  const vlans = spec.vlans ?? [];
  const out = new Uint8Array(14 + 4 * vlans.length);
  out.set(macBytes(options.dstMac ?? FRAME_DST_MAC), 0);
  out.set(macBytes(options.srcMac ?? FRAME_SRC_MAC), 6);
  const view = new DataView(out.buffer);
  let typeOffset = 12;
  for (const tag of vlans) {
    if (tag.tpid !== 0x8100 && tag.tpid !== 0x88a8) {
      throw new RangeError(`vlan tpid 0x${hex(tag.tpid)} is neither 0x8100 nor 0x88a8`);
    }
    checkRange('vlan id', tag.id, 0, 4095);
    view.setUint16(typeOffset, tag.tpid);
    view.setUint16(typeOffset + 2, tag.id);
    typeOffset += 4;
  }
  view.setUint16(typeOffset, spec.family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  return out;
}

function macBytes(mac: string): Uint8Array {
  const parts = mac.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-f]{2}$/i.test(p))) {
    throw new RangeError(`'${mac}' is not a MAC address`);
  }
  return Uint8Array.from(parts.map((p) => parseInt(p, 16)));
}

// ---- layer 3 ----------------------------------------------------------------

function ipv4Header(spec: PacketSpec, src: number[], dst: number[], l4Length: number): Uint8Array {
  const options = spec.ipv4Options ?? [];
  const optionLength = Math.ceil(options.length / 4) * 4;
  if (optionLength > 40) throw new RangeError(`ipv4Options of ${options.length} bytes do not fit in 40`);
  const out = new Uint8Array(20 + optionLength);
  const view = new DataView(out.buffer);
  out[0] = 0x40 | (out.length / 4);
  view.setUint16(2, out.length + l4Length);
  if (spec.fragment) {
    view.setUint16(4, checkRange('fragment id', spec.fragment.id ?? FRAGMENT_ID, 0, 0xffff));
    view.setUint16(6, (spec.fragment.moreFragments ? 0x2000 : 0) | spec.fragment.offset);
  }
  out[8] = 64; // TTL
  out[9] = spec.protocol;
  out.set(src, 12);
  out.set(dst, 16);
  options.forEach((byte, i) => (out[20 + i] = byte & 0xff)); // padded with EOL (0)
  view.setUint16(10, internetChecksum(out));
  return out;
}

/** The IPv6 header and its extension header chain, ending with next header = spec.protocol. */
function ipv6Headers(spec: PacketSpec, src: number[], dst: number[], l4Length: number): Uint8Array {
  const chain = [...(spec.ipv6ExtensionHeaders ?? [])];
  for (const type of chain) {
    if (!IPV6_EXTENSION_HEADERS.has(type)) {
      throw new RangeError(`${type} is not an IPv6 extension header xdpfw skips (0, 43, 44, 51, 60)`);
    }
  }
  if (spec.fragment && !chain.includes(IPV6_EXT_FRAGMENT)) chain.push(IPV6_EXT_FRAGMENT);
  const fragmentAt = chain.indexOf(IPV6_EXT_FRAGMENT);
  if ((spec.fragment?.offset ?? 0) > 0 && fragmentAt < chain.length - 1) {
    throw new RangeError(
      'a non-first fragment cannot carry extension headers after its fragment header (they travel in the first fragment)',
    );
  }

  const headers = chain.map((type, i) => extensionHeader(type, chain[i + 1] ?? spec.protocol, spec));
  const extLength = headers.reduce((sum, h) => sum + h.length, 0);
  const out = new Uint8Array(40);
  const view = new DataView(out.buffer);
  out[0] = 0x60;
  view.setUint16(4, extLength + l4Length);
  out[6] = chain[0] ?? spec.protocol;
  out[7] = 64; // hop limit
  out.set(src, 8);
  out.set(dst, 24);
  return concat([out, ...headers]);
}

function extensionHeader(type: number, next: number, spec: PacketSpec): Uint8Array {
  switch (type) {
    case IPV6_EXT_FRAGMENT: {
      const out = new Uint8Array(8);
      const view = new DataView(out.buffer);
      out[0] = next;
      const fragment: NonNullable<PacketSpec['fragment']> = spec.fragment ?? { offset: 0, moreFragments: false }; // an atomic fragment
      view.setUint16(2, (fragment.offset << 3) | (fragment.moreFragments ? 1 : 0));
      view.setUint32(4, checkRange('fragment id', fragment.id ?? FRAGMENT_ID, 0, 0xffffffff));
      return out;
    }
    case IPV6_EXT_AH: {
      // 12 bytes of header and a 12-byte ICV (HMAC-SHA1-96): 24 bytes, length field 24 / 4 - 2.
      const out = new Uint8Array(24);
      out[0] = next;
      out[1] = 24 / 4 - 2;
      new DataView(out.buffer).setUint32(4, 0x100); // SPI
      return out;
    }
    case IPV6_EXT_ROUTING: {
      // Length 0 (8 bytes), routing type 0, segments left 0: a node skips it.
      const out = new Uint8Array(8);
      out[0] = next;
      return out;
    }
    default: {
      // Hop-by-hop or destination options: 8 bytes, padded by one PadN option.
      const out = new Uint8Array(8);
      out[0] = next;
      out[2] = 1; // PadN
      out[3] = 4;
      return out;
    }
  }
}

// ---- layer 4 ----------------------------------------------------------------

/** TCP and UDP in both families; ICMP only in IPv4 and ICMPv6 only in IPv6. Else none. */
function l4HeaderOf(spec: PacketSpec): Uint8Array {
  const sport = spec.sport ?? 0;
  const dport = spec.dport ?? 0;
  switch (l4Kind(spec)) {
    case 'tcp': {
      checkPorts(sport, dport);
      const out = new Uint8Array(20);
      const view = new DataView(out.buffer);
      view.setUint16(0, sport);
      view.setUint16(2, dport);
      view.setUint32(4, 1); // sequence number
      out[12] = 5 << 4; // data offset: 20 bytes
      out[13] = checkRange('tcpFlags', spec.tcpFlags ?? 0, 0, 255);
      view.setUint16(14, 64240); // window
      return out;
    }
    case 'udp': {
      checkPorts(sport, dport);
      const out = new Uint8Array(8);
      const view = new DataView(out.buffer);
      view.setUint16(0, sport);
      view.setUint16(2, dport);
      view.setUint16(4, 8 + (spec.payloadLength ?? 0));
      return out;
    }
    case 'icmp': {
      const out = new Uint8Array(8); // type, code, checksum, 4 bytes of rest-of-header
      out[0] = checkRange('icmpType', spec.icmpType ?? 0, 0, 255);
      out[1] = checkRange('icmpCode', spec.icmpCode ?? 0, 0, 255);
      new DataView(out.buffer).setUint16(4, checkRange('icmpId', spec.icmpId ?? 0, 0, 0xffff));
      return out;
    }
    case 'none':
      return new Uint8Array(0);
  }
}

/**
 * What an ICMP error quotes of the datagram that caused it (RFC 792, RFC 4443
 * 2.4): its IP header with options or extension headers and the first 8
 * bytes after them, cut further by the inner spec's `truncateTo`.
 */
function quotedDatagram(spec: PacketSpec, hasIcmpHeader: boolean): Uint8Array {
  const inner = spec.icmpInner as PacketSpec;
  if (l4Kind(spec) !== 'icmp' || !hasIcmpHeader) {
    throw new RangeError('icmpInner needs an ICMP header (ICMP in IPv4, ICMPv6 in IPv6, not a non-first fragment)');
  }
  if (inner.family !== spec.family) throw new RangeError(`an IPv${spec.family} ICMP error cannot quote an IPv${inner.family} datagram`);
  const layout = layOutFrame({ ...inner, vlans: undefined, truncateTo: undefined });
  const headersEnd = layout.l4Offset ?? layout.payloadOffset;
  const datagram = layout.bytes.subarray(layout.l3Offset, Math.min(layout.bytes.length, headersEnd + 8));
  return datagram.slice(0, inner.truncateTo === undefined ? datagram.length : Math.max(0, inner.truncateTo));
}

function l4Kind(spec: PacketSpec): 'tcp' | 'udp' | 'icmp' | 'none' {
  if (spec.protocol === IPPROTO_TCP) return 'tcp';
  if (spec.protocol === IPPROTO_UDP) return 'udp';
  if (spec.family === 4 && spec.protocol === IPPROTO_ICMP) return 'icmp';
  if (spec.family === 6 && spec.protocol === IPPROTO_ICMPV6) return 'icmp';
  return 'none';
}

/** Checksum offset within the L4 header; ICMP (IPv4) has no pseudo-header. */
function writeL4Checksum(spec: PacketSpec, l4: Uint8Array, src: number[], dst: number[]): void {
  const offset = spec.protocol === IPPROTO_TCP ? 16 : spec.protocol === IPPROTO_UDP ? 6 : 2;
  const pseudo = spec.family === 4 && spec.protocol === IPPROTO_ICMP ? new Uint8Array(0) : pseudoHeader(spec, src, dst, l4.length);
  let sum = internetChecksum(concat([pseudo, l4]));
  if (sum === 0 && spec.protocol === IPPROTO_UDP) sum = 0xffff; // 0 means "no checksum" in UDP
  new DataView(l4.buffer, l4.byteOffset).setUint16(offset, sum);
}

function pseudoHeader(spec: PacketSpec, src: number[], dst: number[], length: number): Uint8Array {
  if (spec.family === 4) {
    const out = new Uint8Array(12);
    out.set(src, 0);
    out.set(dst, 4);
    out[9] = spec.protocol;
    new DataView(out.buffer).setUint16(10, length);
    return out;
  }
  const out = new Uint8Array(40);
  out.set(src, 0);
  out.set(dst, 16);
  new DataView(out.buffer).setUint32(32, length);
  out[39] = spec.protocol;
  return out;
}

// ---- helpers ------------------------------------------------------------------

/** RFC 1071 one's complement sum, as the value to store in the checksum field. */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < bytes.length; i += 2) sum += (bytes[i] << 8) | (bytes[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** A recognisable, non-zero pattern, so that payload bytes are visible in a dump. */
function payloadBytes(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => i & 0xff);
}

function addressBytes(family: 4 | 6, text: string, what: string): number[] {
  const valid = family === 4 ? ipaddr.IPv4.isValidFourPartDecimal(text) : ipaddr.IPv6.isValid(text) && !text.includes('%');
  if (!valid) throw new RangeError(`${what} '${text}' is not an IPv${family} address`);
  return family === 4 ? ipaddr.IPv4.parse(text).toByteArray() : ipaddr.IPv6.parse(text).toByteArray();
}

function checkPorts(sport: number, dport: number): void {
  checkRange('sport', sport, 0, 65535);
  checkRange('dport', dport, 0, 65535);
}

function checkRange(what: string, value: number, low: number, high: number): number {
  if (!Number.isInteger(value) || value < low || value > high) {
    throw new RangeError(`${what} ${value} is out of range ${low}–${high}`);
  }
  return value;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function hex(value: number): string {
  return value.toString(16).padStart(4, '0');
}
