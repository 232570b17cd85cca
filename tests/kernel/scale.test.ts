/**
 * The sizes the data plane promises: 4,096 rules per interface and sets of a
 * million entries, loaded into the real program and judged correctly at both
 * ends of the set.
 */
import { describe, expect, it } from 'vitest';
import { buildFrame } from '../../src/packet/build.js';
import type { PacketSpec } from '../../src/packet/spec.js';
import { judgePolicy, skipWithoutRoot } from '../support/kernel.js';

const SET_V4 = 1_000_000;
const SET_V6 = 100_000;

/** The i-th IPv4 host of the set: 10.0.0.0/8 and up, one address each. */
const v4 = (i: number) => `${10 + (i >>> 24)}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
const v6 = (i: number) => `2001:db8:${(i >>> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`;

function setFile(): string {
  const lines: string[] = ['# generated: a million IPv4 hosts and a hundred thousand IPv6 /64s'];
  for (let i = 0; i < SET_V4; i++) lines.push(v4(i * 7));
  for (let i = 0; i < SET_V6; i++) lines.push(v6(i));
  return `${lines.join('\n')}\n`;
}

function rules(count: number): string {
  // Rules that never match the probes below, so the probes exercise every word.
  return Array.from({ length: count }, (_, i) => `  allow udp dport ${i + 1} src 192.0.2.${i % 256}`).join('\n');
}

const udp = (src: string): PacketSpec => ({
  family: src.includes(':') ? 6 : 4,
  protocol: 17,
  src,
  dst: src.includes(':') ? '2001:db8::1' : '192.0.2.1',
  sport: 9,
  dport: 9,
});

describe.skipIf(skipWithoutRoot('scale'))('the data plane at its promised sizes', () => {
  it('judges a million-entry IPv4 set and a 100k-entry IPv6 set behind 4,094 other rules', async () => {
    const text = `set huge from "huge.txt"\ninterface xdpfw0 {\n  default allow\n${rules(4094)}\n  drop src @huge name "huge"\n  allow udp dport 9 name "last"\n}\n`;
    const started = Date.now();
    const judge = await judgePolicy(text, { files: { 'huge.txt': setFile() } });
    const seconds = (Date.now() - started) / 1000;
    try {
      expect(judge.compiled.rules).toHaveLength(4096);
      const huge = 4094;
      for (const i of [0, 1, 500_000, SET_V4 - 1]) {
        expect(judge.judge(buildFrame(udp(v4(i * 7)))), v4(i * 7)).toMatchObject({ action: 'drop', matched: huge });
      }
      for (const address of [v4(1), v4(SET_V4 * 7 + 1), '192.0.2.200']) {
        expect(judge.judge(buildFrame(udp(address))), address).toMatchObject({ action: 'allow', matched: 4095 });
      }
      expect(judge.judge(buildFrame(udp('2001:db8:0:0::5'))), 'first /64').toMatchObject({ matched: huge });
      expect(judge.judge(buildFrame(udp(`2001:db8:1:${(SET_V6 - 65537).toString(16)}::9`))), 'last /64').toMatchObject({ matched: huge });
      expect(judge.judge(buildFrame(udp('2001:db8:ffff::1'))), 'outside').toMatchObject({ matched: 4095 });
      console.log(
        `scale: 4,096 rules, ${SET_V4.toLocaleString('en-US')} + ${SET_V6.toLocaleString('en-US')} set entries compiled and loaded in ${seconds.toFixed(1)} s`,
      );
    } finally {
      judge.close();
    }
  }, 120_000);
});
