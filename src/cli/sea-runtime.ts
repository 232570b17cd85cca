/**
 * The files that the dist tree keeps beside its scripts, for the single
 * executable of the Debian package (docs/packaging.md). Such an executable
 * is Node with one script injected; the rest travels as its SEA assets:
 * package.json (the version), bpf/xdpfw.bpf.o (libbpf opens it by path),
 * the policy-compiling worker's script (a Worker starts from a file) and
 * koffi's native addon (dlopen needs a file).
 *
 * They are written once into a private directory named by the digest of
 * their manifest, laid out as the package is, so the `new URL('../../…',
 * import.meta.url)` of the CLI, the controller and src/xdp resolve into it
 * unchanged. A directory is built aside and renamed into place: one that
 * exists is complete. koffi's addon is hashed again before it is loaded,
 * as it is code this root process runs.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getAsset } from 'node:sea';
import { pathToFileURL } from 'node:url';

/** One embedded file: its asset key is its path below the runtime root. */
export interface EmbeddedFile {
  path: string;
  sha256: string;
  size: number;
}

export interface EmbeddedManifest {
  files: EmbeddedFile[];
}

/** The asset holding the manifest (scripts/package/sea.ts writes it). */
export const MANIFEST_ASSET = 'manifest.json';
/** koffi's addon below the runtime root. */
export const KOFFI_ADDON = 'koffi.node';
/** Where the bundled CLI would sit in the package: `import.meta.url` resolves from here. */
export const MODULE_PATH = 'dist/bundle/xdpfw.js';

export type AssetReader = (key: string) => Buffer;

export class EmbeddedRuntimeError extends Error {}

/**
 * Under $XDG_RUNTIME_DIR when there is one; root's goes to /run (a tmpfs,
 * gone at boot with the old versions' directories), anyone else's to the
 * temporary directory, in a directory of their own.
 */
export function runtimeBase(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'xdpfw');
  if (uid === 0) return '/run/xdpfw/lib';
  return path.join(os.tmpdir(), `xdpfw-${uid}`);
}

export function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/**
 * `dir` created if missing, and refused unless it is a directory (not a
 * link) of this user's that no one else may write or read: in a shared
 * temporary directory another user could have made it first.
 */
export function ensurePrivateDir(dir: string): void {
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const stat = fs.lstatSync(dir);
  const uid = process.getuid?.() ?? 0;
  if (!stat.isDirectory() || stat.uid !== uid) {
    throw new EmbeddedRuntimeError(`${dir} is not a directory of uid ${uid}: refusing to run code from it`);
  }
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700);
}

function isComplete(root: string, manifest: EmbeddedManifest): boolean {
  return manifest.files.every((file) => {
    try {
      return fs.statSync(path.join(root, file.path)).size === file.size;
    } catch {
      return false;
    }
  });
}

function writeTree(dir: string, manifest: EmbeddedManifest, readAsset: AssetReader): void {
  for (const file of manifest.files) {
    const data = readAsset(file.path);
    if (sha256(data) !== file.sha256) throw new EmbeddedRuntimeError(`the embedded ${file.path} does not match its digest`);
    const target = path.join(dir, file.path);
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    fs.writeFileSync(target, data, { mode: 0o600 });
  }
}

/**
 * The runtime root for `manifest` below `base`, written from the assets
 * when it is missing or a cleaner (systemd-tmpfiles in /tmp) emptied it.
 */
export function prepareRuntimeRoot(base: string, manifestText: string, readAsset: AssetReader): string {
  const manifest = JSON.parse(manifestText) as EmbeddedManifest;
  ensurePrivateDir(base);
  const root = path.join(base, sha256(Buffer.from(manifestText)).slice(0, 32));
  if (isComplete(root, manifest)) return root;
  const partial = fs.mkdtempSync(path.join(base, '.partial-'));
  try {
    writeTree(partial, manifest, readAsset);
    if (fs.existsSync(root)) {
      // A damaged tree (a concurrent start renames a complete one in place; keep that).
      if (isComplete(root, manifest)) return root;
      fs.renameSync(root, `${partial}.stale`);
      fs.rmSync(`${partial}.stale`, { recursive: true, force: true });
    }
    fs.renameSync(partial, root);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !isComplete(root, manifest)) throw error;
  } finally {
    fs.rmSync(partial, { recursive: true, force: true });
  }
  return root;
}

/** koffi's native module from `root`, after checking it is the file the manifest names. */
export function loadKoffiAddon(root: string, manifestText: string): unknown {
  const manifest = JSON.parse(manifestText) as EmbeddedManifest;
  const entry = manifest.files.find((file) => file.path === KOFFI_ADDON);
  if (!entry) throw new EmbeddedRuntimeError(`the executable embeds no ${KOFFI_ADDON}`);
  const file = path.join(root, KOFFI_ADDON);
  if (sha256(fs.readFileSync(file)) !== entry.sha256) {
    throw new EmbeddedRuntimeError(`${file} does not match its digest: remove ${root} and run again`);
  }
  const module = { exports: {} };
  process.dlopen(module, file);
  return module.exports;
}

let started: { root: string; manifestText: string } | undefined;

/** Writes out (or finds) this executable's runtime root; the URL its bundled CLI takes for `import.meta.url`. */
export function startEmbeddedRuntime(): string {
  const manifestText = getAsset(MANIFEST_ASSET, 'utf8');
  const root = prepareRuntimeRoot(runtimeBase(), manifestText, (key) => Buffer.from(getAsset(key)));
  started = { root, manifestText };
  return pathToFileURL(path.join(root, MODULE_PATH)).href;
}

/** koffi's addon, for koffi's loader in the executable (scripts/package/sea.ts routes it here). */
export function embeddedKoffi(): unknown {
  if (!started) throw new EmbeddedRuntimeError('koffi was loaded before the embedded runtime was written out');
  return loadKoffiAddon(started.root, started.manifestText);
}
