/**
 * Differential test: generated policies and packets, judged by the real
 * kernel program and by the reference evaluator (tests/support), which
 * implements the semantics straight from the AST. Every verdict and every
 * matched rule must agree. Seeds are fixed, so a failure names a policy and a
 * packet that reproduce it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { buildFrame } from '../../src/packet/build.js';
import { formatPacket } from '../../src/packet/describe.js';
import { PolicyJudge } from '../../src/xdp/judge.js';
import { generatePacket, generatePolicy, Random } from '../support/generate.js';
import { skipWithoutRoot } from '../support/kernel.js';
import { compileGenerated } from '../support/compile-generated.js';

const POLICIES = 100;
/** Policies past POLICIES test `ct state` too, each packet judged in a given state (the program's cfg_ct_given). */
const CT_POLICIES = 50;
/** And past those, `audit` and `log` rules and `mode audit`: the audit rules that counted a packet and the would-drops must agree too. */
const AUDIT_POLICIES = 40;
const PACKETS = 100;
const totals = {
  policies: 0,
  verdicts: 0,
  disagreements: 0,
  byRule: 0,
  byDefault: 0,
  rejected: 0,
  rulesHit: 0,
  rules: 0,
  audited: 0,
  wouldDrops: 0,
};

describe.skipIf(skipWithoutRoot('differential'))('kernel program and reference evaluator', () => {
  afterAll(() => {
    console.log(
      `differential: ${totals.policies} policies × ${PACKETS} packets = ${totals.verdicts} verdicts ` +
        `(${totals.byRule} by a rule, ${totals.byDefault} by default, ${totals.rejected} rejected, ` +
        `${totals.audited} counted by audit rules, ${totals.wouldDrops} would-drops of mode audit; ${totals.rulesHit} of ${totals.rules} rules decided ` +
        `at least one packet), ${totals.disagreements} disagreements`,
    );
  });

  for (let seed = 1; seed <= POLICIES + CT_POLICIES + AUDIT_POLICIES; seed++) {
    const ct = seed > POLICIES && seed <= POLICIES + CT_POLICIES;
    const audit = seed > POLICIES + CT_POLICIES;
    it(`agree on every packet of generated policy ${seed}${ct ? ' (with ct state)' : audit ? ' (with audit and log)' : ''}`, async () => {
      const random = new Random(seed);
      const policy = generatePolicy(random, 24, { ct, audit });
      const { iface, reference } = compileGenerated(policy);
      const judge = await PolicyJudge.load(iface, { ctGiven: ct });
      const mismatches: string[] = [];
      const rulesHit = new Set<number>();
      try {
        for (let i = 0; i < PACKETS; i++) {
          const packet = generatePacket(random, policy);
          const kernel = judge.judge(buildFrame(packet), packet.ctState);
          const expected = reference.evaluate(packet);
          totals.verdicts++;
          if (expected.action === 'reject') totals.rejected++;
          if (typeof expected.matched === 'number') {
            totals.byRule++;
            rulesHit.add(expected.matched);
          } else totals.byDefault++;
          totals.audited += expected.audited?.length ?? 0;
          if (expected.wouldDrop) totals.wouldDrops++;
          const audits = (v: { audited?: number[]; wouldDrop?: true }) => `[${v.audited?.join(',') ?? ''}]${v.wouldDrop ? ' passed' : ''}`;
          if (kernel.action !== expected.action || kernel.matched !== expected.matched || audits(kernel) !== audits(expected)) {
            totals.disagreements++;
            mismatches.push(
              `${formatPacket(packet)}: kernel ${kernel.action} by ${kernel.matched} ${audits(kernel)}, ` +
                `reference ${expected.action} by ${expected.matched} ${audits(expected)}`,
            );
          }
        }
      } finally {
        judge.close();
      }
      totals.policies++;
      totals.rules += iface.rules.length;
      totals.rulesHit += rulesHit.size;
      expect(mismatches, `policy (seed ${seed}):\n${policy.text}`).toEqual([]);
    });
  }
});
