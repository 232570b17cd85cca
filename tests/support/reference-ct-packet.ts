/**
 * What connection tracking sees of a packet (docs/DESIGN.md, "Connection
 * tracking", "Key"): its table and key from the host's side, its TCP
 * flags, or why it has none. The packet semantics are the reference
 * evaluator's (tests/support/reference-evaluator.ts): ICMP is protocol 1 in
 * IPv4 and 58 in IPv6, a non-first fragment carries no L4 header, and a
 * frame the parser refuses (a third VLAN tag, a cut datagram, one IPv6
 * extension header too many) is malformed.
 */
import ipaddr from 'ipaddr.js';
import { FRAGMENT_ID, IPV6_EXT_FRAGMENT, layOutFrame } from '../../src/packet/build.js';
import type { PacketSpec } from '../../src/packet/spec.js';
import { MAX_IPV6_EXT, MAX_VLAN_TAGS } from '../../src/contract/kernel.js';

export type CtTable = 'tcp' | 'udp' | 'icmp';
export type Direction = 'egress' | 'ingress';

export interface ConnectionKey {
  family: 4 | 6;
  protocol: number;
  local: string;
  remote: string;
  lport: number;
  rport: number;
  /** The key as one string, for the model's maps. */
  id: string;
}

export interface TcpFlags {
  syn: boolean;
  ack: boolean;
  rst: boolean;
  fin: boolean;
}

export interface KeyedPacket {
  kind: 'keyed';
  table: CtTable;
  key: ConnectionKey;
  tcpFlags: TcpFlags;
  echoReply: boolean;
}

export type TrackedPacket =
  | KeyedPacket
  | { kind: 'malformed' }
  /** Other ICMP types; on egress also ICMP errors and non-first fragments. */
  | { kind: 'untracked' }
  | { kind: 'icmp-error'; family: 4 | 6; quoted: PacketSpec | undefined }
  | { kind: 'first-fragment'; packet: KeyedPacket; fragmentKey: string; sport: number; dport: number }
  | { kind: 'later-fragment'; fragmentKey: string; withPorts(sport: number, dport: number): KeyedPacket };

const ICMP_ERRORS = { 4: new Set([3, 4, 5, 11, 12]), 6: new Set([1, 2, 3, 4]) } as const;
const ECHO = { 4: { request: 8, reply: 0 }, 6: { request: 128, reply: 129 } } as const;
const NO_FLAGS: TcpFlags = { syn: false, ack: false, rst: false, fin: false };

export function isIcmp(packet: PacketSpec): boolean {
  return (packet.family === 4 && packet.protocol === 1) || (packet.family === 6 && packet.protocol === 58);
}

export function isEcho(packet: PacketSpec): boolean {
  const echo = ECHO[packet.family];
  return isIcmp(packet) && (packet.icmpType === echo.request || packet.icmpType === echo.reply);
}

export function isIcmpError(packet: PacketSpec): boolean {
  return isIcmp(packet) && ICMP_ERRORS[packet.family].has(packet.icmpType ?? 0);
}

export function classifyPacket(packet: PacketSpec, direction: Direction): TrackedPacket {
  if (isMalformed(packet)) return { kind: 'malformed' };
  const offset = packet.fragment?.offset ?? 0;
  if (offset > 0) {
    if (direction === 'egress') return { kind: 'untracked' };
    if (isIcmp(packet)) throw new RangeError('the text does not say how a non-first ICMP fragment is tracked');
    return {
      kind: 'later-fragment',
      fragmentKey: fragmentKeyOf(packet),
      withPorts: (sport, dport) => keyed({ ...packet, fragment: undefined, sport, dport, tcpFlags: 0 }, direction),
    };
  }
  if (isIcmp(packet) && !isEcho(packet)) {
    if (direction === 'ingress' && isIcmpError(packet)) return { kind: 'icmp-error', family: packet.family, quoted: packet.icmpInner };
    return { kind: 'untracked' };
  }
  const tracked = keyed(packet, direction);
  if (direction === 'ingress' && packet.fragment?.moreFragments && !isIcmp(packet)) {
    const ports = packet.protocol === 6 || packet.protocol === 17;
    const sport = ports ? (packet.sport ?? 0) : 0;
    const dport = ports ? (packet.dport ?? 0) : 0;
    return { kind: 'first-fragment', packet: tracked, fragmentKey: fragmentKeyOf(packet), sport, dport };
  }
  return tracked;
}

/**
 * The key an ICMP error's quoted datagram names (local = its source: a
 * packet the host sent), or undefined when it does not fit within the
 * quote or names nothing the tables could hold.
 */
export function keyOfQuoted(quoted: PacketSpec | undefined, family: 4 | 6): { table: CtTable; key: ConnectionKey } | undefined {
  if (!quoted || quoted.family !== family || (quoted.fragment?.offset ?? 0) > 0) return undefined;
  if (extensionHeaderCount(quoted) > MAX_IPV6_EXT) return undefined;
  if (isIcmp(quoted) && !isEcho(quoted)) return undefined;
  const layout = layOutFrame({ ...quoted, vlans: undefined, truncateTo: undefined, icmpInner: undefined });
  const headers = (layout.l4Offset ?? layout.payloadOffset) - layout.l3Offset;
  const needed = layout.l4Offset === null ? headers : headers + 8;
  const available = Math.min(layout.bytes.length - layout.l3Offset, headers + 8, quoted.truncateTo ?? Infinity);
  if (available < needed) return undefined;
  const { table, key } = keyed(quoted, 'egress');
  return { table, key };
}

function keyed(packet: PacketSpec, direction: Direction): KeyedPacket {
  const egress = direction === 'egress';
  let table: CtTable = 'udp';
  let sport = 0;
  let dport = 0;
  if (packet.protocol === 6 || packet.protocol === 17) {
    table = packet.protocol === 6 ? 'tcp' : 'udp';
    sport = packet.sport ?? 0;
    dport = packet.dport ?? 0;
  } else if (isEcho(packet)) {
    table = 'icmp';
  }
  const local = normalised(egress ? packet.src : packet.dst);
  const remote = normalised(egress ? packet.dst : packet.src);
  // Echo: the identifier is the local port whichever way the packet goes, so request and reply share the entry.
  const lport = table === 'icmp' ? (packet.icmpId ?? 0) : egress ? sport : dport;
  const rport = table === 'icmp' ? 0 : egress ? dport : sport;
  const id = `${packet.family}|${packet.protocol}|${local}|${remote}|${lport}|${rport}`;
  const bits = packet.protocol === 6 ? (packet.tcpFlags ?? 0) : 0;
  const tcpFlags =
    bits === 0 ? NO_FLAGS : { fin: (bits & 0x01) !== 0, syn: (bits & 0x02) !== 0, rst: (bits & 0x04) !== 0, ack: (bits & 0x10) !== 0 };
  return {
    kind: 'keyed',
    table,
    key: { family: packet.family, protocol: packet.protocol, local, remote, lport, rport, id },
    tcpFlags,
    echoReply: table === 'icmp' && packet.icmpType === ECHO[packet.family].reply,
  };
}

function isMalformed(packet: PacketSpec): boolean {
  if ((packet.vlans?.length ?? 0) > MAX_VLAN_TAGS) return true;
  if (packet.family === 6 && extensionHeaderCount(packet) > MAX_IPV6_EXT) return true;
  if (packet.truncateTo === undefined) return false;
  // Any cut is inside the IP datagram (the builder adds no Ethernet padding), and the parser refuses a cut datagram.
  return packet.truncateTo < layOutFrame({ ...packet, truncateTo: undefined }).bytes.length;
}

/** Extension headers the parser walks: the fragment header is added when the spec names a fragment. */
function extensionHeaderCount(packet: PacketSpec): number {
  if (packet.family !== 6) return 0;
  const chain = packet.ipv6ExtensionHeaders ?? [];
  return chain.length + (packet.fragment && !chain.includes(IPV6_EXT_FRAGMENT) ? 1 : 0);
}

function fragmentKeyOf(packet: PacketSpec): string {
  const id = packet.fragment?.id ?? FRAGMENT_ID;
  return `${packet.family}|${packet.protocol}|${normalised(packet.src)}|${normalised(packet.dst)}|${id}`;
}

function normalised(address: string): string {
  return ipaddr.parse(address).toNormalizedString();
}
