/**
 * A frame's headers read back from its first bytes, as the data plane's
 * parser (bpf/lib/parse.h) reads them, with the same checks: `xdpfw trace`
 * shows what a decision was about, and for a malformed frame which check
 * failed. Pure; bytes in, fields out.
 */

import ipaddr from 'ipaddr.js';

export interface DecodedFrame {
  /** 802.1Q / 802.1ad tags, outermost first. */
  vlans: { tpid: 0x8100 | 0x88a8; id: number }[];
  family?: 4 | 6;
  src?: string;
  dst?: string;
  /** L4 protocol (IPv6: after the extension headers). */
  protocol?: number;
  sport?: number;
  dport?: number;
  tcpFlags?: number;
  icmpType?: number;
  icmpCode?: number;
  /** A non-first fragment: no L4 header. */
  fragment?: boolean;
  /** Not IPv4 or IPv6: its ethertype. */
  ethertype?: number;
  /** Why the parser refuses the frame (it is dropped as malformed). */
  malformed?: string;
  /** The captured bytes end before the headers do (the frame is longer): the fields stop there. */
  cut?: boolean;
}

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const VLAN_TYPES = new Set([0x8100, 0x88a8]);
const MAX_VLAN_TAGS = 2;
const MAX_IPV6_EXT = 8;
/** Extension headers: the unit of the length byte (AH counts 4-byte words), 0 for the fixed fragment header. */
const IPV6_EXT_UNIT = new Map([
  [0, 8],
  [43, 8],
  [60, 8],
  [51, 4],
  [44, 0],
]);

/**
 * `frame` holds the frame's first bytes, `length` its whole length. Where
 * the frame goes on past the bytes at hand, a header that would need them
 * ends the reading with `cut` rather than a malformed verdict.
 */
export function decodeFrame(frame: Uint8Array, length = frame.length): DecodedFrame {
  const out: DecodedFrame = { vlans: [] };
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  /** Bytes `at`..`at + n` are in the frame; false sets malformed or cut. */
  const need = (at: number, n: number, why: string): boolean => {
    if (at + n <= frame.length) return true;
    if (at + n <= length) out.cut = true;
    else out.malformed = why;
    return false;
  };
  if (!need(0, 14, 'shorter than an Ethernet header')) return out;
  let type = view.getUint16(12);
  let at = 14;
  for (let i = 0; i < MAX_VLAN_TAGS && VLAN_TYPES.has(type); i++) {
    if (!need(at, 4, 'a VLAN tag cut short')) return out;
    out.vlans.push({ tpid: type as 0x8100 | 0x88a8, id: view.getUint16(at) & 0x0fff });
    type = view.getUint16(at + 2);
    at += 4;
  }
  if (VLAN_TYPES.has(type)) return { ...out, malformed: 'a third VLAN tag' };
  if (type === ETH_P_IP) return decodeIpv4(frame, view, at, length, out, need);
  if (type === ETH_P_IPV6) return decodeIpv6(frame, view, at, length, out, need);
  return { ...out, ethertype: type };
}

type Need = (at: number, n: number, why: string) => boolean;

function decodeIpv4(frame: Uint8Array, view: DataView, at: number, length: number, out: DecodedFrame, need: Need): DecodedFrame {
  if (!need(at, 20, 'an IPv4 header cut short')) return out;
  const version = frame[at] >> 4;
  const ihl = frame[at] & 0x0f;
  if (version !== 4) return { ...out, malformed: `IP version ${version} in an IPv4 frame` };
  if (ihl < 5) return { ...out, malformed: `an IPv4 header length of ${ihl * 4} bytes` };
  const hlen = ihl * 4;
  const total = view.getUint16(at + 2);
  out.family = 4;
  out.protocol = frame[at + 9];
  out.src = ipaddr.fromByteArray([...frame.subarray(at + 12, at + 16)]).toString();
  out.dst = ipaddr.fromByteArray([...frame.subarray(at + 16, at + 20)]).toString();
  if (at + hlen > length) return { ...out, malformed: 'IPv4 options cut short' };
  if (total < hlen) return { ...out, malformed: `an IPv4 total length (${total}) shorter than its header` };
  if (total > length - at) return { ...out, malformed: `the datagram is cut short (${length - at} of ${total} bytes)` };
  out.fragment = (view.getUint16(at + 6) & 0x1fff) !== 0;
  return decodeL4(frame, view, at + hlen, total - hlen, out, need);
}

function decodeIpv6(frame: Uint8Array, view: DataView, at: number, length: number, out: DecodedFrame, need: Need): DecodedFrame {
  if (!need(at, 40, 'an IPv6 header cut short')) return out;
  const version = frame[at] >> 4;
  if (version !== 6) return { ...out, malformed: `IP version ${version} in an IPv6 frame` };
  const present = length - at - 40;
  const payload = view.getUint16(at + 4);
  out.family = 6;
  out.src = ipaddr.fromByteArray([...frame.subarray(at + 8, at + 24)]).toString();
  out.dst = ipaddr.fromByteArray([...frame.subarray(at + 24, at + 40)]).toString();
  if (payload > present) return { ...out, malformed: `the datagram is cut short (${present} of ${payload} payload bytes)` };
  let left = payload || present;
  let next = frame[at + 6];
  let pos = at + 40;
  for (let i = 0; i < MAX_IPV6_EXT; i++) {
    const unit = IPV6_EXT_UNIT.get(next);
    if (unit === undefined) break;
    if (left < 8) return { ...out, protocol: next, malformed: 'an IPv6 extension header cut short' };
    if (!need(pos, 8, 'an IPv6 extension header cut short')) return { ...out, protocol: next };
    if (unit === 0 && (view.getUint16(pos + 2) & 0xfff8) !== 0) {
      return { ...out, protocol: frame[pos], fragment: true };
    }
    const hlen = frame[pos + 1] * (unit === 0 ? 0 : unit) + 8;
    if (hlen > left || pos + hlen > length) return { ...out, protocol: next, malformed: 'an IPv6 extension header cut short' };
    next = frame[pos];
    pos += hlen;
    left -= hlen;
  }
  if (IPV6_EXT_UNIT.has(next)) return { ...out, protocol: next, malformed: `more than ${MAX_IPV6_EXT} IPv6 extension headers` };
  out.protocol = next;
  out.fragment = false;
  return decodeL4(frame, view, pos, left, out, need);
}

function decodeL4(frame: Uint8Array, view: DataView, at: number, left: number, out: DecodedFrame, need: Need): DecodedFrame {
  if (out.fragment) return out;
  const icmp = out.family === 4 ? 1 : 58;
  if (out.protocol === 6) {
    if (left < 20) return { ...out, malformed: 'a TCP header cut short' };
    if (!need(at, 20, 'a TCP header cut short')) return out;
    if (frame[at + 12] >> 4 < 5) return { ...out, malformed: `a TCP data offset of ${(frame[at + 12] >> 4) * 4} bytes` };
    return { ...out, sport: view.getUint16(at), dport: view.getUint16(at + 2), tcpFlags: frame[at + 13] };
  }
  if (out.protocol === 17) {
    if (left < 8) return { ...out, malformed: 'a UDP header cut short' };
    if (!need(at, 8, 'a UDP header cut short')) return out;
    return { ...out, sport: view.getUint16(at), dport: view.getUint16(at + 2) };
  }
  if (out.protocol === icmp) {
    if (left < 4) return { ...out, malformed: 'an ICMP header cut short' };
    if (!need(at, 4, 'an ICMP header cut short')) return out;
    return { ...out, icmpType: frame[at], icmpCode: frame[at + 1] };
  }
  return out;
}
