/**
 * dist/bundle/ from src/: the CLI as one ES module that bin/xdpfw.js
 * imports, plus a chunk per command that main.ts imports when it runs
 * (esbuild's code splitting keeps each `await import()` a separate file,
 * so `xdpfw check` still loads neither libbpf nor the controller). Node's
 * ESM loader costs ~2 ms a module, most of it its own bookkeeping and
 * asynchronous reads rather than the module's code; `xdpfw set add` went
 * through ~45 of ours and commander's files, and now goes through a few
 * (docs/performance.md, "Set add").
 *
 * Left outside the bundle, resolved from node_modules at run time: koffi,
 * whose native addon is found next to its own files, and pino, which
 * starts its transports' workers from files of its own directory.
 *
 * The output sits two directories below the package root, as dist/cli/
 * does, so the `new URL('../../…', import.meta.url)` of main.ts
 * (package.json) and object.ts (bpf/xdpfw.bpf.o) resolve alike from
 * either; load-worker and bcrypt-worker are entries of their own for
 * `new URL('./load-worker.js', import.meta.url)` (bounded-load.ts) and
 * `new URL('./bcrypt-worker.js', import.meta.url)` (basic-auth.ts).
 *
 *   tsx scripts/bundle-cli.ts [--single]   # --single: one file, no chunks
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const REPO = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE_DIR = path.join(REPO, 'dist/bundle');

/**
 * commander, yaml and prom-client are CommonJS, whose `require()` of Node's
 * built-in modules an ES module output can only serve through a require
 * of its own.
 */
const requireShim =
  "import { createRequire as __xdpfwCreateRequire } from 'node:module'; const require = __xdpfwCreateRequire(import.meta.url);";

const { values } = parseArgs({ options: { single: { type: 'boolean', default: false } } });

fs.rmSync(BUNDLE_DIR, { recursive: true, force: true });
await build({
  absWorkingDir: REPO,
  entryPoints: {
    xdpfw: 'src/cli/main.ts',
    'load-worker': 'src/controller/sources/load-worker.ts',
    'bcrypt-worker': 'src/controller/bcrypt-worker.ts',
  },
  outdir: BUNDLE_DIR,
  bundle: true,
  splitting: !values.single,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['koffi', 'pino'],
  banner: { js: requireShim },
  // A bug's stack trace names src/ files and lines (src/cli/source-stack.ts).
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
});
