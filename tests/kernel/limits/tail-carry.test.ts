/**
 * Over-limit and dynamic-set counters kept across `xdpfw apply` of a
 * changed policy, as the rules' packet counters are: a rule's over-limit
 * count by the rule's id whatever its new index, a set's counts by the
 * set's name whatever its new index; a rule that leaves the policy takes
 * its count with it. Real datagrams from the peer namespace; rates of one
 * a minute, so every figure is exact.
 */
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { skipWithoutRoot } from '../xdp/helpers/env.js';
import { applyText, cliNamespace, sendUdpFromPeer, xdpfwIn } from '../cli/netns-cli.js';

const SETS = 'set banned dynamic timeout 10m size 64\nset early dynamic size 16\n';
const ECHO = '  drop udp dport 7 limit rate over 1/minute burst 2 name "echo-limit"\n';
const DAYTIME = '  drop udp dport 13 limit rate over 1/minute burst 1 name "daytime-limit"\n';
const DISCARD = '  drop udp dport 9 limit rate over 1/minute burst 1 ban @banned 30s name "discard-flood"\n';
/** Before the others: moves every rule's index and `banned` from set 0 to set 1. */
const EARLY = '  drop src @early name "early"\n  drop tcp dport 1 name "first"\n';
const policy = (head: string, body: string) =>
  `${SETS}interface veth0 {\n  default allow\n${head}  drop src @banned name "banned"\n${body}}\n`;

interface Stats {
  interfaces: {
    rules: { name: string; index: number; overLimit: number | null }[];
    sets: { name: string; added: number; expired: number; full: number }[];
  }[];
}

describe.skipIf(skipWithoutRoot('tail counter carry'))('over-limit and set counters across xdpfw apply', () => {
  const { ns } = cliNamespace('tailcarry');
  const file = path.join(scratchDir('xdpfw-tailcarry-'), 'p.xdpfw');
  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);
  const stats = async () => {
    const r = await xdpfw('stats', '--json');
    expect(r.code, r.stderr).toBe(0);
    const [iface] = (JSON.parse(r.stdout) as Stats).interfaces;
    return { rules: Object.fromEntries(iface.rules.map((rule) => [rule.name, rule])), sets: iface.sets };
  };

  it('keeps a rule’s over-limit count and a set’s bans exactly when indexes move, and drops a removed rule’s', async () => {
    await applyText(ns, file, policy('', ECHO + DAYTIME + DISCARD));
    sendUdpFromPeer(ns, 7, 5); // burst 2: three over
    sendUdpFromPeer(ns, 13, 3); // burst 1: two over
    sendUdpFromPeer(ns, 9, 2); // burst 1: the second is over and bans 10.99.0.2
    const first = await stats();
    expect(first.rules['echo-limit']).toMatchObject({ index: 1, overLimit: 3 });
    expect(first.rules['daytime-limit']).toMatchObject({ overLimit: 2 });
    expect(first.rules['discard-flood']).toMatchObject({ overLimit: 1 });
    expect(first.sets).toEqual([{ name: 'banned', added: 1, expired: 0, full: 0 }]);

    await applyText(ns, file, policy(EARLY, ECHO + DISCARD));
    const carried = await stats();
    expect(carried.rules['echo-limit']).toMatchObject({ index: 3, overLimit: 3 });
    expect(carried.rules['discard-flood']).toMatchObject({ index: 4, overLimit: 1 });
    expect(carried.rules['daytime-limit']).toBeUndefined();
    expect(carried.sets).toEqual([
      { name: 'early', added: 0, expired: 0, full: 0 },
      { name: 'banned', added: 1, expired: 0, full: 0 },
    ]);

    // The new program counts on from the carried figures: the bucket is spent, both are over.
    expect((await xdpfw('set', 'del', 'banned', '10.99.0.2')).code).toBe(0);
    sendUdpFromPeer(ns, 7, 2);
    sendUdpFromPeer(ns, 9, 1); // over again: a second ban
    const counted = await stats();
    expect(counted.rules['echo-limit'].overLimit).toBe(5);
    expect(counted.rules['discard-flood'].overLimit).toBe(2);
    expect(counted.sets[1]).toEqual({ name: 'banned', added: 2, expired: 0, full: 0 });
    const table = (await xdpfw('stats')).stdout;
    expect(table).toMatch(/ {2}over its limit +5\n/);
    expect(table).toContain('set banned: bans added 2, expired 0, refused (full) 0');

    // A rule back after a policy without it starts again from nothing.
    await applyText(ns, file, policy(EARLY, ECHO + DAYTIME + DISCARD));
    const back = await stats();
    expect(back.rules['daytime-limit'].overLimit).toBe(0);
    expect(back.rules['echo-limit'].overLimit).toBe(5);
    expect((await xdpfw('detach')).code).toBe(0);
  });
});
