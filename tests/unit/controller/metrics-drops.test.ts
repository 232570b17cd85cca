import { describe, expect, it } from 'vitest';

import type { Count, InterfaceStats, RuleStats } from '../../../src/app/counters.js';
import { dropsByReason } from '../../../src/controller/metrics-drops.js';

const count = (packets: number): Count => ({ packets: BigInt(packets), bytes: BigInt(packets * 100) });
let next = 0;
const rule = (action: string, packets: number, audit = false): RuleStats => ({
  index: next,
  id: `r${next++}`,
  name: null,
  file: 'p.xdpfw',
  line: 1,
  col: 1,
  action,
  audit,
  text: `${audit ? 'audit ' : ''}${action}`,
  since: null,
  overLimit: null,
  ...count(packets),
});

/** Each figure distinct, so a packet counted under the wrong reason shows. */
function interfaceStats(over: Partial<InterfaceStats> = {}): InterfaceStats {
  return {
    name: 'eth0',
    policyHash: 'h',
    commit: null,
    since: '2024-01-01T00:00:00.000Z',
    rules: [rule('allow', 1000), rule('drop', 3), rule('drop', 4), rule('reject', 20), rule('drop', 300, true), rule('reject', 5000, true)],
    default: { action: 'drop', ...count(60_000) },
    malformed: count(700_000),
    nonIp: count(8),
    fragment: count(9),
    rejectSent: count(15),
    rejectSuppressed: count(5),
    auditMode: false,
    wouldDrop: count(0),
    attachMode: 'native',
    sets: [],
    appliedAt: '2024-01-01T00:00:00.000Z',
    ...over,
  };
}

const packets = (r: Record<string, Count>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v.packets)]));

describe('drops split by reason', () => {
  it('an enforcing interface drops by rule, reject, default and malformed; audit rules only would drop', () => {
    const split = dropsByReason(interfaceStats());
    expect(packets(split.dropped)).toEqual({ rule: 7, reject: 20, default: 60_000, malformed: 700_000 });
    expect(packets(split.wouldDrop)).toEqual({ rule: 0, reject: 0, default: 0, malformed: 0, audit: 5300 });
    expect(split.dropped.rule.bytes).toBe(700n);
  });

  it('a default reject is counted as a reject, and a default allow as no drop at all', () => {
    const rejecting = dropsByReason(interfaceStats({ default: { action: 'reject', ...count(60_000) } }));
    expect(packets(rejecting.dropped)).toEqual({ rule: 7, reject: 60_020, default: 0, malformed: 700_000 });
    const allowing = dropsByReason(interfaceStats({ default: { action: 'allow', ...count(60_000) } }));
    expect(packets(allowing.dropped)).toEqual({ rule: 7, reject: 20, default: 0, malformed: 700_000 });
  });

  it('an interface in mode audit drops nothing: the same amounts are what it would drop', () => {
    const split = dropsByReason(interfaceStats({ auditMode: true }));
    expect(packets(split.dropped)).toEqual({ rule: 0, reject: 0, default: 0, malformed: 0 });
    expect(packets(split.wouldDrop)).toEqual({ rule: 7, reject: 20, default: 60_000, malformed: 700_000, audit: 5300 });
  });

  it('an audit allow rule is neither a drop nor a would-drop', () => {
    const split = dropsByReason(
      interfaceStats({ rules: [rule('allow', 40, true)], default: { action: 'allow', ...count(1) }, malformed: count(0) }),
    );
    expect(packets(split.wouldDrop).audit).toBe(0);
    expect(Object.values(split.dropped).every((c) => c.packets === 0n && c.bytes === 0n)).toBe(true);
  });
});
