/**
 * Differential test of rule tails: generated policies with dynamic sets,
 * limits and bans (generatePolicy's `tails`), each run over timed packet
 * sequences (generate-tails.ts) by the kernel program, its clock given
 * (cfg_now_given), and by the reference evaluator with the tail model
 * written from DESIGN.md (reference-limits.ts). Every packet's verdict and
 * deciding rule must agree; at the end of each sequence, so must every
 * set's live entries (prefix, deadline, origin), the rules' over-limit
 * counters and the sets' added / full / expired counters. Sequences are
 * ten days apart, so each starts with full buckets; the sets are flushed,
 * then given their initial entries through the set library.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildFrame } from '../../../src/packet/build.js';
import { formatPacket } from '../../../src/packet/describe.js';
import { addToSet, flushSet, listSet } from '../../../src/xdp/dynsets.js';
import { PolicyJudge } from '../../../src/xdp/judge.js';
import { ensureBpffs } from '../../../src/xdp/pins.js';
import { compileGenerated } from '../../support/compile-generated.js';
import { generatePacket, generatePolicy } from '../../support/generate.js';
import { generateTailSequence, type TailSequence } from '../../support/generate-tails.js';
import { skipWithoutRoot } from '../../support/kernel.js';
import { Random } from '../../support/random.js';
import type { ReferenceEvaluator } from '../../support/reference-evaluator.js';
import { NEVER, type ReferenceTails } from '../../support/reference-limits.js';
import { removeTailTables, testPins } from './policy.js';

const POLICIES = 40;
/** Past POLICIES, `audit` rules (their tails checked, their bans never written) and `mode audit`. */
const AUDIT_POLICIES = 10;
const SEQUENCES = 6;
const STEPS = 40;
const SECOND = 1_000_000_000n;
const DAY = 86_400n * SECOND;

const totals = {
  policies: 0,
  sequences: 0,
  packets: 0,
  byTailRule: 0,
  audited: 0,
  limitOver: 0,
  bansAdded: 0,
  bansRefusedFull: 0,
  expired: 0,
  initialEntries: 0,
  disagreements: 0,
};

const live = <T extends { prefix: string }>(entries: T[]): T[] =>
  [...entries].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));

/** The model's live entries as `xdpfw set list` shows them; an origin of -1 (a rule without a name) is any non-zero hash. */
function expectedEntries(model: ReferenceTails, set: string, now: bigint) {
  return model.live(set, now).map((e) => ({
    prefix: e.prefix,
    secondsLeft: e.deadline === NEVER ? null : Number(e.deadline - now) / 1e9,
    origin: e.origin === -1 ? 'a rule' : e.origin,
  }));
}

describe.skipIf(skipWithoutRoot('tails differential'))('kernel and reference model of rule tails over timed sequences', () => {
  const pins = testPins('diff');

  beforeAll(() => ensureBpffs());
  afterAll(() => {
    removeTailTables(pins);
    console.log(
      `tails differential: ${totals.policies} policies × ${SEQUENCES} sequences × ${STEPS} packets = ${totals.packets} packets ` +
        `(${totals.byTailRule} decided by a rule with a tail, ${totals.audited} counted by audit rules; ${totals.limitOver} found a limit over its rate), ` +
        `${totals.bansAdded} bans written, ${totals.bansRefusedFull} refused by a full set, ${totals.expired} expired entries deleted, ` +
        `${totals.initialEntries} entries written before a sequence; ${totals.disagreements} disagreements`,
    );
  });

  for (let seed = 1; seed <= POLICIES + AUDIT_POLICIES; seed++) {
    const audit = seed > POLICIES;
    it(`agree on every packet, set and counter of the sequences of tail policy ${seed}${audit ? ' (with audit)' : ''}`, async () => {
      const random = new Random(7000 + seed);
      const policy = generatePolicy(random, 12, { tails: true, audit });
      const { iface, reference } = compileGenerated(policy);
      removeTailTables(pins);
      const judge = await PolicyJudge.load(iface, { pins, nowGiven: true });
      const mismatches: string[] = [];
      try {
        const pool = Array.from({ length: 4 }, () => generatePacket(random, policy));
        for (let s = 0; s < SEQUENCES && mismatches.length === 0; s++) {
          const start = 1000n * SECOND + BigInt(s) * 10n * DAY;
          const sequence = generateTailSequence(random, policy.tails!, pool, start, STEPS);
          mismatches.push(...runSequence(judge, reference, sequence, start, s));
          totals.sequences++;
        }
      } finally {
        judge.close();
        removeTailTables(pins);
      }
      totals.policies++;
      totals.disagreements += mismatches.length;
      expect(mismatches, `policy (seed ${seed}):\n${policy.text}`).toEqual([]);
    });
  }

  // The program's frame and a bpf_loop walk's once added up past 512 bytes of stack with an address match.
  it('loads a policy with an address match on one rule and a limit on another', async () => {
    const { iface } = compileGenerated({
      text: 'interface xdpfw0 {\n  allow tcp dport 22 src 192.0.2.0/24\n  allow icmp type echo-request limit rate 10/second\n}\n',
      interfaceName: 'xdpfw0',
    });
    const judge = await PolicyJudge.load(iface, { privateTables: true });
    judge.close();
  });

  /** One sequence from flushed sets and full buckets; the disagreements, each with the history that reproduces it. */
  function runSequence(judge: PolicyJudge, reference: ReferenceEvaluator, sequence: TailSequence, start: bigint, s: number): string[] {
    const sets = judge.compiled.dynamicSets.map((d) => d.name);
    const model = reference.newTailState();
    const overBefore = judge.limitOver();
    const statsBefore = judge.setStats();
    for (const set of sets) flushSet(set, pins);
    const initial = sequence.initial.filter((e) => sets.includes(e.set));
    for (const e of initial) {
      addToSet(e.set, [e.prefix], { ...pins, seconds: e.seconds, nowNs: start });
      model.add(e.set, e.prefix, e.seconds === null ? NEVER : start + BigInt(e.seconds) * SECOND);
    }
    totals.initialEntries += initial.length;
    const history = () => [
      ...initial.map((e) => `  set add ${e.set} ${e.prefix} ${e.seconds ?? 'forever'}s`),
      ...sequence.packets.map((p) => `  t+${Number(p.at - start) / 1e9}s ${formatPacket(p.packet)}`),
    ];
    for (const [i, { at, packet }] of sequence.packets.entries()) {
      judge.setNow(at);
      const kernel = judge.judge(buildFrame(packet));
      const expected = reference.evaluate(packet, { tails: model, now: at });
      totals.packets++;
      if (typeof expected.matched === 'number' && reference.tails[expected.matched]) totals.byTailRule++;
      totals.audited += expected.audited?.length ?? 0;
      const audits = (v: { audited?: number[]; wouldDrop?: true }) => `[${v.audited?.join(',') ?? ''}]${v.wouldDrop ? ' passed' : ''}`;
      if (kernel.action !== expected.action || kernel.matched !== expected.matched || audits(kernel) !== audits(expected)) {
        const steps = history().slice(0, initial.length + i + 1);
        return [
          `sequence ${s}, packet ${i}: kernel ${kernel.action} by ${kernel.matched} ${audits(kernel)}, ` +
            `reference ${expected.action} by ${expected.matched} ${audits(expected)}\n${steps.join('\n')}`,
        ];
      }
    }
    const end = sequence.packets[sequence.packets.length - 1].at;
    const found: string[] = [];
    for (const set of sets) {
      const kernelEntries = live(listSet(set, { ...pins, nowNs: end })).map((e) => ({ ...e, origin: e.origin === 0 ? 0 : e.origin }));
      const expected = expectedEntries(model, set, end);
      const comparable = kernelEntries.map((e, k) => ({
        ...e,
        origin: expected[k]?.origin === 'a rule' && e.origin !== 0 ? 'a rule' : e.origin,
      }));
      if (JSON.stringify(comparable) !== JSON.stringify(expected)) {
        found.push(`sequence ${s}, set ${set}: kernel ${JSON.stringify(comparable)}, reference ${JSON.stringify(expected)}`);
      }
    }
    const over = judge.limitOver().map((n, rule) => Number(n - overBefore[rule]));
    const modelOver = over.map((_, rule) => model.over.get(rule) ?? 0);
    if (JSON.stringify(over) !== JSON.stringify(modelOver))
      found.push(`sequence ${s}: over counters kernel ${over}, reference ${modelOver}`);
    totals.limitOver += modelOver.reduce((a, b) => a + b, 0);
    judge.setStats().forEach((stats, k) => {
      const kernelCounts = {
        added: Number(stats.added - statsBefore[k].added),
        full: Number(stats.full - statsBefore[k].full),
        expired: Number(stats.expired - statsBefore[k].expired),
      };
      const counts = model.setCounts.get(sets[k])!;
      totals.bansAdded += counts.added;
      totals.bansRefusedFull += counts.full;
      totals.expired += counts.expired;
      if (JSON.stringify(kernelCounts) !== JSON.stringify(counts)) {
        found.push(`sequence ${s}, set ${sets[k]} counters: kernel ${JSON.stringify(kernelCounts)}, reference ${JSON.stringify(counts)}`);
      }
    });
    return found.length > 0 ? [`${found.join('\n')}\n${history().join('\n')}`] : [];
  }
});
