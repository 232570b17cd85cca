/**
 * Test environment for the kernel tests: privilege gating (skip loudly when
 * not root, never when CI=true), fixture BPF objects compiled on demand, and
 * throwaway network namespaces with a veth pair.
 */

import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { clangBpf } from '../../../../scripts/clang-bpf.js';
import { scratchDir } from '../../../support/scratch.js';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const FIXTURES = path.join(REPO, 'tests/kernel/xdp/fixtures');
export const TS_LOADER = path.join(REPO, 'tests/kernel/xdp/helpers/ts-loader.mjs');

export const isRoot = process.getuid?.() === 0;
export { skipWithoutRoot } from '../../../support/kernel.js';
const built = new Map<string, string>();
const buildDir = scratchDir('xdpfw-fixtures-');

/** Compiles tests/kernel/xdp/fixtures/<name>.bpf.c (with bpf/ on the include path); returns the .o path. */
export function fixtureObject(name: string): string {
  const cached = built.get(name);
  if (cached) return cached;
  const out = path.join(buildDir, `${name}.bpf.o`);
  clangBpf(path.join(FIXTURES, `${name}.bpf.c`), out, ['-I', path.join(REPO, 'bpf')]);
  built.set(name, out);
  return out;
}

export function run(cmd: string, args: string[], options: ExecFileSyncOptions = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options }) as string;
}

/** A network namespace `xdpfw-t-<tag>-<pid>` with veth0 (and its peer veth1 in a second namespace). */
export class TestNetns {
  readonly name: string;
  readonly peer: string;

  constructor(tag: string) {
    this.name = `xdpfw-t-${tag}-${process.pid}`;
    this.peer = `${this.name}-p`;
  }

  /** veth0 10.99.0.1/24 in `name`, veth1 10.99.0.2/24 in `peer`, both up, static neighbours. */
  create(): void {
    this.destroy();
    run('ip', ['netns', 'add', this.name]);
    run('ip', ['netns', 'add', this.peer]);
    const ip = (ns: string, ...args: string[]): string => run('ip', ['-n', ns, ...args]);
    ip(this.name, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', this.peer);
    ip(this.name, 'addr', 'add', '10.99.0.1/24', 'dev', 'veth0');
    ip(this.peer, 'addr', 'add', '10.99.0.2/24', 'dev', 'veth1');
    for (const [ns, dev] of [
      [this.name, 'veth0'],
      [this.peer, 'veth1'],
    ]) {
      ip(ns, 'link', 'set', 'lo', 'up');
      ip(ns, 'link', 'set', dev, 'up');
    }
    const mac = (ns: string, dev: string): string =>
      (JSON.parse(ip(ns, '-j', 'link', 'show', 'dev', dev)) as { address: string }[])[0].address;
    ip(this.name, 'neigh', 'replace', '10.99.0.2', 'lladdr', mac(this.peer, 'veth1'), 'dev', 'veth0', 'nud', 'permanent');
    ip(this.peer, 'neigh', 'replace', '10.99.0.1', 'lladdr', mac(this.name, 'veth0'), 'dev', 'veth1', 'nud', 'permanent');
  }

  /** Removes both namespaces (and with them the veth pair); never throws. */
  destroy(): void {
    for (const ns of [this.name, this.peer]) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        /* not there */
      }
    }
  }

  /** The XDP program id `ip -d link` shows on veth0, and in which mode; null when none. */
  xdpProg(dev = 'veth0'): { id: number; mode: number } | null {
    const [link] = JSON.parse(run('ip', ['-n', this.name, '-d', '-j', 'link', 'show', 'dev', dev])) as {
      xdp?: { mode: number; prog?: { id: number } };
    }[];
    return link.xdp?.prog ? { id: link.xdp.prog.id, mode: link.xdp.mode } : null;
  }

  /** Whether one ping from the peer namespace to veth0 gets an answer. */
  pingFromPeer(): boolean {
    try {
      run('ip', ['netns', 'exec', this.peer, 'ping', '-c', '1', '-W', '1', '-q', '10.99.0.1']);
      return true;
    } catch {
      return false;
    }
  }

  /** Runs a TypeScript script with node inside the namespace (as `ip netns exec` does: /sys remounted). */
  node(script: string, args: string[]): string {
    return run('ip', ['netns', 'exec', this.name, process.execPath, '--import', TS_LOADER, script, ...args], {
      cwd: REPO,
      timeout: 60_000,
    });
  }
}
