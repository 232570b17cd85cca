/*
 * `xdpfw import iptables` against the real thing: each dump is loaded into
 * iptables-legacy in a network namespace, frames are sent at it, and each
 * frame's verdict, read from the kernel's rule counters (verdict-probe.py),
 * must be the verdict of the imported policy under the reference evaluator
 * (tests/support/reference-evaluator.ts, the oracle of the compiler's own
 * differential tests) for the same packet on the same interface.
 *
 * Both the dump as written and the dump as iptables-legacy-save writes it
 * back are imported: the second is what an operator feeds the importer (one
 * rule per address of a list, numbers for names, REJECT's default option).
 *
 * Connection state: the dumps do match on --ctstate and --state, and the
 * state is made predictable rather than kept out. The connection table is
 * flushed before every frame and the receiver's own packets never reach
 * conntrack, so each frame is the first of its connection; with
 * nf_conntrack_tcp_loose=0 conntrack calls it NEW only when it could open
 * one — a TCP segment with SYN and none of ACK, RST, FIN; an ICMP echo,
 * timestamp, information or address-mask request; any UDP datagram — and
 * INVALID otherwise (nothing is ESTABLISHED or RELATED). The reference
 * evaluator is given that state.
 */
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseIptablesSave } from '../../../src/import/iptables-save.js';
import { translateIptables, type Translation } from '../../../src/import/iptables-translate.js';
import { sourceKeysFromText, verifyTranslation } from '../../../src/import/verify.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { compileGenerated } from '../../support/compile-generated.js';
import { generateDump, generatePacket } from '../../support/iptables-dumps.js';
import { skipWithoutRoot } from '../../support/kernel.js';
import { Random } from '../../support/random.js';
import { compileText, FILE } from '../../unit/compiler/helpers.js';
import { REPO } from '../xdp/helpers/env.js';
import { firstPacketState, IptablesLab, RECEIVER_IFACE, tallyLine, type KernelDecision } from './iptables-lab.js';

const GENERATED_DUMPS = 60;
const PACKETS_PER_DUMP = 100;
const CORPUS = path.join(REPO, 'tests/fixtures/import/corpus');
const SERVER = path.join(REPO, 'tests/fixtures/import/differential/server.rules');
/** What only inlining refuses (see iptables-dumps.ts): such a dump is replaced by the generator's next. */
const INLINING_REFUSALS = new Set(['import-conjunction']);
const VERDICTS = { ACCEPT: 'allow', DROP: 'drop', REJECT: 'reject' } as const;
function translate(name: string, text: string): Translation {
  const save = parseIptablesSave(text);
  expect(save.errors, `${name} does not parse:\n${text}`).toEqual([]);
  return translateIptables(save, { file: name, interfaces: [RECEIVER_IFACE] });
}

const tally = { dumps: 0, packets: 0, replaced: 0, corpus: 0, proved: 0, disagreements: 0, verdicts: { allow: 0, drop: 0, reject: 0 } };

describe.skipIf(skipWithoutRoot('import/iptables-differential'))('imported iptables dumps decide as iptables-legacy does', () => {
  const lab = new IptablesLab('ipt-diff');
  const started = Date.now();
  beforeAll(() => lab.create(), 60_000);
  afterAll(() => {
    lab.destroy();
    console.log(
      `iptables differential: ${tally.dumps} dumps (${tally.corpus} from the corpus, ${tally.replaced} generated ones replaced; ${tally.proved} translations proved by --verify), ${tallyLine(tally, started)}`,
    );
  });

  /** Restores `text`, sends `packets`, and fails with the dump, policy, packet and both verdicts on any disagreement. */
  async function agree(name: string, text: string, translation: Translation, packets: PacketSpec[]): Promise<void> {
    expect(translation.refusals, `${name} is refused:\n${text}`).toEqual([]);
    const saved = lab.restore(text);
    const resaved = translate(`${name} (as saved)`, saved);
    expect(resaved.refusals, `${name} as iptables-legacy-save writes it is refused:\n${saved}`).toEqual([]);
    const policies = [
      { how: 'as written', policy: translation.policy },
      { how: 'as saved', policy: resaved.policy },
    ].map((p) => ({ ...p, reference: compileGenerated({ text: p.policy, interfaceName: RECEIVER_IFACE }).reference }));
    // The proof must agree with the kernel: each translation equivalent to its dump over the whole header space.
    for (const t of [translation, resaved]) {
      const ir = compileText(t.policy).ir!;
      expect(verifyTranslation(t.program!, ir, sourceKeysFromText(t.policy, FILE)), `${name}\n${t.policy}`).toMatchObject({
        kind: 'equivalent',
      });
      tally.proved++;
    }
    const decisions: KernelDecision[] = await lab.decide(packets);
    const disagreements: string[] = [];
    packets.forEach((packet, k) => {
      const kernel = decisions[k];
      const expected = VERDICTS[kernel.verdict];
      tally.verdicts[expected]++;
      const ctState = firstPacketState(packet);
      for (const { how, policy, reference } of policies) {
        const xdpfw = reference.evaluate({ ...packet, ctState });
        if (xdpfw.action === expected) continue;
        disagreements.push(
          `packet ${JSON.stringify({ ...packet, ctState })}\n` +
            `iptables: ${kernel.verdict} by ${kernel.chain} ${kernel.rule === 'policy' ? 'policy' : `rule ${kernel.rule}`}\n` +
            `xdpfw (dump ${how}): ${xdpfw.action} by rule ${xdpfw.matched}\n` +
            `--- dump ${name}\n${text}--- saved\n${saved}--- policy (${how})\n${policy}`,
        );
      }
    });
    tally.dumps++;
    tally.packets += packets.length;
    tally.disagreements += disagreements.length;
    if (disagreements.length > 0) {
      expect.fail(`${disagreements.length} disagreements on ${name}; the first:\n\n${disagreements.slice(0, 3).join('\n\n')}`);
    }
  }

  it('agrees on a hand-written web and ssh server', async () => {
    const text = fs.readFileSync(SERVER, 'utf8');
    const r = new Random(91);
    await agree(
      'server.rules',
      text,
      translate('server.rules', text),
      Array.from({ length: 400 }, () => generatePacket(r)),
    );
  });

  it(`agrees on ${GENERATED_DUMPS} generated dumps of ${PACKETS_PER_DUMP} packets each`, async () => {
    const r = new Random(20_260);
    for (let k = 0; k < GENERATED_DUMPS; k++) {
      let text = generateDump(r);
      let translation = translate(`generated-${k}.rules`, text);
      while (translation.refusals.length > 0 && translation.refusals.every((d) => INLINING_REFUSALS.has(d.code))) {
        tally.replaced++;
        text = generateDump(r);
        translation = translate(`generated-${k}.rules`, text);
      }
      await agree(
        `generated-${k}.rules`,
        text,
        translation,
        Array.from({ length: PACKETS_PER_DUMP }, () => generatePacket(r)),
      );
    }
  }, 120_000);

  it('agrees on every IPv4 corpus dump the importer translates without refusals or limits', async () => {
    // The lab sends IPv4 frames to iptables-legacy; a limit's verdict depends on the time between frames, which the oracle does not follow.
    const files = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS).filter((f) => f.endsWith('.rules') && !f.endsWith('.v6.rules')) : [];
    const r = new Random(4242);
    for (const file of files.sort()) {
      const text = fs.readFileSync(path.join(CORPUS, file), 'utf8');
      const translation = translate(file, text);
      if (translation.refusals.length > 0 || / limit rate | @\S+ /.test(translation.policy)) continue;
      tally.corpus++;
      await agree(
        file,
        text,
        translation,
        Array.from({ length: 200 }, () => generatePacket(r)),
      );
    }
    console.log(`iptables differential: ${tally.corpus} of ${files.length} corpus dumps run (the others have refusals, limits or sets)`);
  }, 60_000);
});
