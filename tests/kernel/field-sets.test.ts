/**
 * Every set of enabled fields on the bit vectors. The program holds one copy
 * of its word loop per set of fields (bpf/lib/classify.h, first_rule_of) and
 * cfg_fields picks one: each of the 64 sets must load, and its copy must AND
 * exactly the enabled fields. A policy whose rules constrain just those
 * fields is judged on a packet that matches its rule and on one packet per
 * field that differs in that field alone, which no rule may take.
 */
import { describe, expect, it } from 'vitest';
import { compileInterfaceWith } from '../../src/compiler/index.js';
import { checkPolicy } from '../../src/compiler/index.js';
import { buildFrame } from '../../src/packet/build.js';
import type { PacketSpec } from '../../src/packet/spec.js';
import { loadPolicy } from '../../src/policy/index.js';
import { PolicyJudge } from '../../src/xdp/judge.js';
import { FIELD } from '../../src/contract/kernel.js';
import { skipWithoutRoot } from '../support/kernel.js';
import { MemoryHost } from '../support/memory-host.js';

type Optional = Exclude<keyof typeof FIELD, 'proto' | 'ctstate'>;
const OPTIONAL: Optional[] = ['src', 'dst', 'sport', 'dport', 'tcpflags', 'icmptype'];

/** The TCP rule's match on each field, and a packet change that breaks only that match. */
const TCP_MATCH: Record<Exclude<Optional, 'icmptype'>, { text: string; miss: Partial<PacketSpec> }> = {
  src: { text: 'src 10.1.0.0/16', miss: { src: '10.9.2.3' } },
  dst: { text: 'dst 10.2.0.0/16', miss: { dst: '10.9.3.4' } },
  sport: { text: 'sport 1000-1999', miss: { sport: 2000 } },
  dport: { text: 'dport 80', miss: { dport: 81 } },
  tcpflags: { text: 'flags syn / syn,ack', miss: { tcpFlags: 0x12 } },
};
const TCP_HIT: PacketSpec = { family: 4, protocol: 6, src: '10.1.2.3', dst: '10.2.3.4', sport: 1500, dport: 80, tcpFlags: 0x02 };
const ECHO_REQUEST: PacketSpec = { family: 4, protocol: 1, src: '10.1.2.3', dst: '10.2.3.4', icmpType: 8 };

function policyText(fields: Optional[]): string {
  // `tcp flags …` is one match: the flags come right after `tcp`.
  const tcp = (['tcpflags', 'src', 'dst', 'sport', 'dport'] as const).filter((f) => fields.includes(f)).map((f) => TCP_MATCH[f].text);
  const rules = [`allow tcp ${tcp.join(' ')}`];
  if (fields.includes('icmptype')) rules.push('allow icmp type echo-request');
  return `interface eth0 {\n  default drop\n${rules.map((r) => `  ${r}\n`).join('')}}\n`;
}

describe.skipIf(skipWithoutRoot('field sets'))('every set of enabled fields', () => {
  for (let set = 0; set < 1 << OPTIONAL.length; set++) {
    const fields = OPTIONAL.filter((_, i) => set & (1 << i));
    it(`proto${fields.map((f) => ` + ${f}`).join('')}`, async () => {
      const text = policyText(fields);
      const loaded = loadPolicy('fields.xdpfw', new MemoryHost({ 'fields.xdpfw': text }));
      const checked = checkPolicy(loaded.document!);
      expect(
        checked.diagnostics.filter((d) => d.severity === 'error'),
        text,
      ).toEqual([]);
      const compiled = compileInterfaceWith(checked.ir!.interfaces[0], { classify: 'lbvs' });
      const want = fields.reduce((bits, f) => bits | (1 << FIELD[f]), 1 << FIELD.proto);
      expect(compiled.constants.fields, text).toBe(want);
      const judge = await PolicyJudge.load(compiled);
      try {
        const verdict = (spec: PacketSpec) => judge.judge(buildFrame(spec));
        expect(verdict(TCP_HIT), text).toMatchObject({ action: 'allow', matched: 0 });
        for (const f of fields) {
          if (f === 'icmptype') {
            expect(verdict(ECHO_REQUEST), text).toMatchObject({ action: 'allow', matched: 1 });
            expect(verdict({ ...ECHO_REQUEST, icmpType: 0 }), `${text}: echo reply`).toMatchObject({ matched: 'default' });
          } else {
            expect(verdict({ ...TCP_HIT, ...TCP_MATCH[f].miss }), `${text}: other ${f}`).toMatchObject({ matched: 'default' });
          }
        }
      } finally {
        judge.close();
      }
    });
  }
});
