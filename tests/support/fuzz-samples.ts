/**
 * The policies the front end's fuzz test damages: each a root policy with its
 * includes and set files, as bytes by path (relative to the directory a case
 * writes them into).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative } from 'node:path';

export interface FuzzSample {
  name: string;
  root: string;
  files: Map<string, Buffer>;
  /** Path → target, made as symbolic links. */
  symlinks: Map<string, string>;
}

/** Every file under `dir` but golden outputs, as a sample rooted at `root`. */
export function loadSample(name: string, dir: string, root: string): FuzzSample {
  const files = new Map<string, Buffer>();
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && entry.name !== 'expected.json') files.set(relative(dir, path), readFileSync(path));
    }
  };
  walk(dir);
  return { name, root, files, symlinks: new Map() };
}

/** One policy file as a sample. */
export function textSample(name: string, text: string): FuzzSample {
  return { name, root: 'input.xdpfw', files: new Map([['input.xdpfw', Buffer.from(text)]]), symlinks: new Map() };
}

/**
 * Every directory a mutated sample may write into: the samples' own, and in
 * each a `loop/` (include loops go through it) and an empty `fz-dir/` (an
 * include of a directory). Made once for all cases, so that no case depends
 * on what earlier ones left, and no case pays for making and removing
 * directories.
 */
export function sampleDirectories(corpus: readonly FuzzSample[]): string[] {
  const dirs = new Set<string>(['.']);
  for (const sample of corpus) {
    for (const path of sample.files.keys()) for (let d = posix.dirname(path); d !== '.'; d = posix.dirname(d)) dirs.add(d);
  }
  return [...dirs].flatMap((d) => [d, posix.join(d, 'loop'), posix.join(d, 'fz-dir')]);
}
