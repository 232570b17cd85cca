import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/policy/index.js';
import { MemoryHost } from '../../support/memory-host.js';

/**
 * Golden ASTs: each samples/<name>/ holds input.xdpfw (plus any file it
 * includes or reads a set from); its PolicyDocument must equal expected.json.
 * Run with UPDATE_SNAPSHOTS=1 to rewrite expected.json on purpose.
 */
const samplesDir = join(import.meta.dirname, 'samples');
const update = process.env.UPDATE_SNAPSHOTS === '1';

function filesUnder(dir: string, root = dir): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      for (const [p, text] of filesUnder(path, root)) files.set(p, text);
    } else if (name !== 'expected.json') {
      files.set(relative(root, path).split('\\').join('/'), readFileSync(path, 'utf8'));
    }
  }
  return files;
}

describe('golden policy ASTs', () => {
  for (const sample of readdirSync(samplesDir).sort()) {
    it(`sample '${sample}' parses to the AST in its expected.json`, () => {
      const dir = join(samplesDir, sample);
      const result = loadPolicy('input.xdpfw', new MemoryHost(filesUnder(dir)));
      expect(result.diagnostics).toEqual([]);
      // A set file's entries are typed arrays of positions: shown as plain arrays.
      const actual =
        JSON.stringify(result.document, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Uint32Array) : v), 2) + '\n';
      const expectedPath = join(dir, 'expected.json');
      if (update) writeFileSync(expectedPath, actual);
      expect(existsSync(expectedPath), `${expectedPath} is missing: run with UPDATE_SNAPSHOTS=1`).toBe(true);
      expect(actual).toBe(readFileSync(expectedPath, 'utf8'));
    });
  }
});
