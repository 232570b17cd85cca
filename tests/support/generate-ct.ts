/**
 * Seeded sequences of packets and pauses for the differential test of
 * connection tracking: the kernel and tests/support/reference-ct.ts see the
 * same steps and must give every packet the same state. Flows run
 * interleaved over a small pool of addresses, ports and identifiers, so
 * that they recur: TCP connections both ways (handshakes, data, FIN and RST
 * closes, some out of order, some missing), strays, UDP, ICMP echo, ICMP
 * errors quoting packets the host sent (and some it did not), fragments,
 * other protocols, IPv4 and IPv6, some VLAN-tagged.
 *
 * Time. Packets between two pauses form a burst at one instant of the model
 * (the kernel takes a few milliseconds over them). Every pause is a
 * multiple of a grid of G whole seconds, chosen so that no timeout (nor the
 * 30 s of fragment memory) is within 2 s of a multiple of G: every deadline
 * is a burst's time plus a timeout, so every packet comes at least 2 s
 * before or after any deadline, and the kernel's clock, which keeps
 * running during a test, cannot tip a comparison. The one-second refresh
 * rule is likewise decided the same way: within a burst nothing moves,
 * across bursts (≥ G s apart) everything does.
 */
import type { PacketSpec } from '../../src/packet/spec.js';
import { DEFAULT_CT_TIMEOUTS, FRAGMENT_MEMORY_SECONDS, type CtTimeouts } from './reference-ct.js';
import type { Random } from './random.js';

export type PacketStep = { direction: 'egress' | 'ingress'; packet: PacketSpec };
export type CtStep = PacketStep | { advance: bigint };

export interface CtSequenceOptions {
  steps: number;
  timeouts?: CtTimeouts;
}

const SECOND = 1_000_000_000n;
const BOUNDARY_MARGIN = 2;

/** The smallest grid (seconds) that keeps every timeout ≥ 2 s away from its multiples. */
export function timeGrid(timeouts: CtTimeouts = DEFAULT_CT_TIMEOUTS): number {
  const all = [...Object.values(timeouts), FRAGMENT_MEMORY_SECONDS];
  for (let grid = 2 * BOUNDARY_MARGIN + 1; grid < 1000; grid++) {
    if (all.every((t) => t % grid >= BOUNDARY_MARGIN && t % grid <= grid - BOUNDARY_MARGIN)) return grid;
  }
  throw new RangeError(`no time grid keeps ${all.join(', ')} s away from its multiples`);
}

const HOSTS = { 4: ['10.0.0.1', '10.0.0.2'], 6: ['2001:db8::1', '2001:db8::2'] } as const;
const PEERS = { 4: ['192.0.2.1', '192.0.2.2', '198.51.100.7'], 6: ['2001:db8:1::1', '2001:db8:1::2', '2001:db8:2::7'] } as const;
const HOST_PORTS = [40000, 40001, 40002];
const SERVICES = [22, 53, 443];
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;

/** One flow's view: packets out (host → peer) and in (peer → host) with its addresses and ports. */
class Flow {
  readonly family: 4 | 6;
  readonly host: string;
  readonly peer: string;
  readonly hostPort: number;
  readonly peerPort: number;
  private readonly vlans: PacketSpec['vlans'];

  constructor(r: Random, inbound: boolean) {
    this.family = r.chance(0.6) ? 4 : 6;
    this.host = r.pick(HOSTS[this.family]);
    this.peer = r.pick(PEERS[this.family]);
    this.hostPort = inbound ? r.pick(SERVICES) : r.pick(HOST_PORTS);
    this.peerPort = inbound ? r.pick(HOST_PORTS) : r.pick(SERVICES);
    const tags = r.weighted<PacketSpec['vlans']>([
      [8, undefined],
      [1, [{ tpid: 0x8100, id: 10 }]],
      [
        1,
        [
          { tpid: 0x88a8, id: 20 },
          { tpid: 0x8100, id: 10 },
        ],
      ],
    ]);
    this.vlans = tags;
  }

  out(protocol: number, extra: Partial<PacketSpec> = {}): PacketStep {
    const ports = protocol === 6 || protocol === 17 ? { sport: this.hostPort, dport: this.peerPort } : {};
    return {
      direction: 'egress',
      packet: { family: this.family, protocol, src: this.host, dst: this.peer, vlans: this.vlans, ...ports, ...extra },
    };
  }

  into(protocol: number, extra: Partial<PacketSpec> = {}): PacketStep {
    const ports = protocol === 6 || protocol === 17 ? { sport: this.peerPort, dport: this.hostPort } : {};
    return {
      direction: 'ingress',
      packet: { family: this.family, protocol, src: this.peer, dst: this.host, vlans: this.vlans, ...ports, ...extra },
    };
  }

  get icmp(): number {
    return this.family === 4 ? 1 : 58;
  }
}

type Script = Generator<CtStep, void, undefined>;

function* tcpConnection(r: Random, inbound: boolean): Script {
  const f = new Flow(r, inbound);
  const local = (flags: number, extra?: Partial<PacketSpec>) => f.out(6, { tcpFlags: flags, ...extra });
  const remote = (flags: number, extra?: Partial<PacketSpec>) => f.into(6, { tcpFlags: flags, ...extra });
  const [opener, answerer] = inbound ? [remote, local] : [local, remote];
  yield opener(SYN);
  if (r.chance(0.15)) yield opener(SYN); // a retransmission
  if (r.chance(0.1)) {
    yield answerer(RST | ACK); // refused
    return;
  }
  if (r.chance(0.1)) yield opener(ACK); // the last ACK before the SYN-ACK: out of order
  if (r.chance(0.1)) return; // half-open, left to expire
  yield answerer(SYN | ACK);
  yield opener(ACK);
  for (let i = r.int(0, 4); i > 0; i--) yield (r.chance(0.5) ? local : remote)(PSH | ACK, { payloadLength: r.int(1, 200) });
  yield* tcpClose(r, local, remote);
}

function* tcpClose(r: Random, local: (flags: number) => CtStep, remote: (flags: number) => CtStep): Script {
  const [first, second] = r.chance(0.5) ? [local, remote] : [remote, local];
  switch (
    r.weighted([
      [4, 'fin'],
      [1, 'fin-reordered'],
      [2, 'rst'],
      [1, 'fin-one-way'],
      [2, 'none'],
    ] as const)
  ) {
    case 'fin':
      yield first(FIN | ACK);
      yield second(FIN | ACK);
      yield first(ACK);
      return;
    case 'fin-reordered':
      yield second(ACK);
      yield first(FIN | ACK);
      yield second(FIN | ACK);
      return;
    case 'rst':
      yield first(RST | ACK);
      if (r.chance(0.3)) yield second(ACK); // a late packet after the reset
      return;
    case 'fin-one-way':
      yield first(FIN | ACK);
      yield second(ACK);
      return;
    case 'none':
      return;
  }
}

function* strays(r: Random): Script {
  const f = new Flow(r, r.chance(0.5));
  yield r.pick([
    f.into(6, { tcpFlags: ACK }),
    f.into(6, { tcpFlags: RST }),
    f.into(6, { tcpFlags: FIN | ACK }),
    f.into(6, { tcpFlags: SYN | ACK }),
    f.out(6, { tcpFlags: PSH | ACK }), // a connection older than the table
    f.out(6, { tcpFlags: RST | ACK }),
    f.out(6, { tcpFlags: FIN | ACK }),
    f.into(47),
    f.out(47),
  ]);
}

function* udpExchange(r: Random, inbound: boolean): Script {
  const f = new Flow(r, inbound);
  const [ask, answer] = inbound
    ? [() => f.into(17, { payloadLength: 30 }), () => f.out(17, { payloadLength: 90 })]
    : [() => f.out(17), () => f.into(17)];
  yield ask();
  for (
    let i = r.weighted([
      [2, 0],
      [5, 1],
      [2, 3],
    ]);
    i > 0;
    i--
  ) {
    yield answer();
    if (r.chance(0.4)) yield ask();
  }
}

function* echo(r: Random, inbound: boolean): Script {
  const f = new Flow(r, inbound);
  const [request, reply] = f.family === 4 ? [8, 0] : [128, 129];
  const icmpId = r.int(1, 3);
  const [ask, answer] = inbound ? [f.into.bind(f), f.out.bind(f)] : [f.out.bind(f), f.into.bind(f)];
  if (r.chance(0.15)) {
    yield ask(f.icmp, { icmpType: reply, icmpId }); // a reply nobody asked for
    return;
  }
  for (let i = r.int(1, 3); i > 0; i--) {
    yield ask(f.icmp, { icmpType: request, icmpId, payloadLength: 56 });
    if (r.chance(0.8)) yield answer(f.icmp, { icmpType: reply, icmpId, payloadLength: 56 });
  }
}

function* icmpMessage(r: Random, sent: PacketSpec[]): Script {
  const f = new Flow(r, false);
  const known = sent.filter((p) => p.family === f.family);
  if (r.chance(0.25)) {
    const informational = f.family === 4 ? [13, 9] : [133, 134, 135, 136];
    yield f.into(f.icmp, { icmpType: r.pick(informational) }); // new, never tracked
    return;
  }
  const errors = f.family === 4 ? [3, 4, 5, 11, 12] : [1, 2, 3, 4];
  // A port outside the pool: a datagram the host never sent.
  const fabricated = f.out(17, { sport: 50000 }).packet;
  let quoted: PacketSpec = { ...(known.length > 0 && r.chance(0.75) ? r.pick(known) : fabricated), vlans: undefined };
  if (r.chance(0.1)) quoted = { ...quoted, truncateTo: r.int(0, quoted.family === 4 ? 27 : 47) }; // does not fit
  yield {
    direction: 'ingress',
    packet: {
      family: quoted.family,
      protocol: f.icmp,
      src: r.pick(PEERS[quoted.family]),
      dst: quoted.src,
      icmpType: r.pick(errors),
      icmpInner: quoted,
    },
  };
}

/** A datagram in fragments, inbound or outbound, first fragment sometimes late or lost. */
function* fragments(r: Random): Script {
  const inbound = r.chance(0.7);
  const f = new Flow(r, inbound);
  const protocol = r.weighted([
    [6, 17],
    [1, 6],
    [1, 47],
  ] as const);
  const id = r.int(1, 4);
  const send = (extra: Partial<PacketSpec>) => (inbound ? f.into(protocol, extra) : f.out(protocol, extra));
  const first = send({
    fragment: { offset: 0, moreFragments: true, id },
    payloadLength: 64,
    ...(protocol === 6 ? { tcpFlags: PSH | ACK } : {}),
  });
  const count = r.int(1, 2);
  const later = Array.from({ length: count }, (_, i): PacketStep => {
    const step = send({ fragment: { offset: 9 + 9 * i, moreFragments: i < count - 1, id }, payloadLength: 72 });
    return { ...step, packet: { ...step.packet, sport: undefined, dport: undefined } };
  });
  const early = r.chance(0.2); // the later fragments before the first
  if (early) yield* later;
  if (r.chance(0.9)) yield first;
  if (!early) yield* later;
}

const SCRIPTS: readonly (readonly [number, (r: Random, sent: PacketSpec[]) => Script])[] = [
  [5, (r) => tcpConnection(r, false)],
  [3, (r) => tcpConnection(r, true)],
  [2, (r) => strays(r)],
  [3, (r) => udpExchange(r, false)],
  [2, (r) => udpExchange(r, true)],
  [2, (r) => echo(r, false)],
  [1, (r) => echo(r, true)],
  [2, (r, sent) => icmpMessage(r, sent)],
  [2, (r) => fragments(r)],
];

/** `options.steps` steps (packets and pauses) of interleaved flows. */
export function generateCtSequence(r: Random, options: CtSequenceOptions): CtStep[] {
  const grid = BigInt(timeGrid(options.timeouts ?? DEFAULT_CT_TIMEOUTS));
  const steps: CtStep[] = [];
  const sent: PacketSpec[] = [];
  const running: Script[] = [];
  while (steps.length < options.steps) {
    if (r.chance(0.12)) {
      const units = r.weighted([
        [6, r.int(1, 3)],
        [3, r.int(4, 12)],
        [1, r.int(1600, 1700)], // past tcp-established
      ]);
      steps.push({ advance: BigInt(units) * grid * SECOND });
      continue;
    }
    if (running.length === 0 || (running.length < 4 && r.chance(0.3))) running.push(r.weighted(SCRIPTS)(r, sent));
    const index = r.int(0, running.length - 1);
    const next = running[index].next();
    if (next.done) {
      running.splice(index, 1);
      continue;
    }
    steps.push(next.value);
    if ('packet' in next.value && next.value.direction === 'egress' && !next.value.packet.fragment?.offset) {
      sent.push(next.value.packet);
      if (sent.length > 24) sent.shift();
    }
  }
  return steps;
}
