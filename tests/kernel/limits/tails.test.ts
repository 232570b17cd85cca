/**
 * Rule tails in the kernel, packet by packet through BPF_PROG_TEST_RUN with
 * the clock given (cfg_now_given): token buckets, falling through to the
 * next rule, per-prefix meters, bans into a dynamic set and their expiry,
 * a full set, live set edits, and tables kept across a reload, on the
 * policy of compiled() below (rules 0–4).
 */
import fs from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { buildFrame } from '../../../src/packet/build.js';
import { addToSet, deleteFromSet, flushSet, listSet, setsDir } from '../../../src/xdp/dynsets.js';
import { PolicyJudge } from '../../../src/xdp/judge.js';
import { ensureBpffs } from '../../../src/xdp/pins.js';
import { loadPolicyProgram } from '../../../src/xdp/index.js';
import { compileInterfaceText, skipWithoutRoot } from '../../support/kernel.js';
import { fnv1a32 } from '../../../src/compiler/passes/lower-tail.js';
import { limit, removeTailTables, tail, testPins } from './policy.js';

const SECOND = 1_000_000_000n;
const T0 = 1000n * SECOND;
const FLOOD_ORIGIN = fnv1a32('eth0\0flood');

function compiled(o: { rate3?: number; setSize?: number } = {}) {
  return compileInterfaceText(`set blocked dynamic timeout 60s size ${o.setSize ?? 16}
interface eth0 {
  default drop
  drop udp dport 53 src @blocked
  drop udp dport 53 limit rate over 10/second per src/24/64 ban @blocked 60s name "flood"
  allow udp dport 53
  allow udp dport 54 limit rate ${o.rate3 ?? 3}/second name "dns"
  allow udp
}`);
}

const udp = (src: string, dport: number) =>
  buildFrame({
    family: src.includes(':') ? 6 : 4,
    protocol: 17,
    src,
    dst: src.includes(':') ? '2001:db8::53' : '192.0.2.53',
    sport: 5353,
    dport,
  });

describe.skipIf(skipWithoutRoot('rule tails'))('rate limits and dynamic sets, packet by packet', () => {
  const pins = testPins('tails');
  const judges: PolicyJudge[] = [];
  const load = async (o: Parameters<typeof compiled>[0] = {}) => {
    ensureBpffs();
    const judge = await PolicyJudge.load(compiled(o), { pins, nowGiven: true });
    judges.push(judge);
    return judge;
  };
  const rules = (judge: PolicyJudge, at: bigint, src: string, dport: number, n: number) => {
    judge.setNow(at);
    return Array.from({ length: n }, () => judge.judge(udp(src, dport)).matched);
  };
  afterEach(() => {
    for (const j of judges.splice(0)) j.close();
    removeTailTables(pins);
  });

  it('a bucket starts full with its burst, refills by cost, rounded down, and a failing limit falls through', async () => {
    const judge = await load();
    const cost = SECOND / 3n; // 333,333,333 ns
    expect(rules(judge, T0, '10.0.0.1', 54, 6)).toEqual([3, 3, 3, 3, 3, 4]);
    expect(rules(judge, T0 + cost - 1n, '10.0.0.1', 54, 1)).toEqual([4]);
    expect(rules(judge, T0 + cost, '10.0.0.1', 54, 2)).toEqual([3, 4]);
    // Idle far longer than the burst takes: the bucket holds the burst, no more.
    expect(rules(judge, T0 + 100n * SECOND, '10.0.0.1', 54, 6)).toEqual([3, 3, 3, 3, 3, 4]);
    expect(judge.limitOver()[3]).toBe(4n);
  });

  it('over holds once the source /24 passed its rate, bans the /24, and the set rule drops it until the deadline', async () => {
    const judge = await load();
    // .7 and .99 share the /24's bucket: 5 tokens between them, then over.
    expect(rules(judge, T0, '198.51.100.7', 53, 3)).toEqual([2, 2, 2]);
    expect(rules(judge, T0, '198.51.100.99', 53, 3)).toEqual([2, 2, 1]);
    expect(judge.setStats()[0]).toEqual({ added: 1n, full: 0n, expired: 0n });
    // Another /24 has its own bucket.
    expect(rules(judge, T0, '198.51.101.7', 53, 1)).toEqual([2]);
    // Banned: dropped by the set rule even when it slows down.
    expect(rules(judge, T0 + 30n * SECOND, '198.51.100.200', 53, 1)).toEqual([0]);
    expect(listSet('blocked', { ...pins, nowNs: T0 + 30n * SECOND })).toEqual([
      { prefix: '198.51.100.0/24', secondsLeft: 30, origin: FLOOD_ORIGIN },
    ]);
    // Past the deadline the entry is deleted by the lookup that finds it, and the source is let in.
    expect(rules(judge, T0 + 60n * SECOND, '198.51.100.7', 53, 1)).toEqual([2]);
    expect(judge.setStats()[0].expired).toBe(1n);
    expect(listSet('blocked', { ...pins, nowNs: T0 + 60n * SECOND })).toEqual([]);
  });

  it('IPv6 sources share a bucket per /64', async () => {
    const judge = await load();
    expect(rules(judge, T0, '2001:db8:1:2::1', 53, 3)).toEqual([2, 2, 2]);
    expect(rules(judge, T0, '2001:db8:1:2::ffff', 53, 3)).toEqual([2, 2, 1]);
    expect(rules(judge, T0, '2001:db8:1:3::1', 53, 1)).toEqual([2]);
    expect(listSet('blocked', { ...pins, nowNs: T0 }).map((e) => e.prefix)).toEqual(['2001:db8:1:2::/64']);
  });

  it('a full set refuses a new ban and keeps its live entries', async () => {
    const judge = await load({ setSize: 2 });
    for (const net of ['198.51.100', '198.51.101', '198.51.102']) rules(judge, T0, `${net}.1`, 53, 6);
    expect(judge.setStats()[0]).toEqual({ added: 2n, full: 1n, expired: 0n });
    expect(rules(judge, T0 + SECOND, '198.51.100.1', 53, 1)).toEqual([0]);
    expect(rules(judge, T0 + SECOND, '198.51.101.1', 53, 1)).toEqual([0]);
    expect(rules(judge, T0, '198.51.102.1', 53, 1)).toEqual([1]); // still over, not banned
  });

  it('keeps whole addresses and shorter prefixes apart, each up to the size of the set', async () => {
    const judge = await load({ setSize: 2 });
    const at = { ...pins, seconds: 60, nowNs: T0 };
    expect(addToSet('blocked', ['192.0.2.1', '2001:db8::1', '10.0.0.0/8', '2001:db8::/32'], at)).toBe(4);
    expect(fs.readdirSync(path.join(setsDir(pins), 'blocked')).sort()).toEqual(['hosts', 'prefixes']);
    for (const more of ['192.0.2.2', '192.0.3.0/24']) {
      expect(() => addToSet('blocked', [more], at)).toThrow(
        expect.objectContaining({ code: 'set-full', message: 'dynamic set blocked is full: 0 of 1 prefixes were added' }),
      );
    }
    expect(rules(judge, T0, '192.0.2.1', 53, 1)).toEqual([0]);
    expect(rules(judge, T0, '10.9.9.9', 53, 1)).toEqual([0]);
    expect(rules(judge, T0, '2001:db8:5::1', 53, 1)).toEqual([0]);
    expect(rules(judge, T0, '192.0.2.2', 53, 1)).toEqual([2]);
  });

  it('set edits apply to the next packet, and an expired longer prefix leaves a shorter live one matching', async () => {
    const judge = await load();
    expect(addToSet('blocked', ['192.0.2.0/24'], { ...pins, seconds: null, nowNs: T0 })).toBe(1);
    expect(addToSet('blocked', ['192.0.2.5'], { ...pins, seconds: 1, nowNs: T0 })).toBe(1);
    expect(rules(judge, T0, '192.0.2.9', 53, 1)).toEqual([0]);
    expect(rules(judge, T0 + 2n * SECOND, '192.0.2.5', 53, 1)).toEqual([0]);
    expect(judge.setStats()[0].expired).toBe(1n);
    expect(listSet('blocked', { ...pins, nowNs: T0 + 2n * SECOND })).toEqual([{ prefix: '192.0.2.0/24', secondsLeft: null, origin: 0 }]);
    expect(deleteFromSet('blocked', ['192.0.2.0/24'], pins)).toBe(1);
    expect(rules(judge, T0 + 2n * SECOND, '192.0.2.9', 53, 1)).toEqual([2]);
    addToSet('blocked', ['192.0.2.0/25', '2001:db8:9::/48'], { ...pins, seconds: 5, nowNs: T0 });
    expect(flushSet('blocked', pins)).toBe(2);
    expect(rules(judge, T0 + 2n * SECOND, '192.0.2.9', 53, 1)).toEqual([2]);
    expect(() => listSet('nosuch', pins)).toThrow(expect.objectContaining({ code: 'unknown-set' }));
  });

  it('a reload keeps buckets and bans, and a changed rate applies to the next packet', async () => {
    const first = await load();
    rules(first, T0, '10.0.0.1', 54, 5); // the bucket is empty
    rules(first, T0, '198.51.100.1', 53, 6); // banned
    const second = await load({ rate3: 1 });
    // Same bucket, now at 1/second: empty at T0, one token a second later.
    expect(rules(second, T0, '10.0.0.1', 54, 1)).toEqual([4]);
    expect(rules(second, T0 + SECOND, '10.0.0.1', 54, 2)).toEqual([3, 4]);
    expect(rules(second, T0 + SECOND, '198.51.100.1', 53, 1)).toEqual([0]);
  });

  it('refuses an interface with tails that the compiler put on the linear path', async () => {
    const linear = compileInterfaceText('interface eth0 { allow udp dport 53 }', { classify: 'linear' });
    expect(linear.constants.linear).not.toBeNull();
    const tailed = { ...linear, tails: [tail({ limit: limit('r', 1, 'second') })], limits: { size: 16 } };
    await expect(loadPolicyProgram(tailed, { privateTables: true })).rejects.toThrow(/linear path/);
  });

  it('adds 10,000 prefixes in one batch (bench:kernel times it)', async () => {
    await load({ setSize: 20000 });
    const prefixes = Array.from({ length: 10000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`);
    expect(addToSet('blocked', prefixes, { ...pins, seconds: 60 })).toBe(10000);
    expect(listSet('blocked', { ...pins, nowNs: T0 })).toHaveLength(10000);
  });

  it('loads and judges `ct state new` with a limit per source: the two stateful matches together', async () => {
    const text =
      'interface eth0 {\n  default drop\n  allow ct state established,related\n' +
      '  allow tcp dport 22 ct state new limit rate 3/minute per src\n}\n';
    ensureBpffs();
    const judge = await PolicyJudge.load(compileInterfaceText(text), { pins, nowGiven: true });
    judges.push(judge);
    const syn = (src: string) => buildFrame({ family: 4, protocol: 6, src, dst: '192.0.2.22', sport: 40000, dport: 22, tcpFlags: 0x02 });
    judge.setNow(T0);
    // burst 5 by default: five SYNs of one source in the same instant, then none until a token comes back
    expect(Array.from({ length: 6 }, () => judge.judge(syn('203.0.113.1')).matched)).toEqual([1, 1, 1, 1, 1, 'default']);
    expect(judge.judge(syn('203.0.113.2')).matched).toBe(1);
    judge.setNow(T0 + 20n * SECOND);
    expect(judge.judge(syn('203.0.113.1')).matched).toBe(1);
    expect(judge.judge(syn('203.0.113.1')).matched).toBe('default');
  });
});
