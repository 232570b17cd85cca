/**
 * The e2e bench's stateful floods: spoofed TCP SYNs and ACKs that belong to
 * no connection, of one flow or each from a random source, against bare
 * XDP_DROP and three firewalls that let in only tracked traffic (xdpfw's
 * `ct state`, iptables-legacy's conntrack match, nft's `ct state`). Netfilter
 * creates a conntrack entry for each such packet before its rule drops it
 * (never confirmed, so freed with the packet); xdpfw only looks the table up.
 */
import { buildFrame } from '../../src/packet/build.js';
import { LiveGenerator } from './livegen.js';
import { IP_RX, IP_TX, MAC_RX, MAC_TX, NS_TX, type BenchWire } from './netns.js';
import type { ReceiverKind } from './receivers.js';
import { fixed, grouped, percent, ratio, table, type Sample } from './stats.js';

export const FLOODS = ['one flow', 'spread'] as const;
export type Flood = (typeof FLOODS)[number];

export const FLOOD_LABEL: Record<Flood, string> = {
  'one flow': 'one flow',
  spread: 'random sources',
};

/**
 * The receivers of each flood, in the order they are measured. xdpfw
 * without ct (`default drop` and one rule that does not match) reads the
 * same headers as xdpfw ct, which bare XDP_DROP never does: between the two
 * is what the connection state costs.
 */
export const CT_RECEIVERS = [
  'bare XDP_DROP',
  'xdpfw',
  'xdpfw ct',
  'iptables-legacy ct',
  'nft ct',
] as const satisfies readonly ReceiverKind[];
const RECEIVER_LABEL: Partial<Record<ReceiverKind, string>> = { xdpfw: 'xdpfw, no ct (1 rule)' };

/** The sender of a flood on `wire`: a 60-byte TCP frame to the receiver's port 443, spoofed frame by frame. */
export function floodSender(wire: BenchWire, flood: Flood): LiveGenerator {
  const frame = buildFrame(
    { family: 4, protocol: 6, src: IP_TX, dst: IP_RX, sport: 40000, dport: 443, tcpFlags: 0x10, payloadLength: 6 },
    { srcMac: MAC_TX, dstMac: MAC_RX },
  );
  return new LiveGenerator(frame, NS_TX, wire.txIfindex, flood);
}

export interface FloodMeasurement {
  kind: ReceiverKind;
  flood?: Flood;
  kpps: Sample;
  loss: number;
  nsPerPacket: Sample;
}

/** The floods' figures, and the ratios with their targets. */
export function floodReport(ms: FloodMeasurement[]): { text: string; targets: string[] } {
  const rows: string[][] = [];
  const targets: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
  for (const flood of FLOODS) {
    const get = (kind: ReceiverKind) => ms.find((m) => m.flood === flood && m.kind === kind);
    const ours = get('xdpfw ct');
    for (const kind of CT_RECEIVERS) {
      const m = get(kind);
      if (!m) continue;
      const vs = ours && m !== ours ? ratio(ours.kpps.median / m.kpps.median, kind.includes(' ct') ? 1 : 2) : '';
      rows.push([
        FLOOD_LABEL[flood],
        RECEIVER_LABEL[kind] ?? kind,
        grouped(m.kpps.median),
        `±${percent(m.kpps.spread / 2)}`,
        percent(Math.max(0, m.loss)),
        fixed(m.nsPerPacket.median, 0),
        `±${percent(m.nsPerPacket.spread / 2)}`,
        vs,
      ]);
    }
    if (!ours) continue;
    const drop = get('bare XDP_DROP');
    if (drop) {
      const x = ours.kpps.median / drop.kpps.median;
      targets.push(`${FLOOD_LABEL[flood]}: xdpfw ct ≥ 0.8 × bare XDP_DROP one-CPU pps: ${ratio(x)} ${verdict(x >= 0.8)}`);
    }
    for (const kind of ['iptables-legacy ct', 'nft ct'] as const) {
      const m = get(kind);
      if (!m) continue;
      const x = ours.kpps.median / m.kpps.median;
      targets.push(`${FLOOD_LABEL[flood]}: xdpfw ct ≥ 2 × ${kind} one-CPU pps: ${ratio(x, 1)} ${verdict(x >= 2)}`);
    }
  }
  const text = table(['flood', 'receiver', 'one-CPU kpps', 'spread', 'lost', 'receiver ns/packet', 'spread', 'xdpfw ct ×'], rows);
  return { text, targets };
}
