/*
 * A deliberately broken translator: inlining a chain forgets the jumping
 * rule's source address (a plausible slip in conjoin). The translation
 * still compiles and looks plausible; the proof must catch it.
 */
import { describe, expect, it, vi } from 'vitest';
import { parseIptablesSave } from '../../../src/import/iptables-save.js';
import { translateIptables } from '../../../src/import/iptables-translate.js';
import { verifyTranslation } from '../../../src/import/verify.js';
import { compileText } from '../compiler/helpers.js';

vi.mock('../../../src/import/iptables-conjoin.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../src/import/iptables-conjoin.js')>();
  return { ...original, conjoin: (outer: object, inner: object) => original.conjoin({ ...outer, src: undefined }, inner) };
});

describe('import --verify against a broken translator', () => {
  it('finds a packet from outside the jump’s source that the translation lets in', () => {
    const dump = [
      '*filter',
      ':INPUT DROP [0:0]',
      ':admin - [0:0]',
      '-A INPUT -s 192.0.2.0/24 -j admin',
      '-A admin -p tcp --dport 22 -j ACCEPT',
      'COMMIT',
      '',
    ].join('\n');
    const t = translateIptables(parseIptablesSave(dump), { file: 'rules.v4', interfaces: ['eth0'] });
    expect(t.policy).toContain('  allow tcp dport 22\n');
    const outcome = verifyTranslation(t.program!, compileText(t.policy).ir!);
    expect(outcome).toMatchObject({
      kind: 'counterexample',
      source: { verdict: 'drop', path: [], policyOf: 'INPUT' },
      policy: { verdict: 'allow', rule: { text: 'allow tcp dport 22' } },
      packet: { family: 4, protocol: 6, src: '0.0.0.0', dport: 22 },
    });
  });
});
