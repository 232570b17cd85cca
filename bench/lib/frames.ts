/**
 * The packets of the benches: one frame per packet kind (what a hot run
 * repeats) and the address rotations the rotator writes into it (what a
 * rotated run looks up, a different pair every repeat).
 */
import { buildFrame, type FrameOptions } from '../../src/packet/build.js';
import {
  LAST_RULE_DPORT,
  NO_RULE_DPORT,
  TRAFFIC6_DST,
  TRAFFIC_DST,
  TRAFFIC_SRC,
  addressIn4,
  addressIn6,
  ip4Text,
  random6,
  type AddressSet,
} from './policy-gen.js';
import type { Rotation } from './programs.js';
import { Random } from '../../tests/support/random.js';

/** Packets that the bench policy decides by its first rule, its last rule, or by default; IPv4 and IPv6. */
export type PacketKind = 'first' | 'last' | 'none' | 'first6' | 'none6';

export const PACKET_LABEL: Record<PacketKind, string> = {
  first: 'first rule (IPv4 set hit)',
  last: 'last rule',
  none: 'no rule (default)',
  first6: 'first rule (IPv6 set hit)',
  none6: 'no rule, IPv6 (default)',
};

/** 60-byte UDP frames (64 on the wire with the FCS): the smallest, the hardest for a firewall. */
const UDP_PAYLOAD = 18;
const UDP6_PAYLOAD = 0;
export const SPORT = 1000;

export function frame4(src: number, dst: number, dport: number, mac: FrameOptions = {}): Uint8Array {
  return buildFrame(
    { family: 4, protocol: 17, src: ip4Text(src), dst: ip4Text(dst), sport: SPORT, dport, payloadLength: UDP_PAYLOAD },
    mac,
  );
}

export function text6(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(':');
}

export function frame6(src: readonly number[], dst: readonly number[], dport: number): Uint8Array {
  return buildFrame({ family: 6, protocol: 17, src: text6(src), dst: text6(dst), sport: SPORT, dport, payloadLength: UDP6_PAYLOAD });
}

function be32(addr: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, addr);
  return b;
}

function bytes6(prefix: string, r: Random): number[] {
  const head = prefix
    .replace(/::$/, '')
    .split(':')
    .map((g) => parseInt(g, 16));
  const b = random6(r);
  head.forEach((g, i) => {
    b[i * 2] = g >> 8;
    b[i * 2 + 1] = g & 0xff;
  });
  return b;
}

export interface PacketCase {
  kind: PacketKind;
  /** The frame a hot run repeats: the rotation's first pair. */
  frame: Uint8Array;
  rotation: Rotation;
}

/**
 * `size` address pairs of `kind` (a power of two) for a bench policy over
 * `set`: set hits draw from random entries, defaults from addresses no
 * entry and no rule covers, last-rule packets from the traffic range.
 */
export function packetCase(kind: PacketKind, set: AddressSet, size: number, seed = 11): PacketCase {
  const r = new Random(seed);
  const src4 = (): number => {
    if (kind === 'first') return addressIn4(r, r.pick(set.v4));
    if (kind === 'last') return (TRAFFIC_SRC.addr | r.int(0, 0xffff)) >>> 0;
    for (;;) {
      const a = r.u32();
      const top = a >>> 24;
      if (top === 0 || top === 127 || top >= 224 || a >>> 17 === TRAFFIC_SRC.addr >>> 17) continue;
      if (!set.contains4(a)) return a;
    }
  };
  const src6 = (): number[] => {
    if (kind === 'first6') return addressIn6(r, r.pick(set.v6));
    for (;;) {
      const b = random6(r);
      if (!set.contains6(b)) return b;
    }
  };
  if (kind === 'first6' || kind === 'none6') {
    const src = Array.from({ length: size }, () => src6());
    const dst = Array.from({ length: size }, () => bytes6(TRAFFIC6_DST, r));
    return {
      kind,
      frame: frame6(src[0], dst[0], NO_RULE_DPORT),
      rotation: { family: 6, src: src.map((b) => Uint8Array.from(b)), dst: dst.map((b) => Uint8Array.from(b)) },
    };
  }
  const src = Array.from({ length: size }, () => src4());
  const dst = Array.from({ length: size }, () => (TRAFFIC_DST.addr | r.int(0, 0xffff)) >>> 0);
  const dport = kind === 'last' ? LAST_RULE_DPORT : NO_RULE_DPORT;
  return { kind, frame: frame4(src[0], dst[0], dport), rotation: { family: 4, src: src.map(be32), dst: dst.map(be32) } };
}
