/*
 * `xdpfw import nft` against the real thing: each ruleset is loaded by nft
 * in a network namespace (iptables-lab.ts, with both families' local
 * addresses), IPv4 and IPv6 frames are sent at it, and each frame's
 * verdict, read from the kernel's rule counters (verdict-probe.py --nft),
 * must be the verdict of the imported policy under the reference evaluator
 * for the same packet on the same interface.
 *
 * nft has no counter on a chain's policy, and a rule that matched need not
 * have decided (a jump, a verdict map without the key), so every rule is
 * given a `counter` just before its last statement: a counter that moved
 * says the rule's matches held. The verdict is then the walk of the chains
 * through the rules whose counters moved, falling off the base chain to its
 * policy; every moved counter must lie on that walk. A table of its own,
 * on the input hook before filter, counts the conntrack state the frame
 * arrived with (and tells the probe that the frame has arrived).
 *
 * Both the ruleset as generated (or, for the text fixture, as nft lists
 * it) and as nft lists it back with the counters are imported.
 *
 * Connection state is made predictable as in the iptables test: the
 * connection table is flushed before each frame, nf_conntrack_tcp_loose=0,
 * so each frame is NEW when it could open a connection and INVALID
 * otherwise (firstPacketState); the observed state must be that one.
 */
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseNftJson } from '../../../src/import/nft-json.js';
import { translateNft } from '../../../src/import/nft-translate.js';
import type { Translation } from '../../../src/import/iptables-translate.js';
import type { PacketSpec } from '../../../src/packet/spec.js';
import { compileGenerated } from '../../support/compile-generated.js';
import { generateNftPacket, generateNftRuleset, nftJson } from '../../support/nft-rulesets.js';
import { skipWithoutRoot } from '../../support/kernel.js';
import { Random } from '../../support/random.js';
import { REPO } from '../xdp/helpers/env.js';
import { firstPacketState, IptablesLab, RECEIVER_IFACE, tallyLine, type NftCounts } from './iptables-lab.js';

const GENERATED_RULESETS = 45;
const PACKETS_PER_RULESET = 90;
/** What only inlining refuses (a negated address conjoined with a prefix inside it): such a ruleset is replaced by the generator's next. */
const INLINING_REFUSALS = new Set(['import-conjunction']);
const SERVER = path.join(REPO, 'tests/fixtures/import/nft/server.nft');
const MARKER = 'xdpfw_probe';
const STATE_TABLE = `table inet ${MARKER} {
  chain state {
    type filter hook input priority -10; policy accept;
    ct state new counter
    ct state invalid counter
    ct state established counter
    ct state related counter
    ct state untracked counter
  }
}
`;
const VERDICTS = { accept: 'allow', drop: 'drop', reject: 'reject' } as const;
type Verdict = keyof typeof VERDICTS;

type Json = Record<string, unknown>;
interface Chain {
  policy?: Verdict;
  rules: { key: string; expr: Json[] }[];
}

const objectsOf = (json: string) => (JSON.parse(json) as { nftables: Json[] }).nftables;
const kindOf = (o: Json) => Object.keys(o)[0];
const MATCHES = new Set(['match']);

/** The listing without handles (nft would take a rule's for a position), with a counter before each rule's last statement if `counters`. */
function loadable(listing: string, counters: boolean): string {
  const objects = objectsOf(listing)
    .filter((o) => kindOf(o) !== 'metainfo')
    .map((o) => {
      const { handle: _handle, ...body } = o[kindOf(o)] as Json;
      if (kindOf(o) !== 'rule' || !counters) return { [kindOf(o)]: body };
      const expr = (body.expr as Json[]).filter((e) => kindOf(e) !== 'counter');
      const at = MATCHES.has(kindOf(expr.at(-1)!)) ? expr.length : expr.length - 1;
      return { rule: { ...body, expr: [...expr.slice(0, at), { counter: null }, ...expr.slice(at)] } };
    });
  return JSON.stringify({ nftables: objects });
}

/** The chains of table inet filter in a listing, rules keyed as verdict-probe.py keys counters. */
function chainsOf(listing: string): { chains: Map<string, Chain>; base: string } {
  const chains = new Map<string, Chain>();
  let base = '';
  for (const o of objectsOf(listing)) {
    const body = o[kindOf(o)] as Json;
    if (body.table !== 'filter') continue;
    if (kindOf(o) === 'chain') {
      chains.set(body.name as string, { policy: body.policy as Verdict | undefined, rules: [] });
      if (body.hook === 'input') base = body.name as string;
    }
    if (kindOf(o) === 'rule')
      chains.get(body.chain as string)!.rules.push({ key: `inet filter ${body.chain} ${body.handle}`, expr: body.expr as Json[] });
  }
  return { chains, base };
}

/** nft's verdict by the counters a frame moved; throws when a moved counter is off the walk. */
function kernelVerdict(
  listing: { chains: Map<string, Chain>; base: string },
  moved: NftCounts,
  state: string,
): { verdict: Verdict; path: string[] } {
  const path: string[] = [];
  const apply = (statement: Json): Verdict | 'return' | undefined => {
    const kind = kindOf(statement);
    if (kind in VERDICTS) return kind as Verdict;
    if (kind === 'return') return 'return';
    const target = (statement[kind] as { target?: string } | null)?.target;
    if (kind === 'jump') {
      const inner = walk(target!);
      return inner === 'return' ? undefined : inner;
    }
    if (kind === 'goto') return walk(target!);
    if (kind === 'vmap') {
      const elements = ((statement.vmap as Json).data as { set: [unknown, Json][] }).set;
      const hit = elements.find(([key]) => (Array.isArray(key) ? key : [key]).includes(state));
      return hit ? apply(hit[1]) : undefined;
    }
    return undefined;
  };
  const walk = (name: string): Verdict | 'return' => {
    for (const rule of listing.chains.get(name)!.rules) {
      if (!moved[rule.key]) continue;
      path.push(rule.key);
      const decided = apply(rule.expr.at(-1)!);
      if (decided) return decided;
    }
    return 'return';
  };
  const decided = walk(listing.base);
  const verdict = decided === 'return' ? listing.chains.get(listing.base)!.policy! : decided;
  // a chain jumped to twice passes its rules twice: each counter moves as often as the walk passes it
  const passes = (key: string) => path.filter((k) => k === key).length;
  const keys = new Set([...path, ...Object.keys(moved).filter((k) => k.startsWith('inet filter '))]);
  if ([...keys].some((k) => moved[k] !== passes(k))) {
    throw new Error(`counters moved off the walk: moved ${JSON.stringify(moved)}, walked ${path.join(', ')}`);
  }
  return { verdict, path };
}

function translate(name: string, json: string): Translation {
  const read = parseNftJson(json);
  expect(read.errors, `${name} does not parse:\n${json}`).toEqual([]);
  return translateNft(read.ruleset!, { file: name, interfaces: [RECEIVER_IFACE] });
}

const tally = { rulesets: 0, packets: 0, replaced: 0, disagreements: 0, verdicts: { allow: 0, drop: 0, reject: 0 } };

describe.skipIf(skipWithoutRoot('import/nft-differential'))('imported nft rulesets decide as nftables does', () => {
  const lab = new IptablesLab('nft-diff', MARKER);
  const started = Date.now();
  beforeAll(() => lab.create(), 60_000);
  afterAll(() => {
    lab.destroy();
    console.log(`nft differential: ${tally.rulesets} rulesets (${tally.replaced} generated ones replaced), ${tallyLine(tally, started)}`);
  });

  /** Loads `source` (JSON or text), sends `packets`, and fails with the ruleset, policy, packet and both verdicts on any disagreement. */
  async function agree(name: string, source: string, packets: PacketSpec[]): Promise<void> {
    lab.nft(['flush', 'ruleset']);
    const json = source.trimStart().startsWith('{');
    if (json) lab.nft(['-j'], loadable(source, false));
    else lab.nft([], source);
    const listed = lab.nft(['-j', 'list', 'ruleset']);
    lab.nft(['flush', 'ruleset']);
    // a generated ruleset gets its counters as written: nft 1.0.6 lists an inet `icmp … reject` as
    // `reject with icmpv6 port-unreachable`, which it then refuses to load ("conflicting protocols")
    lab.nft(['-j'], loadable(json ? source : listed, true));
    const counted = lab.nft(['-j', 'list', 'ruleset']);
    lab.nft([], STATE_TABLE);
    const written = json ? source : listed;
    const policies = [
      { how: 'as written', translation: translate(name, written) },
      { how: 'as listed with counters', translation: translate(`${name} (counted)`, counted) },
    ].map(({ how, translation }) => {
      expect(translation.refusals, `${name} ${how} is refused:\n${written}`).toEqual([]);
      const { reference } = compileGenerated({ text: translation.policy, interfaceName: RECEIVER_IFACE });
      return { how, policy: translation.policy, reference };
    });
    const chains = chainsOf(counted);
    const states = new Map(
      objectsOf(lab.nft(['-j', 'list', 'table', 'inet', MARKER]))
        .filter((o) => kindOf(o) === 'rule')
        .map((o) => {
          const rule = o.rule as { handle: number; expr: { match?: { right: string } }[] };
          return [`inet ${MARKER} state ${rule.handle}`, rule.expr[0].match!.right];
        }),
    );
    const counts = await lab.countNft(packets);
    const disagreements: string[] = [];
    packets.forEach((packet, k) => {
      const ctState = firstPacketState(packet);
      const observed = Object.keys(counts[k])
        .map((key) => states.get(key))
        .filter((s) => s !== undefined);
      expect(observed, `the conntrack state of ${JSON.stringify(packet)}`).toEqual([ctState]);
      const kernel = kernelVerdict(chains, counts[k], ctState);
      const expected = VERDICTS[kernel.verdict];
      tally.verdicts[expected]++;
      for (const { how, policy, reference } of policies) {
        const xdpfw = reference.evaluate({ ...packet, ctState });
        if (xdpfw.action === expected) continue;
        disagreements.push(
          `packet ${JSON.stringify({ ...packet, ctState })}\n` +
            `nft: ${kernel.verdict} after ${kernel.path.join(' > ') || 'no rule'}\n` +
            `xdpfw (${how}): ${xdpfw.action} by rule ${xdpfw.matched}\n` +
            `--- ruleset ${name}\n${source}\n--- listed with counters\n${counted}\n--- policy (${how})\n${policy}`,
        );
      }
    });
    tally.rulesets++;
    tally.packets += packets.length;
    tally.disagreements += disagreements.length;
    if (disagreements.length > 0) {
      expect.fail(`${disagreements.length} disagreements on ${name}; the first:\n\n${disagreements.slice(0, 3).join('\n\n')}`);
    }
  }

  it('agrees on the hand-written server fixture', async () => {
    const r = new Random(77);
    await agree(
      'server.nft',
      fs.readFileSync(SERVER, 'utf8'),
      Array.from({ length: 400 }, () => generateNftPacket(r)),
    );
  }, 30_000);

  it(`agrees on ${GENERATED_RULESETS} generated rulesets of ${PACKETS_PER_RULESET} packets each`, async () => {
    const r = new Random(31_337);
    for (let k = 0; k < GENERATED_RULESETS; k++) {
      let json = nftJson(generateNftRuleset(r, true));
      const refused = () => translate(`generated-${k}.json`, json).refusals;
      while (refused().length > 0 && refused().every((d) => INLINING_REFUSALS.has(d.code))) {
        tally.replaced++;
        json = nftJson(generateNftRuleset(r, true));
      }
      await agree(
        `generated-${k}.json`,
        json,
        Array.from({ length: PACKETS_PER_RULESET }, () => generateNftPacket(r)),
      );
    }
  }, 120_000);
});
