/**
 * The single executable: the pinned Node 24 (node-runtime.ts) with the CLI
 * injected as a SEA blob (docs/packaging.md).
 *
 * The CLI is bundled as one CommonJS script, as a SEA's main must be, with
 * everything inside, koffi and pino too: a SEA's `require` reaches Node's
 * built-in modules only. `import.meta.url` has no CommonJS meaning; it
 * becomes the global that src/cli/sea-main.ts sets to a URL inside the
 * runtime root (src/cli/sea-runtime.ts), where the embedded files sit as
 * they do in the package. koffi finds its addon through the
 * `@koromix/koffi-<platform>` package; that require is answered with the
 * addon that the executable embeds.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';

import { KOFFI_ADDON, MANIFEST_ASSET, type EmbeddedFile, sha256 } from '../../src/cli/sea-runtime.js';
import { pinnedNode } from './node-runtime.js';

/** The fuse that tells Node a blob was injected (Node's own, from its SEA docs). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const requireShim =
  "import { createRequire as __xdpfwCreateRequire } from 'node:module'; const require = __xdpfwCreateRequire(import.meta.url);";

/** The glibc build of koffi's addon for this machine's architecture. */
function koffiAddon(repo: string): string {
  const file = path.join(repo, `node_modules/@koromix/koffi-linux-${process.arch}/linux_${process.arch}/koffi.node`);
  if (!fs.existsSync(file)) throw new Error(`koffi's addon is missing: ${file}`);
  return file;
}

/** koffi's CommonJS build, and its `@koromix/koffi-*` → the embedded addon (the one of this build's platform; the others are never asked for). */
function embeddedKoffi(repo: string): Plugin {
  const runtimeModule = path.join(repo, 'src/cli/sea-runtime.ts');
  return {
    name: 'xdpfw-embedded-koffi',
    setup(b) {
      // Its ES build reaches the addon through a createRequire of its own, which no bundler follows.
      b.onResolve({ filter: /^koffi$/ }, () => ({ path: path.join(repo, 'node_modules/koffi/index.cjs') }));
      b.onResolve({ filter: /^@koromix\/koffi-/ }, (args) => ({ path: args.path, namespace: 'xdpfw-koffi' }));
      b.onLoad({ filter: /.*/, namespace: 'xdpfw-koffi' }, (args) => ({
        contents:
          args.path === `@koromix/koffi-linux-${process.arch}`
            ? `module.exports = require(${JSON.stringify(runtimeModule)}).embeddedKoffi();`
            : `throw new Error('this executable embeds no ${args.path}');`,
        loader: 'js',
        resolveDir: path.dirname(runtimeModule),
      }));
    },
  };
}

export interface SeaBuild {
  executable: string;
  /** The embedded files, as the manifest lists them. */
  files: EmbeddedFile[];
}

/** Builds `outDir`/xdpfw from the repository's built tree (bpf/*.o and src/policy/generated must exist). */
export async function buildExecutable(repo: string, outDir: string, cacheDir: string): Promise<SeaBuild> {
  const work = path.join(outDir, 'sea');
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const common = { absWorkingDir: repo, bundle: true, platform: 'node', target: 'node24', logLevel: 'warning' } as const;
  await build({
    ...common,
    entryPoints: ['src/cli/sea-main.ts'],
    outfile: path.join(work, 'main.cjs'),
    format: 'cjs',
    define: { 'import.meta.url': '__xdpfwModuleUrl' },
    plugins: [embeddedKoffi(repo)],
  });
  // The worker is started from a file of the runtime root, whose package.json makes it an ES module.
  await build({
    ...common,
    entryPoints: ['src/controller/sources/load-worker.ts'],
    outfile: path.join(work, 'load-worker.js'),
    format: 'esm',
    banner: { js: requireShim },
  });
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { name: string; version: string };
  fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module' }));

  const sources: Record<string, string> = {
    'package.json': path.join(work, 'package.json'),
    'bpf/xdpfw.bpf.o': path.join(repo, 'bpf/xdpfw.bpf.o'),
    'dist/bundle/load-worker.js': path.join(work, 'load-worker.js'),
    [KOFFI_ADDON]: koffiAddon(repo),
  };
  const files = Object.entries(sources).map(([key, file]) => {
    const data = fs.readFileSync(file);
    return { path: key, sha256: sha256(data), size: data.length };
  });
  const manifest = path.join(work, MANIFEST_ASSET);
  fs.writeFileSync(manifest, JSON.stringify({ files }));

  const blob = path.join(work, 'xdpfw.blob');
  const seaConfig = {
    main: path.join(work, 'main.cjs'),
    output: blob,
    disableExperimentalSEAWarning: true,
    // The V8 code cache of main.cjs: compiled at build time, not at each start.
    useCodeCache: true,
    // NODE_OPTIONS does not reach the firewall: no --require of someone else's code.
    execArgvExtension: 'none',
    assets: { ...sources, [MANIFEST_ASSET]: manifest },
  };
  fs.writeFileSync(path.join(work, 'sea-config.json'), JSON.stringify(seaConfig, null, 2));
  const node = pinnedNode(cacheDir);
  // The blob is specific to the Node that makes it: the same binary that receives it.
  execFileSync(node, ['--experimental-sea-config', path.join(work, 'sea-config.json')], { stdio: 'pipe' });

  const executable = path.join(outDir, 'xdpfw');
  // Node's release binary carries debug sections; its symbol table stays, for a native stack.
  execFileSync('strip', ['--strip-debug', '-o', executable, node]);
  fs.chmodSync(executable, 0o755);
  const postject = path.join(repo, 'node_modules/postject/dist/cli.js');
  execFileSync(process.execPath, [postject, executable, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return { executable, files };
}
