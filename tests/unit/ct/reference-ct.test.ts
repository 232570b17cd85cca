import { describe, expect, it } from 'vitest';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { ConnectionTracker, type CtEntry } from '../../support/reference-ct.js';

const at = (seconds: number): bigint => BigInt(Math.round(seconds * 1000)) * 1_000_000n;

const HOST = '10.0.0.1';
const PEER = '192.0.2.9';
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;

/** The host's side of a TCP connection, host port 40000, peer port 443. */
const out = (flags: number, extra: Partial<PacketSpec> = {}): PacketSpec => ({
  family: 4,
  protocol: 6,
  src: HOST,
  dst: PEER,
  sport: 40000,
  dport: 443,
  tcpFlags: flags,
  ...extra,
});
const into = (flags: number, extra: Partial<PacketSpec> = {}): PacketSpec => ({
  family: 4,
  protocol: 6,
  src: PEER,
  dst: HOST,
  sport: 443,
  dport: 40000,
  tcpFlags: flags,
  ...extra,
});
const udpOut: PacketSpec = { family: 4, protocol: 17, src: HOST, dst: PEER, sport: 5353, dport: 53 };
const udpIn: PacketSpec = { family: 4, protocol: 17, src: PEER, dst: HOST, sport: 53, dport: 5353 };

/** The packet's state when it passes (its transition applied). */
function pass(ct: ConnectionTracker, packet: PacketSpec, now: bigint): string | null {
  const result = ct.ingress(packet, now);
  result.commit();
  return result.state;
}

function only(ct: ConnectionTracker, now: bigint): CtEntry {
  const entries = ct.entries(now);
  expect(entries).toHaveLength(1);
  return entries[0];
}

describe('an outbound TCP connection', () => {
  it('goes syn-sent, established on the SYN-ACK, and its packets in are established', () => {
    const ct = new ConnectionTracker();
    expect(pass(ct, into(SYN | ACK), at(0))).toBe('invalid'); // no SYN left yet
    expect(ct.egress(out(SYN), at(1))).toBe('tcp-create-syn-sent');
    expect(only(ct, at(1))).toMatchObject({
      state: 'syn-sent',
      deadline: at(61),
      key: { local: HOST, remote: PEER, lport: 40000, rport: 443 },
    });
    expect(pass(ct, into(SYN | ACK), at(2))).toBe('established');
    expect(only(ct, at(2))).toMatchObject({ state: 'established', deadline: at(2 + 21600) });
    expect(ct.egress(out(ACK), at(3))).toBe('tcp-refresh');
    expect(pass(ct, into(ACK, { payloadLength: 100 }), at(4))).toBe('established');
    expect(only(ct, at(4)).deadline).toBe(at(4 + 21600));
  });

  it('half-open, expires after tcp-syn and its answer is then invalid', () => {
    const ct = new ConnectionTracker();
    ct.egress(out(SYN), at(0));
    expect(ct.ingress(into(SYN | ACK), at(59)).state).toBe('established');
    expect(ct.ingress(into(SYN | ACK), at(60)).state).toBe('invalid');
    expect(ct.entries(at(60))).toEqual([]);
  });

  it('closes on an RST either way and expires tcp-close later', () => {
    for (const close of ['egress', 'ingress'] as const) {
      const ct = new ConnectionTracker();
      ct.egress(out(SYN), at(0));
      pass(ct, into(SYN | ACK), at(1));
      if (close === 'egress') expect(ct.egress(out(RST), at(100))).toBe('tcp-rst-closing');
      else expect(ct.ingress(into(RST), at(100)).commit()).toBe('tcp-rst-closing');
      expect(only(ct, at(100))).toMatchObject({ state: 'closing', deadline: at(110) });
      expect(ct.ingress(into(ACK), at(109)).state).toBe('established');
      expect(ct.ingress(into(ACK), at(110)).state).toBe('invalid');
    }
  });

  it('closes once a FIN went each way, in either order, and an inbound packet does not refresh closing', () => {
    const ct = new ConnectionTracker();
    ct.egress(out(SYN), at(0));
    pass(ct, into(SYN | ACK), at(1));
    expect(ct.ingress(into(FIN | ACK), at(10)).commit()).toBe('tcp-fin');
    expect(only(ct, at(10))).toMatchObject({ state: 'established', finIn: true, finOut: false });
    expect(ct.egress(out(FIN | ACK), at(11))).toBe('tcp-fin-closing');
    expect(only(ct, at(11))).toMatchObject({ state: 'closing', finOut: true, deadline: at(21) });
    expect(ct.ingress(into(ACK), at(15)).commit()).toBe('tcp-closing-held');
    expect(only(ct, at(15)).deadline).toBe(at(21));

    const other = new ConnectionTracker();
    other.egress(out(ACK), at(0));
    expect(other.egress(out(FIN | ACK), at(1))).toBe('tcp-fin');
    expect(other.ingress(into(FIN | ACK), at(2)).commit()).toBe('tcp-fin-closing');
    expect(only(other, at(2))).toMatchObject({ state: 'closing', deadline: at(12) });
  });

  it('refreshes a closing entry on egress, by the one-second rule', () => {
    const ct = new ConnectionTracker();
    ct.egress(out(ACK), at(0));
    ct.egress(out(RST), at(1));
    ct.egress(out(ACK), at(1.5));
    expect(only(ct, at(1.5)).deadline).toBe(at(11));
    ct.egress(out(ACK), at(2));
    expect(only(ct, at(2)).deadline).toBe(at(12));
  });

  it('starts anew on a SYN over a closing entry (port reuse), whose inbound SYN is new', () => {
    const ct = new ConnectionTracker();
    ct.egress(out(ACK), at(0));
    ct.egress(out(RST), at(1));
    expect(ct.ingress(into(SYN), at(2)).state).toBe('new');
    expect(ct.ingress(into(SYN), at(2)).commit()).toBe('tcp-closing-held');
    expect(ct.egress(out(SYN), at(3))).toBe('tcp-port-reuse');
    expect(only(ct, at(3))).toMatchObject({ state: 'syn-sent', created: at(3), deadline: at(63), finIn: false, finOut: false });
    expect(ct.ingress(into(SYN), at(4)).state).toBe('established'); // not closing any more
  });
});

describe('an inbound TCP connection', () => {
  it('is new on its SYN, syn-recv once answered, established on the ACK', () => {
    const ct = new ConnectionTracker();
    expect(pass(ct, into(SYN), at(0))).toBe('new');
    expect(ct.entries(at(0))).toEqual([]); // an inbound packet never creates
    expect(ct.egress(out(SYN | ACK), at(0.1))).toBe('tcp-create-syn-recv');
    expect(only(ct, at(1))).toMatchObject({ state: 'syn-recv', deadline: at(60.1) });
    expect(ct.ingress(into(ACK), at(1)).commit()).toBe('tcp-handshake-established');
    expect(only(ct, at(1))).toMatchObject({ state: 'established', deadline: at(1 + 21600) });
  });

  it('gives invalid to stray ACKs, RSTs and FINs, and new only to a bare SYN', () => {
    const ct = new ConnectionTracker();
    for (const flags of [ACK, RST, FIN | ACK, SYN | ACK, SYN | RST, SYN | FIN, 0])
      expect(ct.ingress(into(flags), at(0)).state).toBe('invalid');
    expect(ct.ingress(into(SYN | 0x08), at(0)).state).toBe('new'); // PSH does not matter
  });
});

describe('egress without an entry', () => {
  it('picks up an established connection older than the table, with fin-out for a FIN, and records nothing for an RST', () => {
    const ct = new ConnectionTracker();
    expect(ct.egress(out(RST | ACK), at(0))).toBe('tcp-rst-nothing');
    expect(ct.entries(at(0))).toEqual([]);
    expect(ct.egress(out(FIN | ACK), at(0))).toBe('tcp-create-established');
    expect(only(ct, at(0))).toMatchObject({ state: 'established', finOut: true, finIn: false });
    expect(ct.ingress(into(ACK), at(1)).state).toBe('established');
  });
});

describe('the one-second refresh rule', () => {
  it('moves a deadline only when it would move by a second or more', () => {
    const ct = new ConnectionTracker();
    ct.egress(udpOut, at(0));
    ct.egress(udpOut, at(0.999));
    expect(only(ct, at(1)).deadline).toBe(at(30));
    ct.egress(udpOut, at(1));
    expect(only(ct, at(1)).deadline).toBe(at(31));
    expect(ct.stats).toMatchObject({ refreshHeld: 1, refreshMoved: 1 });
  });
});

describe('UDP and other protocols', () => {
  it('are unreplied for udp seconds, then replied for udp-stream seconds', () => {
    const ct = new ConnectionTracker();
    expect(pass(ct, udpIn, at(0))).toBe('new');
    expect(ct.egress(udpOut, at(1))).toBe('udp-create');
    expect(only(ct, at(1))).toMatchObject({ state: 'unreplied', deadline: at(31) });
    expect(ct.ingress(udpIn, at(30.5)).commit()).toBe('udp-replied');
    expect(only(ct, at(31))).toMatchObject({ state: 'replied', deadline: at(150.5) });
    expect(ct.ingress(udpIn, at(150)).state).toBe('established');
    expect(ct.ingress(udpIn, at(151)).state).toBe('new');
  });

  it('expire unreplied after udp seconds', () => {
    const ct = new ConnectionTracker();
    ct.egress(udpOut, at(0));
    expect(ct.ingress(udpIn, at(29.9)).state).toBe('established');
    expect(ct.ingress(udpIn, at(30)).state).toBe('new');
  });

  it('key other protocols with ports 0 in the udp table', () => {
    const ct = new ConnectionTracker();
    ct.egress({ family: 4, protocol: 47, src: HOST, dst: PEER }, at(0));
    expect(only(ct, at(0))).toMatchObject({ table: 'udp', key: { protocol: 47, lport: 0, rport: 0 } });
    expect(ct.ingress({ family: 4, protocol: 47, src: PEER, dst: HOST }, at(1)).state).toBe('established');
    expect(ct.ingress({ family: 4, protocol: 47, src: '192.0.2.10', dst: HOST }, at(1)).state).toBe('new');
  });

  it('use the configured timeouts', () => {
    const ct = new ConnectionTracker({ timeouts: { udp: 5, udpStream: 7 } });
    ct.egress(udpOut, at(0));
    expect(only(ct, at(0)).deadline).toBe(at(5));
    pass(ct, udpIn, at(1));
    expect(only(ct, at(1)).deadline).toBe(at(8));
  });
});

describe('ICMP echo', () => {
  const echo = (type: number, outward: boolean, id = 77): PacketSpec => ({
    family: 4,
    protocol: 1,
    src: outward ? HOST : PEER,
    dst: outward ? PEER : HOST,
    icmpType: type,
    icmpId: id,
  });

  it('shares one entry keyed by the identifier between a request out and its reply in', () => {
    const ct = new ConnectionTracker();
    expect(ct.egress(echo(8, true), at(0))).toBe('icmp-create');
    expect(only(ct, at(0))).toMatchObject({ table: 'icmp', state: 'unreplied', deadline: at(30), key: { lport: 77, rport: 0 } });
    expect(ct.ingress(echo(0, false, 78), at(1)).state).toBe('invalid');
    expect(ct.ingress(echo(0, false), at(1)).commit()).toBe('icmp-replied');
    expect(only(ct, at(1))).toMatchObject({ state: 'replied', deadline: at(31) });
  });

  it('gives a request in new, its reply out an entry, and an unasked reply invalid', () => {
    const ct = new ConnectionTracker();
    expect(pass(ct, echo(0, false), at(0))).toBe('invalid');
    expect(pass(ct, echo(8, false), at(0))).toBe('new');
    expect(ct.egress(echo(0, true), at(0))).toBe('icmp-create');
    expect(ct.ingress(echo(8, false), at(1)).state).toBe('established');
  });

  it('works the same in IPv6 with types 128 and 129', () => {
    const ct = new ConnectionTracker();
    const v6 = (type: number, outward: boolean): PacketSpec => ({
      family: 6,
      protocol: 58,
      src: outward ? '2001:db8::1' : '2001:db8:0:0::9',
      dst: outward ? '2001:db8::9' : '2001:db8::1',
      icmpType: type,
      icmpId: 5,
    });
    ct.egress(v6(128, true), at(0));
    expect(ct.ingress(v6(129, false), at(1)).state).toBe('established');
    expect(ct.ingress(v6(129, false), at(30)).state).toBe('invalid');
  });
});

describe('ICMP messages other than echo', () => {
  const error = (quoted: PacketSpec | undefined, type = 3): PacketSpec => ({
    family: 4,
    protocol: 1,
    src: PEER,
    dst: HOST,
    icmpType: type,
    icmpInner: quoted,
  });

  it('are related when the datagram they quote left through a live entry, else invalid', () => {
    const ct = new ConnectionTracker();
    expect(ct.ingress(error(udpOut), at(0)).state).toBe('invalid');
    ct.egress(udpOut, at(0));
    for (const type of [3, 4, 5, 11, 12]) expect(ct.ingress(error(udpOut, type), at(1)).state).toBe('related');
    expect(ct.ingress(error({ ...udpOut, dport: 54 }), at(1)).state).toBe('invalid');
    expect(ct.ingress(error(udpIn), at(1)).state).toBe('invalid'); // quoted the other way round
    expect(pass(ct, error(udpOut), at(2))).toBe('related');
    expect(only(ct, at(2))).toMatchObject({ state: 'unreplied', deadline: at(30) }); // an error moves nothing
    expect(ct.ingress(error(udpOut), at(30)).state).toBe('invalid');
  });

  it('find TCP and echo entries from the quoted header, with IPv4 options', () => {
    const ct = new ConnectionTracker();
    ct.egress(out(SYN), at(0));
    ct.egress({ family: 4, protocol: 1, src: HOST, dst: PEER, icmpType: 8, icmpId: 9 }, at(0));
    expect(ct.ingress(error(out(SYN, { ipv4Options: [1, 1, 1, 1, 1] }), 11), at(1)).state).toBe('related');
    expect(ct.ingress(error({ family: 4, protocol: 1, src: HOST, dst: PEER, icmpType: 8, icmpId: 9 }), at(1)).state).toBe('related');
    expect(ct.ingress(error({ family: 4, protocol: 1, src: HOST, dst: PEER, icmpType: 13 }), at(1)).state).toBe('invalid');
  });

  it('are invalid when the quoted header does not fit in the quote', () => {
    const ct = new ConnectionTracker();
    ct.egress(udpOut, at(0));
    expect(ct.ingress(error({ ...udpOut, truncateTo: 28 }), at(1)).state).toBe('related');
    expect(ct.ingress(error({ ...udpOut, truncateTo: 27 }), at(1)).state).toBe('invalid');
    expect(ct.ingress(error({ ...udpOut, ipv4Options: [1, 1, 1, 1], truncateTo: 28 }), at(1)).state).toBe('invalid');
    expect(ct.ingress(error(undefined), at(1)).state).toBe('invalid');
  });

  it('find IPv6 entries through the quoted extension headers', () => {
    const ct = new ConnectionTracker();
    const sent: PacketSpec = {
      family: 6,
      protocol: 17,
      src: '2001:db8::1',
      dst: '2001:db8::9',
      sport: 1,
      dport: 2,
      ipv6ExtensionHeaders: [60],
    };
    ct.egress(sent, at(0));
    const tooBig = (quoted: PacketSpec): PacketSpec => ({
      family: 6,
      protocol: 58,
      src: '2001:db8::9',
      dst: '2001:db8::1',
      icmpType: 2,
      icmpInner: quoted,
    });
    expect(ct.ingress(tooBig(sent), at(1)).state).toBe('related');
    expect(ct.ingress(tooBig({ ...sent, ipv6ExtensionHeaders: [] }), at(1)).state).toBe('related');
    expect(ct.ingress(tooBig({ ...sent, truncateTo: 40 + 8 + 7 }), at(1)).state).toBe('invalid');
    expect(ct.ingress(tooBig({ ...sent, ipv6ExtensionHeaders: new Array<number>(9).fill(60) }), at(1)).state).toBe('invalid');
  });

  it('are new and never tracked: neighbour discovery, router advertisements, timestamps', () => {
    const ct = new ConnectionTracker();
    const nd: PacketSpec = { family: 6, protocol: 58, src: 'fe80::9', dst: 'fe80::1', icmpType: 135 };
    expect(pass(ct, nd, at(0))).toBe('new');
    expect(ct.egress({ ...nd, icmpType: 136, src: 'fe80::1', dst: 'fe80::9' }, at(0))).toBe('untracked');
    expect(pass(ct, { ...nd, icmpType: 134 }, at(0))).toBe('new');
    expect(pass(ct, { family: 4, protocol: 1, src: PEER, dst: HOST, icmpType: 13 }, at(0))).toBe('new');
    expect(ct.egress(error(udpIn), at(0))).toBe('untracked'); // an error the host sends
    expect(ct.entries(at(0))).toEqual([]);
  });
});

describe('fragments', () => {
  const first = { ...udpIn, fragment: { offset: 0, moreFragments: true, id: 4 } };
  const later = { ...udpIn, sport: undefined, dport: undefined, fragment: { offset: 100, moreFragments: false, id: 4 } };

  it('take the ports of their first fragment, remembered when it passed, for 30 s', () => {
    const ct = new ConnectionTracker();
    ct.egress(udpOut, at(0));
    expect(ct.ingress(later, at(0)).state).toBe('invalid'); // before its first fragment
    expect(ct.ingress(first, at(1)).state).toBe('established');
    expect(ct.ingress(later, at(1)).state).toBe('invalid'); // the first fragment did not pass
    expect(pass(ct, first, at(1))).toBe('established');
    expect(pass(ct, later, at(2))).toBe('established');
    expect(ct.ingress({ ...later, fragment: { ...later.fragment, id: 5 } }, at(2)).state).toBe('invalid');
    expect(ct.ingress(later, at(31)).state).toBe('invalid');
  });

  it('move the entry they resolve to, and are new without one', () => {
    const ct = new ConnectionTracker();
    expect(pass(ct, first, at(0))).toBe('new');
    expect(ct.ingress(later, at(1)).state).toBe('new');
    ct.egress(udpOut, at(2));
    expect(ct.ingress(later, at(3)).commit()).toBe('udp-replied');
  });

  it('carry no TCP flags: a later fragment of a SYN is invalid without an entry', () => {
    const ct = new ConnectionTracker();
    const syn = into(SYN, { fragment: { offset: 0, moreFragments: true } });
    expect(pass(ct, syn, at(0))).toBe('new');
    expect(ct.ingress(into(0, { fragment: { offset: 3, moreFragments: false } }), at(0)).state).toBe('invalid');
  });

  it('record nothing on egress unless first', () => {
    const ct = new ConnectionTracker();
    expect(ct.egress({ ...udpOut, fragment: { offset: 9, moreFragments: false } }, at(0))).toBe('untracked');
    expect(ct.egress({ ...udpOut, fragment: { offset: 0, moreFragments: true } }, at(0))).toBe('udp-create');
  });

  it('are keyed by the IPv6 fragment header identification too', () => {
    const ct = new ConnectionTracker();
    const v6 = { family: 6 as const, protocol: 17, src: '2001:db8::9', dst: '2001:db8::1', sport: 53, dport: 999 };
    ct.egress({ ...v6, src: v6.dst, dst: v6.src, sport: 999, dport: 53 }, at(0));
    pass(ct, { ...v6, fragment: { offset: 0, moreFragments: true, id: 0x10000 } }, at(1));
    expect(ct.ingress({ ...v6, fragment: { offset: 2, moreFragments: false, id: 0x10000 } }, at(1)).state).toBe('established');
    expect(ct.ingress({ ...v6, fragment: { offset: 2, moreFragments: false, id: 0 } }, at(1)).state).toBe('invalid');
  });
});

describe('an inbound packet the policy drops', () => {
  it('changes nothing, neither a state nor a deadline nor a remembered fragment', () => {
    const ct = new ConnectionTracker();
    ct.egress(out(SYN), at(0));
    ct.ingress(into(SYN | ACK), at(5)); // dropped: no commit
    expect(only(ct, at(5))).toMatchObject({ state: 'syn-sent', deadline: at(60) });
    ct.egress(udpOut, at(0));
    ct.ingress(udpIn, at(5));
    ct.ingress({ ...udpIn, fragment: { offset: 0, moreFragments: true } }, at(5));
    expect(ct.entries(at(5)).find((e) => e.table === 'udp')).toMatchObject({ state: 'unreplied', deadline: at(30) });
    expect(ct.ingress({ ...udpIn, fragment: { offset: 1, moreFragments: false } }, at(5)).state).toBe('invalid');
  });
});

describe('packets connection tracking does not see', () => {
  it('gives malformed frames no state and records nothing for them', () => {
    const ct = new ConnectionTracker();
    const tags = [1, 2, 3].map((id) => ({ tpid: 0x8100 as const, id }));
    expect(ct.egress({ ...udpOut, vlans: tags }, at(0))).toBe('untracked');
    expect(ct.egress({ ...udpOut, truncateTo: 40 }, at(0))).toBe('untracked');
    expect(ct.ingress({ ...udpIn, vlans: tags }, at(0)).state).toBeNull();
    expect(ct.ingress({ ...udpIn, truncateTo: 41 }, at(0)).state).toBeNull();
    expect(ct.entries(at(0))).toEqual([]);
    expect(ct.egress({ ...udpOut, vlans: tags.slice(0, 2) }, at(0))).toBe('udp-create');
  });
});

describe('the flood guard', () => {
  it('refuses half-open entries beyond the threshold within a second, and counts the refusals', () => {
    const ct = new ConnectionTracker({ floodThreshold: 3 });
    const synAck = (port: number) => out(SYN | ACK, { sport: 22, dport: port });
    for (const port of [1, 2, 3]) expect(ct.egress(synAck(port), at(7.1))).toBe('tcp-create-syn-recv');
    expect(ct.egress(out(SYN, { sport: 4 }), at(7.9))).toBe('tcp-flood-refused');
    expect(ct.egress(synAck(5), at(7.95))).toBe('tcp-flood-refused');
    expect(ct.egress(out(ACK, { sport: 6 }), at(7.95))).toBe('tcp-create-established'); // not half-open
    expect(ct.egress(synAck(7), at(8))).toBe('tcp-create-syn-recv');
    expect(ct.stats).toMatchObject({ floodRefused: 2, floodSeconds: 1, created: { tcp: 5, udp: 0, icmp: 0 } });
    expect(ct.counts()).toEqual({ tcp: 5, udp: 0, icmp: 0 });
  });
});
