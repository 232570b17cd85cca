import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';

import { afterAll, describe, expect, it } from 'vitest';

import { loadAndCompile } from '../../../src/app/policy-loader.js';
import { CompileLimitError, loadBounded, type BoundedLoadError } from '../../../src/controller/sources/bounded-load.js';
import { FileSource } from '../../../src/controller/sources/file-source.js';
import { memoryLogger } from './fakes.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-bounded-load-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const EDGE = path.resolve('policies/edge.xdpfw');
const GENEROUS = { memoryMb: 512, timeoutMs: 60_000 };

/** 300,000 distinct addresses written out in one define: parsed, they need far more than 64 MiB of heap. */
function hugeInlinePolicy(): string {
  const file = path.join(tmp, `huge-${Math.random().toString(36).slice(2)}.xdpfw`);
  const addresses = Array.from({ length: 300_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  fs.writeFileSync(file, `define many = { ${addresses.join(', ')} }\ninterface eth0 {\n  default allow\n  drop src $many\n}\n`);
  return file;
}

async function failure(p: Promise<unknown>): Promise<BoundedLoadError> {
  try {
    await p;
  } catch (error) {
    return error as BoundedLoadError;
  }
  throw new Error('the load succeeded');
}

describe('a policy compiled in a worker with limits', () => {
  it('gives the compile of the same policy in the daemon’s own thread, hash and maps alike', async () => {
    const inProcess = loadAndCompile(EDGE);
    const { loaded, fingerprint } = await loadBounded({ kind: 'file', file: EDGE }, GENEROUS);
    expect(loaded.compiled!.interfaces.map((i) => i.hash)).toEqual(inProcess.compiled!.interfaces.map((i) => i.hash));
    // Node's comparison compares typed arrays as memory (vitest's toEqual walks 16 MiB of tables element by element).
    expect(isDeepStrictEqual(loaded.compiled, inProcess.compiled)).toBe(true);
    expect(loaded.compiled!.interfaces[0].vectors[0]).toBeInstanceOf(BigUint64Array);
    expect(loaded.rendered).toEqual(inProcess.rendered);
    expect(loaded.sources).toEqual(inProcess.sources);
    expect([...fingerprint.keys()].sort()).toEqual([EDGE, path.resolve('policies/lists/bogons.txt')].sort());
  });

  it('refuses a policy whose compile needs more heap than allowed, naming the limit', async () => {
    const file = hugeInlinePolicy();
    const { error, fingerprint } = await failure(loadBounded({ kind: 'file', file }, { memoryMb: 64, timeoutMs: 60_000 }));
    expect(error).toBeInstanceOf(CompileLimitError);
    expect(error.message).toBe('compiling the policy exceeded 64 MiB');
    // It was read before the heap ran out: an edit of it is seen.
    expect(fingerprint.get(file)).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('ends a compile that takes longer than allowed', async () => {
    const started = Date.now();
    const { error } = await failure(loadBounded({ kind: 'file', file: hugeInlinePolicy() }, { memoryMb: 4096, timeoutMs: 300 }));
    expect(error).toBeInstanceOf(CompileLimitError);
    expect(error.message).toBe('compiling the policy took longer than 0.3 s');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('a missing policy file is diagnosed, not a limit', async () => {
    const { loaded } = await loadBounded({ kind: 'file', file: path.join(tmp, 'absent.xdpfw') }, GENEROUS);
    expect(loaded.compiled).toBeUndefined();
    expect(loaded.diagnostics.map((d) => d.code)).toEqual(['file-not-found']);
  });

  it('a file source that hit a limit still reloads when the policy is edited', async () => {
    const file = hugeInlinePolicy();
    const source = new FileSource(file, 20, memoryLogger().log, undefined, undefined, { memoryMb: 4096, timeoutMs: 1 });
    await expect((await source.read()).revision!.load()).rejects.toBeInstanceOf(CompileLimitError);
    let changes = 0;
    source.start(() => changes++);
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(changes).toBe(1); // the worker was ended before it said what it read: the first look counts as a change
    } finally {
      await source.close();
    }
  });
});
