/**
 * What a command's start is made of: each module imported alone in a new
 * Node process (its own graph, koffi's dlopen and top-level code
 * included), timed from inside that process so Node's own boot is left out.
 * The first row imports an empty module: the ESM loader's first-import cost,
 * which every other row includes too.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fixed, sample, table } from './stats.js';

/**
 * The modules on `xdpfw set add`'s path, packages by name and ours as tsc
 * builds them in dist/, one file each; last the bundle bin/xdpfw.js runs
 * (its entry, which holds commander and main.ts's own imports).
 */
export const START_MODULES = [
  'data:text/javascript,',
  'commander',
  'koffi',
  'ipaddr.js',
  'dist/cli/main.js',
  'dist/xdp/libbpf.js',
  'dist/xdp/dynsets.js',
  'dist/xdp/index.js',
  'dist/app/dynamic-sets.js',
  'dist/cli/commands/set.js',
  'dist/bundle/xdpfw.js',
];

const importTimer = `const t0 = performance.now(); await import(process.argv[1]); process.stdout.write(String(performance.now() - t0));`;

/** Milliseconds to import `specifier` in a fresh `node`, run from `repo` (packages resolve from there). */
function importMs(node: string, repo: string, specifier: string): number {
  const target = specifier.startsWith('dist/') ? pathToFileURL(path.join(repo, specifier)).href : specifier;
  const r = spawnSync(node, ['--input-type=module', '-e', importTimer, target], { cwd: repo, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`importing ${specifier} failed: ${r.stderr}`);
  return Number(r.stdout);
}

/** A table of each module's import time (median, min–max of `runs`, the modules taken in turn each round). */
export function importTable(node: string, repo: string, runs: number): string {
  const times = new Map<string, number[]>(START_MODULES.map((m) => [m, []]));
  for (let round = 0; round < runs; round++) for (const m of START_MODULES) times.get(m)!.push(importMs(node, repo, m));
  const rows = START_MODULES.map((m) => {
    const s = sample(times.get(m)!);
    return [m === 'data:text/javascript,' ? '(an empty module)' : m, fixed(s.median, 1), `${fixed(s.min, 1)}–${fixed(s.max, 1)}`];
  });
  return table(['import', 'median ms', 'min–max'], rows);
}
