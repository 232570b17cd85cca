import { describe, expect, it } from 'vitest';

import { carriedBases, carriedGlobalBases, fromJson, grown, rulePairs, ruleSince, toJson } from '../../../src/app/counter-carry.js';

const c = (packets: number, bytes: number) => ({ packets: BigInt(packets), bytes: BigInt(bytes) });

describe('counter carry-over across a reload', () => {
  it('pairs rules by id whatever their new position; new rules get no pair', () => {
    expect(rulePairs(['ssh', 'web', 'rule-aaa'], ['rule-aaa', 'new', 'ssh'])).toEqual([
      [2, 0],
      [0, 2],
    ]);
  });

  it('pairs identical unnamed rules (same content hash) in order of appearance', () => {
    expect(rulePairs(['x', 'x', 'y'], ['y', 'x', 'x', 'x'])).toEqual([
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
});
