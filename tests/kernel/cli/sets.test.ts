/**
 * `xdpfw set list|add|del|flush` edit the live set a policy in force names:
 * the next packet from the peer namespace meets the change, with no reload.
 * A ban written by a rule lists that rule; `stats` counts the packets a
 * limit found over its rate and the bans a set took; loader notices reach
 * the user. Every error a user can meet here is checked with its message.
 */

import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { skipWithoutRoot } from '../xdp/helpers/env.js';
import { cliNamespace, sendUdpFromPeer, xdpfwIn } from './netns-cli.js';

const policy = (size: number) => `set banned dynamic timeout 10m size ${size}
set tiny dynamic size 2
interface veth0 {
  default allow
  drop src @banned name "banned"
  drop src @tiny name "tiny"
  drop udp dport 7 limit rate over 1/minute burst 2 name "echo-limit"
  drop udp dport 9 limit rate over 1/minute burst 1 per src/24/64 ban @banned 30s name "discard-flood"
}
`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.skipIf(skipWithoutRoot('xdpfw set'))('xdpfw set on a live policy', () => {
  const { ns } = cliNamespace('sets');
  const dir = scratchDir('xdpfw-sets-');
  const file = path.join(dir, 'p.xdpfw');
  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);

  const sendUdp = (port: number, count: number) => sendUdpFromPeer(ns, port, count);

  beforeAll(() => fs.writeFileSync(file, policy(1024)));

  it('refuses a set while no policy in force uses one', async () => {
    const r = await xdpfw('set', 'list', 'banned');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[unknown-set]: no policy in force in this network namespace uses a dynamic set (asked for banned)');
    expect(r.stderr).toContain("hint: declare it with 'set banned dynamic' in a policy and apply it");
  });

  it('apply tells that a kept set keeps its size', async () => {
    expect((await xdpfw('apply', file, '--mode', 'generic')).code).toBe(0);
    fs.writeFileSync(file, policy(2048));
    const r = await xdpfw('apply', file, '--mode', 'generic');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('veth0: note: the dynamic set banned keeps its 1024 entries (the policy asks for 2048)');
  });

  it('set add blocks an address on the next packet and set del lets it in again', async () => {
    expect(ns.pingFromPeer()).toBe(true);
    const added = await xdpfw('set', 'add', 'banned', '10.99.0.2', '2001:db8::/48');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe('banned: added 2 entries (for 10m)\n');
    expect(ns.pingFromPeer()).toBe(false);
    const listed = JSON.parse((await xdpfw('set', 'list', 'banned', '--json')).stdout) as { entries: unknown[] };
    expect(listed).toMatchObject({ set: 'banned', size: 1024, timeout: 600, interfaces: ['veth0'] });
    expect(listed.entries).toEqual([
      { prefix: '10.99.0.2/32', secondsLeft: expect.closeTo(598, -1), origin: 0, addedBy: 'user', rule: null },
      { prefix: '2001:db8::/48', secondsLeft: expect.closeTo(598, -1), origin: 0, addedBy: 'user', rule: null },
    ]);
    const deleted = await xdpfw('set', 'del', 'banned', '10.99.0.2', '192.0.2.1');
    expect(deleted.stdout).toBe('banned: deleted 1 of 2 (1 not in the set)\n');
    expect(ns.pingFromPeer()).toBe(true);
  });

  it('an entry added with --timeout stops blocking once it expires', async () => {
    const added = await xdpfw('set', 'add', 'banned', '10.99.0.0/24', '--timeout', '2s');
    const addedAt = Date.now();
    expect(added.stdout).toBe('banned: added 1 entry (for 2s)\n');
    expect(ns.pingFromPeer()).toBe(false);
    await sleep(Math.max(0, addedAt + 2200 - Date.now()));
    expect(ns.pingFromPeer(), (await xdpfw('set', 'list', 'banned')).stdout).toBe(true);
    expect((await xdpfw('set', 'list', 'banned')).stdout).toMatch(/^2001:db8::\/48 +\d+m \d+s +xdpfw set add\nbanned: 1 of 1,024 entries/);
  });

  it('set list names the rule whose ban wrote an entry; stats counts the over-limit packets and the ban', async () => {
    sendUdp(7, 5); // burst 2: three over the limit
    sendUdp(9, 3); // burst 1: the second is over and bans 10.99.0.0/24, the third meets the ban
    const listed = JSON.parse((await xdpfw('set', 'list', 'banned', '--json')).stdout) as { entries: { prefix: string }[] };
    const ban = listed.entries.find((e) => e.prefix === '10.99.0.0/24');
    expect(ban).toMatchObject({
      secondsLeft: expect.closeTo(28, -1),
      addedBy: 'rule',
      rule: { interface: 'veth0', name: 'discard-flood', index: 3, file, line: 8, col: 3 },
    });
    const human = (await xdpfw('set', 'list', 'banned')).stdout;
    expect(human).toMatch(new RegExp(`^10\\.99\\.0\\.0/24 +\\d+s +veth0: discard-flood \\(${file}:8\\)$`, 'm'));

    const stats = JSON.parse((await xdpfw('stats', '--json')).stdout) as {
      interfaces: { rules: { name: string; packets: number; overLimit: number | null }[]; sets: unknown[] }[];
      dynamicSets: unknown[];
    };
    const rules = Object.fromEntries(stats.interfaces[0].rules.map((r) => [r.name, r]));
    expect(rules['echo-limit']).toMatchObject({ packets: 3, overLimit: 3 });
    expect(rules['discard-flood']).toMatchObject({ packets: 1, overLimit: 1 });
    expect(rules['banned'].overLimit).toBeNull();
    expect(stats.interfaces[0].sets).toEqual([
      // expired: the ping that found the --timeout entry expired deleted it.
      { name: 'banned', added: 1, expired: 1, full: 0 },
      { name: 'tiny', added: 0, expired: 0, full: 0 },
    ]);
    expect(stats.dynamicSets).toContainEqual({ name: 'banned', size: 1024, timeout: 600, entries: 2, interfaces: ['veth0'] });
    const table = (await xdpfw('stats')).stdout;
    expect(table).toMatch(/ {2}over its limit +3\n/);
    expect(table).toContain('set banned: bans added 1, expired 1, refused (full) 0');
    expect(table).toContain('dynamic set banned: 2 of 1,024 entries live (used by veth0)');
  });

  it('set flush empties the set and the banned peer gets through', async () => {
    expect(ns.pingFromPeer()).toBe(false);
    expect((await xdpfw('set', 'flush', 'banned', '--json')).stdout).toBe('{\n  "set": "banned",\n  "deleted": 2\n}\n');
    expect(ns.pingFromPeer()).toBe(true);
  });

  it('names the set it does not know, the address that is not one, the bad timeout and the full set', async () => {
    const unknown = await xdpfw('set', 'add', 'nope', '192.0.2.1', '--json');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('error[unknown-set]: no policy in force in this network namespace uses a dynamic set nope');
    expect(unknown.stderr).toContain('hint: the dynamic sets in use: banned, tiny');
    expect(JSON.parse(unknown.stdout)).toMatchObject({ error: { code: 'unknown-set' } });

    const address = await xdpfw('set', 'del', 'banned', '192.0.2.300');
    expect(address.code).toBe(2);
    expect(address.stderr).toContain('error[invalid-prefix]: "192.0.2.300" is not an IP address or prefix');

    const timeout = await xdpfw('set', 'add', 'banned', '192.0.2.1', '--timeout', '0s');
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain("error[bad-timeout]: --timeout: '0s' is zero: a duration is at least 1s");
    const words = await xdpfw('set', 'add', 'banned', '192.0.2.1', '--timeout', 'soon');
    expect(words.stderr).toContain("error[bad-timeout]: --timeout: 'soon' is not a duration");

    const full = await xdpfw('set', 'add', 'tiny', '192.0.2.1', '192.0.2.2', '192.0.2.3');
    expect(full.code).toBe(3);
    expect(full.stderr).toContain('error[set-full]: dynamic set tiny is full: 2 of 3 prefixes were added');
  });

  it("xdpfw test judges a file's packets in order against fresh tables, with the clock stopped", async () => {
    const cases = path.join(dir, 'cases');
    const flood = 'udp 198.51.100.1:4000 > 10.99.0.1:9';
    fs.writeFileSync(
      cases,
      `${flood} => allow\n${flood} => drop discard-flood\n${flood} => drop banned\nudp 203.0.113.1:4000 > 10.99.0.1:9 => allow\n`,
    );
    for (let run = 0; run < 2; run++) {
      // The same outcome each time: nothing of the live sets or of an earlier run is seen.
      const r = await xdpfw('test', file, '--cases', cases);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toContain('4 passed, 0 failed');
    }
  });
});
