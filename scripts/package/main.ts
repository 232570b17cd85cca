/**
 * `npm run package`: dist/package/xdpfw_<version>_<arch>.deb, a Debian
 * package whose /usr/bin/xdpfw is a single executable that needs no Node on
 * the host (docs/packaging.md). Expects the built tree (`npm run build`
 * runs first). Prints the package's path and size.
 *
 *   tsx scripts/package/main.ts [--out DIR]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { buildDeb } from './deb.js';
import { pinnedNodeLicense } from './node-runtime.js';
import { buildExecutable } from './sea.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

const { values } = parseArgs({ options: { out: { type: 'string', default: path.join(REPO, 'dist/package') } } });
const outDir = path.resolve(values.out);
const started = performance.now();
const cacheDir = path.join(REPO, '.cache/node-runtime');
const { executable } = await buildExecutable(REPO, path.join(outDir, 'build'), cacheDir);
const deb = buildDeb(REPO, executable, pinnedNodeLicense(cacheDir), outDir);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
console.log(
  `${path.relative(process.cwd(), deb) || deb}  ${mib(fs.statSync(deb).size)} (executable ${mib(fs.statSync(executable).size)}; ` +
    `built in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
);
