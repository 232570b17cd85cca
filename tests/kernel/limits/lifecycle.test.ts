/**
 * The meter table's and the dynamic sets' life through the command line:
 * pinned with the first policy that needs them, kept with their contents
 * and their size by later ones (which are told so), removed when the last
 * policy using them goes, by an apply or by detach.
 */
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { addToSet, limitsDir, listSet, setsDir } from '../../../src/xdp/index.js';
import { scratchDir } from '../../support/scratch.js';
import { skipWithoutRoot } from '../xdp/helpers/env.js';
import { cliNamespace, xdpfwIn } from '../cli/netns-cli.js';

const LIMITED = (head = '') =>
  `${head}set banned dynamic timeout 10m size 1000\n` +
  'interface veth0 {\n  default allow\n  drop src @banned\n  drop udp dport 9 limit rate over 10/second ban @banned\n}\n';
const PLAIN = 'interface veth0 {\n  default allow\n  drop udp dport 9\n}\n';

describe.skipIf(skipWithoutRoot('meter and set life'))('the meter table and dynamic sets through apply and detach', () => {
  const { ns, key } = cliNamespace('limlife');
  const dir = scratchDir('xdpfw-limlife-');
  const file = path.join(dir, 'p.xdpfw');
  let buckets = '';
  let banned = '';
  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);
  const apply = async (text: string) => {
    fs.writeFileSync(file, text);
    const r = await xdpfw('apply', file);
    expect(r.code, r.stderr).toBe(0);
    return r;
  };

  beforeAll(() => {
    buckets = path.join(limitsDir({ netnsId: key() }), 'buckets');
    banned = path.join(setsDir({ netnsId: key() }), 'banned');
  }, 120_000);
  afterAll(async () => {
    await xdpfw('detach');
  });

  it('pins both with the first policy, keeps contents and sizes, and removes them with the last', async () => {
    await apply(LIMITED());
    expect(fs.existsSync(buckets)).toBe(true);
    expect(fs.existsSync(banned)).toBe(true);
    addToSet('banned', ['192.0.2.7'], { netnsId: key() });

    const resized = await apply(LIMITED('limits { size 4096 }\n').replace('size 1000', 'size 50'));
    expect(resized.stderr).toContain('veth0: note: the meter table keeps its 65536 buckets (the policy asks for 4096)');
    expect(resized.stderr).toContain('veth0: note: the dynamic set banned keeps its 1000 entries (the policy asks for 50)');
    expect(listSet('banned', { netnsId: key() }).map((e) => e.prefix)).toEqual(['192.0.2.7/32']);

    await apply(PLAIN);
    expect(fs.existsSync(buckets)).toBe(false);
    expect(fs.existsSync(banned)).toBe(false);

    await apply(LIMITED());
    expect(listSet('banned', { netnsId: key() })).toEqual([]);
    const detached = await xdpfw('detach');
    expect(detached.code, detached.stderr).toBe(0);
    expect(fs.existsSync(buckets)).toBe(false);
    expect(fs.existsSync(banned)).toBe(false);
  });

  it('keeps a set while a rule still names it; the meter table goes with the last limit', async () => {
    await apply(LIMITED());
    await apply(LIMITED().replace('drop udp dport 9 limit rate over 10/second ban @banned\n', ''));
    expect(fs.existsSync(banned)).toBe(true);
    expect(fs.existsSync(buckets)).toBe(false);
    const detached = await xdpfw('detach');
    expect(detached.code, detached.stderr).toBe(0);
    expect(fs.existsSync(banned)).toBe(false);
  });
});
