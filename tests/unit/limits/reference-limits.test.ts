/**
 * The reference model of rule tails on cases computed by hand from
 * docs/DESIGN.md: bucket arithmetic to the nanosecond, falling through to
 * the next rule, per-prefix meters, expiry on lookup, bans' refresh slack
 * and a full set.
 */
import { describe, expect, it } from 'vitest';

import type { PacketSpec } from '../../../src/packet/spec.js';
import { loadPolicy } from '../../../src/policy/index.js';
import { MemoryHost } from '../../support/memory-host.js';
import { fnv1a32, ReferenceEvaluator } from '../../support/reference-evaluator.js';
import { NEVER, type ReferenceTails } from '../../support/reference-limits.js';

const S = 1_000_000_000n;
const T0 = 1000n * S;

function reference(rules: string, sets = 'set blocked dynamic timeout 60s size 2'): ReferenceEvaluator {
  const text = `${sets}\ninterface eth0 {\n${rules}\n}\n`;
  const loaded = loadPolicy('p.xdpfw', new MemoryHost({ 'p.xdpfw': text }));
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return new ReferenceEvaluator(loaded.document!, 'eth0');
}

const udp = (src: string, dst = src.includes(':') ? '2001:db8::53' : '192.0.2.53'): PacketSpec => ({
  family: src.includes(':') ? 6 : 4,
  protocol: 17,
  src,
  dst,
  sport: 5353,
  dport: 53,
});

/** The deciding rules of `n` packets at `now`. */
function decide(ref: ReferenceEvaluator, tails: ReferenceTails, now: bigint, packet: PacketSpec, n = 1) {
  return Array.from({ length: n }, () => ref.evaluate(packet, { tails, now }).matched);
}

describe('the reference model of rule tails', () => {
  it('a bucket starts full with B tokens, refills one per floor(unit / N) ns, and holds at most B', () => {
    const ref = reference('  allow udp limit rate 3/second burst 2\n  drop udp');
    const tails = ref.newTailState();
    const cost = 333_333_333n;
    expect(decide(ref, tails, T0, udp('10.0.0.1'), 3)).toEqual([0, 0, 1]);
    expect(decide(ref, tails, T0 + cost - 1n, udp('10.0.0.1'))).toEqual([1]);
    expect(decide(ref, tails, T0 + cost, udp('10.0.0.1'), 2)).toEqual([0, 1]);
    expect(decide(ref, tails, T0 + 100n * S, udp('10.0.0.1'), 3)).toEqual([0, 0, 1]);
    expect(tails.over.get(0)).toBe(4);
  });

  it('over holds only without a token and takes none, so a steady rate under it never matches', () => {
    const ref = reference('  drop udp limit rate over 1/second burst 1\n  allow udp');
    const tails = ref.newTailState();
    expect(decide(ref, tails, T0, udp('10.0.0.1'), 3)).toEqual([1, 0, 0]);
    // The over packets took nothing: one second after the first, a token is there.
    expect(decide(ref, tails, T0 + S, udp('10.0.0.1'))).toEqual([1]);
    expect(decide(ref, tails, T0 + 2n * S, udp('10.0.0.1'))).toEqual([1]);
    expect(tails.over.get(0)).toBe(2);
  });

  it('a limit takes a token only when the rule’s set matched, and a rule with only a tail applies to every packet', () => {
    const ref = reference('  allow src @blocked limit rate 1/minute burst 1\n  allow limit rate 1/hour burst 1\n  drop');
    const tails = ref.newTailState();
    expect(decide(ref, tails, T0, udp('10.0.0.1'), 2)).toEqual([1, 2]);
    tails.add('blocked', '10.0.0.0/8', NEVER);
    // Rule 0's bucket is still full: the first packets did not reach its limit.
    expect(decide(ref, tails, T0, udp('10.0.0.1'), 2)).toEqual([0, 2]);
  });

  it('per src/24/64 keeps one bucket per prefix of the packet’s family', () => {
    const ref = reference('  drop udp limit rate over 10/second burst 1 per src/24/64\n  allow udp');
    const tails = ref.newTailState();
    expect(decide(ref, tails, T0, udp('198.51.100.7'))).toEqual([1]);
    expect(decide(ref, tails, T0, udp('198.51.100.99'))).toEqual([0]);
    expect(decide(ref, tails, T0, udp('198.51.101.7'))).toEqual([1]);
    expect(decide(ref, tails, T0, udp('2001:db8:1:2::1'))).toEqual([1]);
    expect(decide(ref, tails, T0, udp('2001:db8:1:2::ffff'))).toEqual([0]);
    expect(decide(ref, tails, T0 + 100_000_000n, udp('198.51.100.1'))).toEqual([1]);
  });

  it('a ban writes the per prefix until now + D, refreshes only past a second of slack, and a full set refuses', () => {
    const ref = reference(
      '  drop src @blocked\n  drop udp limit rate over 1/hour burst 1 per src/24 ban @blocked 10s name "flood"\n  allow udp',
      'set blocked dynamic timeout 60s size 2',
    );
    const tails = ref.newTailState();
    const origin = fnv1a32('eth0\0flood');
    expect(decide(ref, tails, T0, udp('198.51.100.7'), 2)).toEqual([2, 1]);
    expect(tails.live('blocked', T0)).toEqual([{ prefix: '198.51.100.0/24', deadline: T0 + 10n * S, origin }]);
    // Rule 1 decides again only for a prefix not banned yet; a second /24 fills the set, a third is refused.
    expect(decide(ref, tails, T0, udp('198.51.101.7'), 2)).toEqual([2, 1]);
    expect(decide(ref, tails, T0, udp('198.51.102.7'), 2)).toEqual([2, 1]);
    expect(tails.setCounts.get('blocked')).toEqual({ added: 2, full: 1, expired: 0 });
    expect(decide(ref, tails, T0 + S, udp('198.51.102.7'))).toEqual([1]);
    expect(decide(ref, tails, T0 + S, udp('198.51.100.1'))).toEqual([0]);
  });

  it('a live entry within a second of the new deadline is left alone; one more than a second short is renewed', () => {
    const ref = reference('  drop udp ban @blocked 10s', 'set blocked dynamic size 4');
    const tails = ref.newTailState();
    decide(ref, tails, T0, udp('10.0.0.1'));
    decide(ref, tails, T0 + S, udp('10.0.0.1'));
    expect(tails.live('blocked', T0)[0].deadline).toBe(T0 + 10n * S);
    decide(ref, tails, T0 + S + 1n, udp('10.0.0.1'));
    expect(tails.live('blocked', T0)[0].deadline).toBe(T0 + 11n * S + 1n);
    expect(tails.setCounts.get('blocked')!.added).toBe(2);
  });

  it('an expired entry is absent, stays counted in the set until a lookup deletes it, and a shorter live prefix still matches', () => {
    const ref = reference('  drop src @blocked\n  allow udp', 'set blocked dynamic timeout 60s size 2');
    const tails = ref.newTailState();
    tails.add('blocked', '192.0.2.0/24', NEVER);
    tails.add('blocked', '192.0.2.5', T0 + S);
    expect(decide(ref, tails, T0, udp('192.0.2.5'))).toEqual([0]);
    expect(tails.live('blocked', T0 + S).map((e) => e.prefix)).toEqual(['192.0.2.0/24']);
    expect(tails.setCounts.get('blocked')!.expired).toBe(0);
    expect(decide(ref, tails, T0 + S, udp('192.0.2.5'))).toEqual([0]);
    expect(tails.setCounts.get('blocked')!.expired).toBe(1);
    expect(decide(ref, tails, T0 + S, udp('198.51.100.1'))).toEqual([1]);
  });

  it('a set full of expired entries refuses a ban until a lookup deletes one', () => {
    const ref = reference('  allow src ! @blocked dst 192.0.2.1\n  drop udp ban @blocked', 'set blocked dynamic timeout 5s size 1');
    const tails = ref.newTailState();
    tails.add('blocked', '10.0.0.1', T0);
    decide(ref, tails, T0, udp('10.0.0.2'));
    expect(tails.setCounts.get('blocked')).toEqual({ added: 0, full: 1, expired: 0 });
    expect(decide(ref, tails, T0, udp('10.0.0.1', '192.0.2.1'))).toEqual([0]);
    decide(ref, tails, T0, udp('10.0.0.2'));
    expect(tails.setCounts.get('blocked')).toEqual({ added: 1, full: 1, expired: 1 });
    expect(tails.live('blocked', T0)).toEqual([{ prefix: '10.0.0.2/32', deadline: T0 + 5n * S, origin: -1 }]);
  });

  it('refuses to judge a policy with tails without their state', () => {
    expect(() => reference('  allow udp limit rate 1/second').evaluate(udp('10.0.0.1'))).toThrow(/TailContext/);
  });
});
