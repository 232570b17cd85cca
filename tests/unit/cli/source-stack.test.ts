/**
 * A bug's stack trace names the TypeScript source of each bundled frame: a
 * small module bundled as scripts/bundle-cli.ts bundles the CLI (a linked
 * map, no sources content) throws in a new Node, and its trace is mapped.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { withSourceLocations } from '../../../src/cli/source-stack.js';
import { scratchDir } from '../../support/scratch.js';

const dir = scratchDir('xdpfw-source-stack-');
const SOURCE = join(dir, 'src/thrower.ts');
const BUNDLE = join(dir, 'dist/bundle/thrower.js');

/** The stack of the error `fail()` throws, from the bundle run in a new Node. */
async function bundledStack(): Promise<string> {
  mkdirSync(join(dir, 'src'));
  // The throw is on line 6, `new` at column 9; the bundle puts it elsewhere.
  writeFileSync(
    SOURCE,
    [
      'const unused: number = 1;',
      'export const kept = (n: number): number => n * 2;',
      '',
      '/** Always throws. */',
      'export function fail(): never {',
      "  throw new Error('a bug');",
      '}',
      '',
    ].join('\n'),
  );
  await build({
    entryPoints: [SOURCE],
    outfile: BUNDLE,
    bundle: true,
    format: 'esm',
    platform: 'node',
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'silent',
  });
  const script = `import(${JSON.stringify(pathToFileURL(BUNDLE).href)}).then((m) => { try { m.fail(); } catch (e) { process.stdout.write(e.stack); } });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return r.stdout;
}

describe('withSourceLocations', () => {
  it("names a bundled frame by its source file's path, line and column", async () => {
    const stack = await bundledStack();
    expect(stack).toMatch(/thrower\.js:\d+:\d+/);
    const mapped = withSourceLocations(stack);
    expect(mapped).toContain(`fail (${SOURCE}:6:9)`);
    expect(mapped).not.toContain('thrower.js');
    expect(mapped.split('\n')[0]).toBe('Error: a bug');
  });

  it('leaves a frame as it was when its file has no map beside it', () => {
    const frame = `    at run (${pathToFileURL(join(dir, 'no-map.js')).href}:12:5)`;
    expect(withSourceLocations(`Error: x\n${frame}\n    at node:internal/main:1:1`)).toBe(
      `Error: x\n${frame}\n    at node:internal/main:1:1`,
    );
  });
});
