import { afterAll, describe, expect, it } from 'vitest';

import type { LpmEntry } from '../../../src/compiler/output.js';
import { TestRunner, loadPolicyProgram, type FillProgress, type LoadedProgram } from '../../../src/xdp/index.js';
import { fixtureObject, skipWithoutRoot } from './helpers/env.js';
import { compileMini, ipv4Frame } from './helpers/policy.js';

const DROP = 1;
const PASS = 2;
const N = 100_000;

/** N distinct /32s in 1.0.0.0/8, all in the class of that /8 (rule 0). */
function hostEntries(classId: number): LpmEntry[] {
  const out: LpmEntry[] = [];
  for (let i = 0; i < N; i++) {
    const bytes = [1, (i >> 16) & 255, (i >> 8) & 255, i & 255];
    out.push({ bytes, prefixLength: 32, text: `${bytes.join('.')}/32`, classId });
  }
  return out;
}

describe.skipIf(skipWithoutRoot('xdp map fill tests'))('filling maps', () => {
  const open: LoadedProgram[] = [];
  afterAll(() => open.forEach((p) => p.close()));

  it(`fills an LPM trie with ${N.toLocaleString('en')} prefixes by batch, reporting progress`, async () => {
    const base = compileMini([{ action: 'drop', src: [[1, 0, 0, 0, 8]] }], 'allow');
    const slash8 = base.src4.classId[base.src4.prefixLength.indexOf(8)];
    const compiled = compileMini([{ action: 'drop', src: [[1, 0, 0, 0, 8]] }], 'allow', {
      extraSrc: hostEntries(slash8),
    });
    const progress: FillProgress[] = [];
    const t0 = performance.now();
    const p = await loadPolicyProgram(compiled, { objectPath: fixtureObject('mini'), onProgress: (x) => progress.push(x) });
    const total = performance.now() - t0;
    open.push(p);

    const src4 = p.fill.maps.find((m) => m.name === 'xdpfw_src4')!;
    expect(src4.entries).toBe(N + 2);
    console.log(`LPM fill: ${src4.entries} entries by ${src4.method}; whole load (open, verify, fill): ${total.toFixed(0)} ms`);
    for (const m of p.fill.maps) console.log(`  ${m.name}: ${m.entries} (${m.method})`);

    expect(progress.length).toBeGreaterThan(3);
    expect(progress.at(-1)!.doneAll).toBe(progress.at(-1)!.totalAll);
    for (let i = 1; i < progress.length; i++) expect(progress[i].doneAll).toBeGreaterThan(progress[i - 1].doneAll);

    const runner = new TestRunner(p.progFd);
    expect(runner.run(ipv4Frame({ src: [1, 1, 134, 159], proto: 6 }))).toBe(DROP); // entry 99,999
    expect(runner.run(ipv4Frame({ src: [1, 200, 0, 1], proto: 6 }))).toBe(DROP); // only the /8
    expect(runner.run(ipv4Frame({ src: [2, 0, 0, 1], proto: 6 }))).toBe(PASS);
  });

  it('fills the actions and 64-word vectors of 4,096 rules', async () => {
    const rules = Array.from({ length: 4096 }, (_, i) => ({
      action: 'drop' as const,
      src: [[10, (i >> 8) & 255, i & 255, 0, 24] as [number, number, number, number, number]],
    }));
    const compiled = compileMini(rules, 'allow');
    expect(compiled.constants.nwords).toBe(64);
    const p = await loadPolicyProgram(compiled, { objectPath: fixtureObject('mini') });
    open.push(p);
    const vectors = p.fill.maps.find((m) => m.name === 'xdpfw_vectors')!;
    console.log(`vectors: ${vectors.entries} × 512 B (${vectors.method})`);
    expect(new TestRunner(p.progFd).run(ipv4Frame({ src: [10, 15, 255, 1], proto: 6 }))).toBe(DROP);
    expect(new TestRunner(p.progFd).run(ipv4Frame({ src: [10, 16, 0, 1], proto: 6 }))).toBe(PASS);
  });

  it('test-runs a packet in about 2 µs from Node', async () => {
    const p = await loadPolicyProgram(compileMini([{ action: 'allow', proto: 6, dport: [80, 80] }], 'drop'), {
      objectPath: fixtureObject('mini'),
    });
    open.push(p);
    const ports = p.fill.maps.find((m) => m.name === 'xdpfw_dport_cls')!;
    console.log(`port classes: ${ports.entries} (${ports.method})`);
    const runner = new TestRunner(p.progFd);
    const frames = Array.from({ length: 256 }, (_, i) => ipv4Frame({ src: [192, 0, 2, i], proto: 6, dport: 80 + (i & 1) }));
    for (let i = 0; i < 2000; i++) runner.run(frames[i & 255]); // warm up
    const calls = 200_000;
    const t0 = process.hrtime.bigint();
    let passed = 0;
    for (let i = 0; i < calls; i++) if (runner.run(frames[i & 255]) === PASS) passed++;
    const us = Number(process.hrtime.bigint() - t0) / 1000 / calls;
    const inKernel = runner.timed(frames[0], 100_000);
    console.log(`test-run: ${us.toFixed(2)} µs/call from Node over ${calls} calls; in-kernel ${inKernel.durationNs} ns/run`);
    expect(passed).toBe(calls / 2);
    expect(us).toBeLessThan(20); // a loose bound: the machine is shared
  });
});
