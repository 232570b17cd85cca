/**
 * `reject` with every other feature a policy can switch on: connection
 * tracking, rate limits with bans into a dynamic set, and both
 * classification paths. The verifier must accept each combination (its
 * 1M-instruction budget covers the answer code on every path), and the
 * answer must still be written.
 */
import { afterAll, describe, expect, it } from 'vitest';

import type { ClassifyChoice } from '../../../src/compiler/index.js';
import { layOutFrame } from '../../../src/packet/build.js';
import { parsePacket } from '../../../src/packet/describe.js';
import { PolicyJudge } from '../../../src/xdp/judge.js';
import { ensureBpffs } from '../../../src/xdp/pins.js';
import { compileInterfaceText, skipWithoutRoot } from '../../support/kernel.js';
import { removeTables } from '../conntrack/tables.js';
import { removeTailTables } from '../limits/policy.js';

const pins = { netnsId: `test-reject-${process.pid}` };

const CT = 'allow ct state established,related';
const LIMITS = 'drop udp dport 53 limit rate over 10/second per src/24/64 ban @blocked 60s name "flood"';

function policy(features: { ct: boolean; limits: boolean }): string {
  const lines = [
    ...(features.limits ? ['set blocked dynamic timeout 60s size 64'] : []),
    'interface eth0 {',
    ...(features.ct ? [`  ${CT}`] : []),
    ...(features.limits ? [`  ${LIMITS}`, '  drop src @blocked'] : []),
    '  allow tcp dport 22',
    '  reject tcp dport 25',
    '  default reject',
    '}',
  ];
  return lines.join('\n') + '\n';
}

const combinations = [
  { ct: false, limits: false, classify: 'linear' },
  { ct: true, limits: false, classify: 'linear' },
  { ct: false, limits: false, classify: 'lbvs' },
  { ct: true, limits: false, classify: 'lbvs' },
  { ct: false, limits: true, classify: 'lbvs' },
  { ct: true, limits: true, classify: 'lbvs' },
] as const;

describe.skipIf(skipWithoutRoot('reject verifier'))('reject loads with every feature', () => {
  afterAll(() => {
    removeTables(pins);
    removeTailTables(pins);
  });

  for (const c of combinations) {
    const name = `${c.classify}${c.ct ? ' + ct' : ''}${c.limits ? ' + limits' : ''}`;
    it(`loads and answers on ${name}`, async () => {
      ensureBpffs();
      const compiled = compileInterfaceText(policy(c), { classify: c.classify satisfies ClassifyChoice });
      expect(compiled.constants.linear !== null).toBe(c.classify === 'linear');
      const judge = await PolicyJudge.load(compiled, { pins });
      try {
        const syn = judge.judge(layOutFrame(parsePacket('tcp 198.51.100.7:40000 > 192.0.2.1:25 flags S')).bytes);
        expect(syn).toMatchObject({ action: 'reject', answered: true });
        const udp = judge.judge(layOutFrame(parsePacket('udp [2001:db8::7]:5000 > [2001:db8::1]:9 vlan 7')).bytes);
        expect(udp).toMatchObject({ action: 'reject', answered: true, matched: 'default' });
        const ssh = judge.judge(layOutFrame(parsePacket('tcp 198.51.100.7:40000 > 192.0.2.1:22 flags S')).bytes);
        expect(ssh.action).toBe('allow');
      } finally {
        judge.close();
      }
    });
  }
});
