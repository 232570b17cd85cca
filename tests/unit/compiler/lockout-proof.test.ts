/**
 * The lockout proof against the reference evaluator (tests/support, which
 * shares no code with the compiler), on generated policies with `ct state`:
 * a protect the proof accepts lets every sampled packet it matches through,
 * in whatever state the packet is; a protect it refuses comes with a packet
 * (read back from the message, as a user would replay it) that the protect
 * matches and the policy drops, by the rule or default the message names.
 */
import { describe, expect, test } from 'vitest';
import { parsePacket } from '../../../src/packet/describe.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { generatePacket, generatePolicy, Random, type GeneratedPolicy } from '../../support/generate.js';
import { ReferenceEvaluator } from '../../support/reference-evaluator.js';
import { compileText, documentOf } from './helpers.js';

const POLICIES = 150;
const PACKETS = 300;

/** A rule of the policy, its action, name and connection states left out: what a protect may say. */
function protectFrom(r: Random, policy: GeneratedPolicy): string {
  const rules = policy.text.split('\n').filter((line) => /^ {2}(allow|drop|reject) /.test(line));
  const rule = r.pick(rules);
  return rule
    .replace(/^ {2}(allow|drop|reject) /, '')
    .replace(/ name "[^"]*"$/, '')
    .replace(/ct state [a-z,]+/, '')
    .trim();
}

/** Sometimes an allow of the protected traffic at a random place, so that proofs also succeed. */
function withAllow(r: Random, policy: GeneratedPolicy, matches: string): string {
  const lines = policy.text.split('\n');
  const first = lines.findIndex((line) => line.startsWith('interface '));
  const last = lines.lastIndexOf('}');
  lines.splice(r.int(first + 1, last), 0, `  allow ${matches}`);
  return lines.join('\n');
}

describe('the lockout proof against the reference evaluator', () => {
  test(`on ${POLICIES} generated policies, proven protects allow every sampled packet and counterexamples are dropped`, () => {
    const tally = { proven: 0, refuted: 0, packetsChecked: 0 };
    for (let seed = 1; seed <= POLICIES; seed++) {
      const r = new Random(seed);
      const policy = generatePolicy(r, 10, { ct: true });
      const matches = protectFrom(r, policy);
      if (matches === '') continue;
      const body = r.chance(0.5) ? withAllow(r, policy, matches) : policy.text;
      const text = `protect ${matches}\n${body}`;
      const result = compileText(text);
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      expect(
        errors.filter((d) => d.code !== 'lockout'),
        `seed ${seed}:\n${text}`,
      ).toEqual([]);

      const reference = new ReferenceEvaluator(
        documentOf(`${text}\ninterface probe {\n  allow ${matches}\n  default drop\n}\n`),
        policy.interfaceName,
      );
      const probe = new ReferenceEvaluator(documentOf(`${body}\ninterface probe {\n  allow ${matches}\n  default drop\n}\n`), 'probe');
      const isProtected = (p: PacketSpec) => probe.evaluate(p).matched === 0;

      if (errors.length === 0) {
        tally.proven++;
        for (let i = 0; i < PACKETS; i++) {
          const packet = generatePacket(r, policy);
          if ((packet.vlans?.length ?? 0) > 2 || !isProtected(packet)) continue;
          tally.packetsChecked++;
          expect(reference.evaluate(packet).action, `seed ${seed}: ${JSON.stringify(packet)}\n${text}`).toBe('allow');
        }
      } else {
        tally.refuted++;
        const [lockout] = errors;
        const packet = parsePacket(lockout.message.slice(lockout.message.indexOf('drops: ') + 'drops: '.length));
        const verdict = reference.evaluate(packet);
        expect(isProtected(packet), `seed ${seed}: ${lockout.message}\n${text}`).toBe(true);
        expect(['drop', 'reject'], `seed ${seed}: ${lockout.message}\n${text}`).toContain(verdict.action);
        expect(verdict.matched === 'default', lockout.message).toBe(/'default (drop|reject)'/.test(lockout.message));
      }
    }
    // Both outcomes and real packet checks happen, or the test proves nothing.
    expect(tally.proven).toBeGreaterThan(20);
    expect(tally.refuted).toBeGreaterThan(20);
    expect(tally.packetsChecked).toBeGreaterThan(1000);
  });
});
