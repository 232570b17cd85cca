/*
 * Generated dumps of one chain (no user chains), translated and compared on
 * sampled IPv4 packets: the verdict of a direct first-match evaluator of the
 * parsed iptables rules against the reference evaluator of the policy.
 */
import { describe, expect, it } from 'vitest';
import { parseIptablesSave } from '../../../src/import/iptables-save.js';
import { translateIptables } from '../../../src/import/iptables-translate.js';
import { compileGenerated } from '../../support/compile-generated.js';
import { generateDump, generatePacket, iptablesVerdict } from '../../support/iptables-single-chain.js';
import { Random } from '../../support/random.js';

describe('translated single-chain dumps decide as iptables does', () => {
  it('agrees on 40 generated dumps × 150 packets', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = new Random(7_000 + seed);
      const { dump, policy } = generateDump(r);
      const save = parseIptablesSave(dump);
      expect(save.errors, dump).toEqual([]);
      const translation = translateIptables(save, { file: 'generated.v4', interfaces: ['eth0'] });
      expect(translation.refusals, dump).toEqual([]);
      const { reference } = compileGenerated({ text: translation.policy, interfaceName: 'eth0' });
      for (let k = 0; k < 150; k++) {
        const packet = generatePacket(r);
        const actual = reference.evaluate(packet);
        if (actual.matched === 'malformed') continue;
        const expected = iptablesVerdict(save.tables[0].rules, policy, packet);
        expect(actual.action, `${JSON.stringify(packet)}\n${dump}\n${translation.policy}`).toBe(expected);
      }
    }
  });
});
