/**
 * `xdpfw_build_info`: what is running, known once at start (nothing is
 * looked up when scraped), so a dashboard can tell which daemons run which
 * release.
 */

import { readFileSync } from 'node:fs';

import { Gauge, type Registry } from 'prom-client';

import { libbpfVersion } from '../xdp/index.js';

export interface BuildInfo {
  /** xdpfw's version, from package.json. */
  version: string;
  /** Node's version (process.version). */
  node: string;
  /** The libbpf the loader uses; empty when it cannot be loaded. */
  libbpf: string;
}

/** The version in package.json (two directories up from src/controller and from dist/controller). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function loadedLibbpf(): string {
  try {
    return libbpfVersion();
  } catch {
    return ''; // the library is missing: the daemon reports that when it loads a program
  }
}

export function buildInfo(): BuildInfo {
  return { version: packageVersion(), node: process.version, libbpf: loadedLibbpf() };
}

export function registerBuildInfo(registry: Registry, info: BuildInfo = buildInfo()): void {
  const gauge = new Gauge({
    name: 'xdpfw_build_info',
    help: 'The running xdpfw: its version, Node version and libbpf version (always 1)',
    labelNames: ['version', 'node', 'libbpf'] as const,
    registers: [registry],
  });
  gauge.set({ ...info }, 1);
}
