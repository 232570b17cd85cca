import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ANCHORS, BPF_DIR, buildProbes, probeFile, probeSource, PROBES } from '../../../bench/probes.js';

const sourceOf = (name: string) => fs.readFileSync(path.join(BPF_DIR, probeFile(name)), 'utf8');
const source = sourceOf('as-built');

describe('bench probe builds', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-probes-test-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('as-built is the data plane unchanged; every other probe adds its code once, before its statement', () => {
    expect(probeSource(source, 'as-built')).toBe(source);
    for (const [name, probe] of Object.entries(PROBES)) {
      if (name === 'as-built') continue;
      const text = sourceOf(name);
      const out = probeSource(text, name);
      expect(out.length - text.length, name).toBe(probe.code.length);
      expect(out.split(probe.code + ANCHORS[probe.before ?? 'bitmap'].statement).length, name).toBe(2);
    }
  });

  it('names the probes when asked for an unknown one', () => {
    expect(() => probeSource(source, 'no-such')).toThrow(/unknown probe "no-such"; probes: as-built, no-bitmap, /);
  });

  it('says which statement it could not find when the data plane changed under it', () => {
    const changed = source.replace('\tat = bucket_rank(bkt, rank, addr >> 8);\n', '\tat = 0;\n');
    expect(() => probeSource(changed, 'no-bitmap')).toThrow(
      'bench/probes.ts: "at = bucket_rank(bkt, rank, addr >> 8);" is not once in lib/addr_table.h',
    );
  });

  it('every probe compiles', { timeout: 600_000 }, () => {
    const objects = buildProbes(Object.keys(PROBES), dir);
    for (const o of objects) expect(fs.statSync(o).size).toBeGreaterThan(10_000);
  });
});
