/**
 * The linear path against the reference evaluator and the bit vectors:
 * generated policies the linear path takes (tests/support/generate.ts,
 * generateSimplePolicy: one prefix per address match, often negated, one
 * protocol, port interval or ICMP type, TCP flags; IPv4 and IPv6), each
 * compiled for both paths, and generated packets aimed at their rules'
 * edges (fragments, VLAN tags, options and extension headers among them),
 * a third of them just outside one of the policy's prefixes.
 * Every verdict and matched rule must agree. Seeds are fixed, so a failure
 * names a policy and a packet that reproduce it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compileInterfaceWith } from '../../src/compiler/index.js';
import { checkPolicy } from '../../src/compiler/index.js';
import type { ClassifyChoice } from '../../src/compiler/index.js';
import { buildFrame } from '../../src/packet/build.js';
import { formatPacket } from '../../src/packet/describe.js';
import type { IrInterface } from '../../src/compiler/ir.js';
import { loadPolicy } from '../../src/policy/index.js';
import { loadPolicyProgram, type LoadedProgram } from '../../src/xdp/index.js';
import { PolicyJudge } from '../../src/xdp/judge.js';
import { generateNearMissPacket, generatePacket, generateSimplePolicy, Random } from '../support/generate.js';
import { takenByFastPath } from '../support/fast-path.js';
import { skipWithoutRoot } from '../support/kernel.js';
import { MemoryHost } from '../support/memory-host.js';
import { ReferenceEvaluator } from '../support/reference-evaluator.js';

const POLICIES = 60;
const PACKETS = 100;
/** The linear path with its fast path in front, the linear path alone (the C program), the bit vectors. */
const PATHS: { name: string; classify: ClassifyChoice; fastPath: boolean }[] = [
  { name: 'linear', classify: 'linear', fastPath: true },
  { name: 'linear without the fast path', classify: 'linear', fastPath: false },
  { name: 'lbvs', classify: 'lbvs', fastPath: false },
];
/** What the packets exercised, over every policy. */
const totals = { policies: 0, verdicts: 0, disagreements: 0, byRule: 0, byNegatedRule: 0, fragmentsByRule: 0, fastPath: 0 };

function load(path: string, text: string): { ir: IrInterface; reference: ReferenceEvaluator } {
  const loaded = loadPolicy(path, new MemoryHost({ [path]: text }));
  expect(
    loaded.diagnostics.filter((d) => d.severity === 'error'),
    text,
  ).toEqual([]);
  const checked = checkPolicy(loaded.document!);
  expect(
    checked.diagnostics.filter((d) => d.severity === 'error'),
    text,
  ).toEqual([]);
  const ir = checked.ir!.interfaces[0];
  return { ir, reference: new ReferenceEvaluator(loaded.document!, ir.name) };
}

describe.skipIf(skipWithoutRoot('linear path'))('the linear path against the reference evaluator and the bit vectors', () => {
  afterAll(() => {
    console.log(
      `linear path: ${totals.policies} policies × ${PACKETS} packets = ${totals.verdicts} verdicts per path ` +
        `(${totals.byRule} by a rule, ${totals.byNegatedRule} of them by a rule with a negated match, ` +
        `${totals.fragmentsByRule} non-first fragments; ${totals.fastPath} for the fast path), ` +
        `${totals.disagreements} disagreements`,
    );
  });

  for (let seed = 1; seed <= POLICIES; seed++) {
    it(`agree on every packet of generated simple policy ${seed}`, async () => {
      const random = new Random(seed);
      const policy = generateSimplePolicy(random);
      const { ir, reference } = load('simple.xdpfw', policy.text);
      const judges: PolicyJudge[] = [];
      const mismatches: string[] = [];
      try {
        for (const { classify, fastPath } of PATHS) {
          judges.push(await PolicyJudge.load(compileInterfaceWith(ir, { classify }), { fastPath }));
        }
        expect(judges[0].compiled.constants.linear).toHaveLength(ir.rules.length);
        for (let i = 0; i < PACKETS; i++) {
          const packet = random.chance(1 / 3) ? generateNearMissPacket(random, policy) : generatePacket(random, policy);
          const frame = buildFrame(packet);
          const expected = reference.evaluate(packet);
          totals.verdicts++;
          if (takenByFastPath(frame)) totals.fastPath++;
          if (typeof expected.matched === 'number') {
            totals.byRule++;
            if (reference.rules[expected.matched].matches.some((m) => m.kind === 'address-match' && m.negated)) totals.byNegatedRule++;
            if ((packet.fragment?.offset ?? 0) > 0) totals.fragmentsByRule++;
          }
          judges.forEach((judge, p) => {
            const kernel = judge.judge(frame);
            if (kernel.action === expected.action && kernel.matched === expected.matched) return;
            totals.disagreements++;
            mismatches.push(
              `${formatPacket(packet)}: ${PATHS[p].name} ${kernel.action} by ${kernel.matched}, reference ${expected.action} by ${expected.matched}`,
            );
          });
        }
        // The two linear programs counted the same packets and bytes in the same counters.
        expect(judges[0].counters(), 'counters with and without the fast path').toEqual(judges[1].counters());
      } finally {
        for (const judge of judges) judge.close();
      }
      totals.policies++;
      expect(mismatches, `policy (seed ${seed}):\n${policy.text}`).toEqual([]);
    });
  }

  it('loads with every classification map at one entry and fills none of them; the bit vectors fill theirs', async () => {
    const { ir } = load('one.xdpfw', 'interface eth0 {\n  default drop\n  allow tcp dport 22 src 10.0.0.0/8\n}\n');
    const linear = await loadPolicyProgram(compileInterfaceWith(ir, { classify: 'linear' }));
    const lbvs = await loadPolicyProgram(compileInterfaceWith(ir, { classify: 'lbvs' }));
    try {
      const big = (p: LoadedProgram) =>
        [...p.maps.values()]
          .filter((m) => m.maxEntries > 1)
          .map((m) => m.name)
          .sort();
      // the global counters (one rule, one rule counter), what a tracer reads (its counts and its ring),
      // and the log ring at its least, one page, as no rule logs
      expect(big(linear)).toEqual(['xdpfw_counters', 'xdpfw_log_ring', 'xdpfw_trace_ring', 'xdpfw_trace_stats']);
      expect(linear.maps.get('xdpfw_log_ring')?.maxEntries).toBe(4096);
      expect(linear.fill.entries).toBe(0);
      expect(big(lbvs)).toContain('xdpfw_dport_cls');
      expect(lbvs.fill.entries).toBeGreaterThan(65536);
    } finally {
      linear.close();
      lbvs.close();
    }
  });

  it('decided a good share of the packets by a rule, negated matches and fragments among them, and a share on the fast path', () => {
    expect(totals.policies).toBe(POLICIES);
    expect(totals.byRule / totals.verdicts).toBeGreaterThan(0.4);
    expect(totals.byNegatedRule).toBeGreaterThan(50);
    expect(totals.fragmentsByRule).toBeGreaterThan(20);
    expect(totals.fastPath / totals.verdicts).toBeGreaterThan(0.1);
  });
});
