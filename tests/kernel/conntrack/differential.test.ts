/**
 * Stateful differential test: generated policies that use `ct state`, each
 * run over generated sequences of packets leaving and entering the host
 * and pauses (tests/support/generate-ct.ts). The kernel runs the egress
 * recorder and the XDP program over the namespace-style tables; the
 * reference gives each inbound packet its state from the connection model
 * (tests/support/reference-ct.ts), judges it with the reference evaluator,
 * and commits the packet's transition when it passes. Every inbound
 * packet's verdict and rule must agree. Pauses age the kernel's tables by
 * moving every deadline back (tables.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { buildFrame } from '../../../src/packet/build.js';
import { formatPacket } from '../../../src/packet/describe.js';
import { PolicyJudge } from '../../../src/xdp/judge.js';
import { ensureBpffs } from '../../../src/xdp/pins.js';
import { generatePolicy } from '../../support/generate.js';
import { generateCtSequence } from '../../support/generate-ct.js';
import { skipWithoutRoot } from '../../support/kernel.js';
import { Random } from '../../support/random.js';
import { ConnectionTracker } from '../../support/reference-ct.js';
import { age, clear, removeTables, testTables } from './tables.js';
import { compileGenerated } from '../../support/compile-generated.js';

const POLICIES = 100;
const SEQUENCES = 100;
const STEPS = 30;
const STATES = ['new', 'established', 'related', 'invalid'] as const;
const ACTIONS = ['allow', 'drop'] as const;

const totals = {
  policies: 0,
  sequences: 0,
  inbound: 0,
  outbound: 0,
  disagreements: 0,
  byState: { new: 0, established: 0, related: 0, invalid: 0 },
};

/** A generated policy with 2–4 rules on `ct state` alone inserted at random places, so the state decides often. */
function statefulPolicy(r: Random): { text: string; interfaceName: string } {
  const policy = generatePolicy(r, 12, { ct: true });
  const lines = policy.text.split('\n');
  const first = lines.findIndex((l) => /^\s*interface /.test(l)) + 1;
  const last = lines.length - 1 - [...lines].reverse().findIndex((l: string) => l.trim() === '}');
  for (let i = r.int(2, 4); i > 0; i--) {
    const states = [...new Set(Array.from({ length: r.int(1, 2) }, () => r.pick(STATES)))].join(',');
    lines.splice(r.int(first, last), 0, `  ${r.pick(ACTIONS)} ct state ${states}`);
  }
  return { text: lines.join('\n'), interfaceName: policy.interfaceName };
}

describe.skipIf(skipWithoutRoot('stateful differential'))('kernel and reference model over packet sequences', () => {
  const tables = testTables('diff');

  beforeAll(() => ensureBpffs());
  afterAll(() => {
    removeTables(tables);
    console.log(
      `stateful differential: ${totals.policies} policies × ${SEQUENCES} sequences = ${totals.sequences} sequences, ` +
        `${totals.outbound} packets out, ${totals.inbound} in (states ${JSON.stringify(totals.byState)}), ` +
        `${totals.disagreements} disagreements`,
    );
  });

  for (let seed = 1; seed <= POLICIES; seed++) {
    it(`agree on every inbound packet of the sequences of policy ${seed}`, async () => {
      const random = new Random(1000 + seed);
      const policy = statefulPolicy(random);
      const { iface, reference } = compileGenerated(policy);
      const judge = await PolicyJudge.load(iface, { pins: tables });
      const mismatches: string[] = [];
      try {
        for (let s = 0; s < SEQUENCES && mismatches.length === 0; s++) {
          clear(tables);
          const model = new ConnectionTracker({ timeouts: iface.conntrack!.timeouts });
          let now = 1_000_000_000_000n;
          const steps = generateCtSequence(random, { steps: STEPS, timeouts: iface.conntrack!.timeouts });
          for (const [i, step] of steps.entries()) {
            if ('advance' in step) {
              now += step.advance;
              age(tables, Number(step.advance) / 1e9);
              continue;
            }
            const frame = buildFrame(step.packet);
            if (step.direction === 'egress') {
              totals.outbound++;
              judge.record(frame);
              model.egress(step.packet, now);
              continue;
            }
            totals.inbound++;
            const kernel = judge.judge(frame);
            const seen = model.ingress(step.packet, now);
            const expected =
              seen.state === null ? reference.evaluate(step.packet) : reference.evaluate({ ...step.packet, ctState: seen.state });
            if (seen.state) totals.byState[seen.state]++;
            if (expected.action === 'allow') seen.commit();
            if (kernel.action !== expected.action || kernel.matched !== expected.matched) {
              totals.disagreements++;
              const history = steps
                .slice(0, i + 1)
                .map((t) =>
                  'advance' in t
                    ? `  +${Number(t.advance) / 1e9}s`
                    : `  ${t.direction === 'egress' ? 'out' : 'in '} ${formatPacket(t.packet)}`,
                );
              mismatches.push(
                `sequence ${s}, step ${i}: state ${seen.state}; kernel ${kernel.action} by ${kernel.matched}, ` +
                  `reference ${expected.action} by ${expected.matched}\n${history.join('\n')}`,
              );
            }
          }
          totals.sequences++;
        }
      } finally {
        judge.close();
      }
      totals.policies++;
      expect(mismatches, `policy (seed ${seed}):\n${policy.text}`).toEqual([]);
    });
  }
});
