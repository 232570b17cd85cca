/**
 * Reads a `reject` answer frame back, written apart from the C that built
 * it: Ethernet and tags, the IPv4 or IPv6 header, then a TCP RST or an
 * ICMP/ICMPv6 error, with every checksum verified by RFC 1071's sum.
 */
import { internetChecksum } from '../../../src/packet/build.js';

export interface AnswerFrame {
  dstMac: string;
  srcMac: string;
  /** Each tag's TPID and TCI, outermost first. */
  vlans: { tpid: number; tci: number }[];
  l3Offset: number;
  family: 4 | 6;
  src: string;
  dst: string;
  /** The IPv4 total length, or 40 + the IPv6 payload length. */
  ipLength: number;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
  protocol: number;
  /** IPv4: the header checksum sums to zero. IPv6 has none: true. */
  ipChecksumOk: boolean;
  tcp?: { sport: number; dport: number; seq: number; ack: number; flags: number; dataOffset: number; checksumOk: boolean };
  icmp?: { type: number; code: number; unused: number; checksumOk: boolean; quoted: Uint8Array };
}

const mac = (b: Uint8Array, at: number) => Array.from(b.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

function address(b: Uint8Array, at: number, family: 4 | 6): string {
  if (family === 4) return Array.from(b.subarray(at, at + 4)).join('.');
  const words = Array.from({ length: 8 }, (_, i) => ((b[at + 2 * i] << 8) | b[at + 2 * i + 1]).toString(16));
  return words.join(':');
}

/** The pseudo-header of RFC 793 / RFC 8200 §8.1 for an upper-layer message of `length` bytes. */
function pseudoHeader(b: Uint8Array, l3: number, family: 4 | 6, protocol: number, length: number): Uint8Array {
  const out = new Uint8Array(family === 4 ? 12 : 40);
  const view = new DataView(out.buffer);
  if (family === 4) {
    out.set(b.subarray(l3 + 12, l3 + 20), 0);
    view.setUint16(8, protocol);
    view.setUint16(10, length);
  } else {
    out.set(b.subarray(l3 + 8, l3 + 40), 0);
    view.setUint32(32, length);
    view.setUint32(36, protocol);
  }
  return out;
}

const sumsToZero = (...parts: Uint8Array[]) => {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length + (p.length & 1), 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length + (p.length & 1); // each part padded to a 16-bit boundary, as the sum sees it
  }
  return internetChecksum(all) === 0;
};

export function parseAnswer(frame: Uint8Array): AnswerFrame {
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const vlans: AnswerFrame['vlans'] = [];
  let at = 12;
  let type = view.getUint16(at);
  while (type === 0x8100 || type === 0x88a8) {
    vlans.push({ tpid: type, tci: view.getUint16(at + 2) });
    at += 4;
    type = view.getUint16(at);
  }
  const l3 = at + 2;
  const family = type === 0x0800 ? 4 : type === 0x86dd ? 6 : null;
  if (family === null) throw new Error(`the answer's Ethertype is 0x${type.toString(16)}`);
  const ipHeaderLength = family === 4 ? (frame[l3] & 0x0f) * 4 : 40;
  const protocol = family === 4 ? frame[l3 + 9] : frame[l3 + 6];
  const ipLength = family === 4 ? view.getUint16(l3 + 2) : 40 + view.getUint16(l3 + 4);
  const l4 = l3 + ipHeaderLength;
  const l4Length = ipLength - ipHeaderLength;
  const upper = frame.subarray(l4, l4 + l4Length);
  const answer: AnswerFrame = {
    dstMac: mac(frame, 0),
    srcMac: mac(frame, 6),
    vlans,
    l3Offset: l3,
    family,
    src: address(frame, l3 + (family === 4 ? 12 : 8), family),
    dst: address(frame, l3 + (family === 4 ? 16 : 24), family),
    ipLength,
    ttl: family === 4 ? frame[l3 + 8] : frame[l3 + 7],
    protocol,
    ipChecksumOk: family === 6 || sumsToZero(frame.subarray(l3, l3 + ipHeaderLength)),
  };
  if (protocol === 6) {
    answer.tcp = {
      sport: view.getUint16(l4),
      dport: view.getUint16(l4 + 2),
      seq: view.getUint32(l4 + 4),
      ack: view.getUint32(l4 + 8),
      dataOffset: (frame[l4 + 12] >> 4) * 4,
      flags: frame[l4 + 13],
      checksumOk: sumsToZero(pseudoHeader(frame, l3, family, 6, l4Length), upper),
    };
  } else if (protocol === 1 || protocol === 58) {
    answer.icmp = {
      type: frame[l4],
      code: frame[l4 + 1],
      unused: view.getUint32(l4 + 4),
      checksumOk: protocol === 1 ? sumsToZero(upper) : sumsToZero(pseudoHeader(frame, l3, 6, 58, l4Length), upper),
      quoted: frame.slice(l4 + 8, l4 + l4Length),
    };
  }
  return answer;
}
