import { describe, expect, it } from 'vitest';

import {
  NO_OVER_LIMIT,
  NO_SET_COUNTS,
  carriedBases,
  carriedGlobalBases,
  fromJson,
  grown,
  pairsById,
  ruleSince,
  toJson,
} from '../../../src/app/counter-carry.js';
import { totalsOf } from '../../../src/app/counters.js';
import type { AppliedState } from '../../../src/app/state.js';

const c = (packets: number, bytes: number) => ({ packets: BigInt(packets), bytes: BigInt(bytes) });

describe('counter carry-over across a reload', () => {
  it('pairs rules by id whatever their new position; new rules get no pair', () => {
    expect(pairsById(['ssh', 'web', 'rule-aaa'], ['rule-aaa', 'new', 'ssh'])).toEqual([
      [2, 0],
      [0, 2],
    ]);
  });

  it('pairs identical unnamed rules (same content hash) in order of appearance', () => {
    expect(pairsById(['x', 'x', 'y'], ['y', 'x', 'x', 'x'])).toEqual([
      [2, 0],
      [0, 1],
      [1, 2],
    ]);
  });

  it('a kept rule’s new base is its old base plus what the old program counted after the copy', () => {
    // old rule 1 had base 10 packets; at the copy its map held 5, after the swap 7: 2 counted late.
    const bases = carriedBases({
      pairs: [[1, 0]],
      newCount: 2,
      oldBases: [c(0, 0), c(10, 1000)],
      before: [c(1, 1), c(5, 500)],
      after: [c(1, 1), c(7, 700)],
    });
    expect(bases).toEqual([c(12, 1200), c(0, 0)]);
  });

  it('the total after the reload equals the total before plus everything counted since, exactly', () => {
    // Before the reload: total = base 100 + kernel 40 = 140. The kernel map of the new program is
    // seeded with 40 (the copy), the old program counts 3 more before the swap, the new one 5 after.
    const base = c(100, 0);
    const before = c(40, 0);
    const after = c(43, 0);
    const [newBase] = carriedBases({ pairs: [[0, 0]], newCount: 1, oldBases: [base], before: [before], after: [after] });
    const newKernel = before.packets + 5n;
    expect(newBase.packets + newKernel).toBe(140n + 3n + 5n);
  });

  it('never subtracts: a smaller late reading adds nothing', () => {
    expect(grown(c(5, 5), c(3, 3))).toEqual(c(0, 0));
  });

  it('global counters are carried index for index and survive JSON as exact decimal strings', () => {
    const big = 2n ** 60n + 1n;
    const out = carriedGlobalBases(
      { default: toJson({ packets: big, bytes: 1n }) },
      [c(1, 1), c(0, 0), c(0, 0), c(0, 0)],
      [c(3, 4), c(0, 0), c(2, 2), c(0, 0)],
    );
    expect(fromJson(out.default)).toEqual({ packets: big + 2n, bytes: 4n });
    expect(fromJson(out.nonIp)).toEqual(c(2, 2));
    expect(fromJson(out.malformed)).toEqual(c(0, 0));
  });

  it('a rule’s counters date from when it first appeared', () => {
    expect(ruleSince([[0, 1]], 2, ['2024-01-01T00:00:00.000Z'], 'now')).toEqual(['now', '2024-01-01T00:00:00.000Z']);
  });

  it('a corrupt base in a hand-edited state counts as zero', () => {
    expect(fromJson({ packets: 'x', bytes: '1' })).toEqual(c(0, 0));
  });

  it('a dynamic set’s counts follow its name to its new index, with what the old program counted late', () => {
    const sets = (added: number, full = 0, expired = 0) => ({ added: BigInt(added), full: BigInt(full), expired: BigInt(expired) });
    const pairs = pairsById(['banned', 'gone'], ['early', 'banned']);
    expect(pairs).toEqual([[0, 1]]);
    const bases = carriedBases({
      pairs,
      newCount: 2,
      oldBases: [sets(10, 1, 2), sets(7)],
      before: [sets(4, 0, 1), sets(3)],
      after: [sets(5, 0, 3), sets(9)],
      zero: NO_SET_COUNTS,
    });
    expect(bases).toEqual([sets(0), sets(11, 1, 4)]);
  });

  it('a limit’s over-limit count is carried like a rule’s packets, and a corrupt one counts as zero', () => {
    const over = (n: number) => ({ overLimit: BigInt(n) });
    const [base] = carriedBases({
      pairs: [[0, 0]],
      newCount: 1,
      oldBases: [over(2)],
      before: [over(3)],
      after: [over(4)],
      zero: NO_OVER_LIMIT,
    });
    expect(base).toEqual(over(3));
    expect(fromJson(toJson(over(2 ** 60)), NO_OVER_LIMIT)).toEqual(over(2 ** 60));
    expect(fromJson({ overLimit: 'x' }, NO_OVER_LIMIT)).toEqual(over(0));
  });

  it('stats adds the carried bases to the kernel’s over-limit and set counts', () => {
    const state = {
      rules: [
        { id: 'a', index: 0, location: 'p.xdpfw:3:3', action: 'drop', text: 'drop udp', limit: true, limitBase: { overLimit: '5' } },
        { id: 'b', index: 1, location: 'p.xdpfw:4:3', action: 'drop', text: 'drop tcp' },
      ],
      dynamicSets: [{ name: 'early' }, { name: 'banned' }],
      setBases: { banned: { added: '3', full: '1', expired: '2' } },
    } as unknown as AppliedState;
    const zero = { packets: 0n, bytes: 0n };
    const counters = {
      rules: [zero, zero],
      global: { default: zero, malformed: zero, nonIp: zero, fragment: zero, rejectSent: zero, rejectSuppressed: zero, wouldDrop: zero },
    };
    const tails = {
      progId: 1,
      overLimit: [2n, 0n],
      sets: [
        { added: 1n, full: 0n, expired: 0n },
        { added: 1n, full: 0n, expired: 1n },
      ],
    };
    const stats = totalsOf('eth0', state, counters, tails);
    expect(stats.rules.map((r) => r.overLimit)).toEqual([7n, null]);
    expect(stats.sets).toEqual([
      { name: 'early', added: 1n, expired: 0n, full: 0n },
      { name: 'banned', added: 4n, expired: 3n, full: 1n },
    ]);
  });
});
