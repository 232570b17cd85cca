/**
 * The real command line (bin/xdpfw.js, built from these sources) run as its
 * own process inside a test namespace, as an operator would run it with
 * `ip netns exec`.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll } from 'vitest';

import { ensureBpffs } from '../../../src/xdp/index.js';
import { bpffsRoot, stateRoot } from '../../../src/xdp/pins.js';
import { REPO, TestNetns, run } from '../xdp/helpers/env.js';
import { netnsKeyOf } from '../xdp/helpers/netns-key.js';

export const CLI = path.join(REPO, 'bin/xdpfw.js');

export interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Builds dist/ from these sources, which bin/xdpfw.js runs (a minute at most). */
export function buildCli(): void {
  run('npm', ['run', '-s', 'build:ts'], { cwd: REPO, timeout: 120_000 });
}

/** One xdpfw command line in `ns`, as a separate process. */
export function xdpfwIn(ns: TestNetns, ...args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CLI, ...args], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * A namespace pair for command-line tests, made before the file's tests
 * (with the CLI built and the bpffs mounted) and removed after them with
 * the pins, state and connection tables xdpfw kept for it. Call it in a
 * describe block; `key()` is the namespace's key once made.
 */
export function cliNamespace(tag: string): { ns: TestNetns; key: () => string } {
  const ns = new TestNetns(tag);
  let key = '';
  beforeAll(() => {
    buildCli();
    ensureBpffs();
    ns.create();
    key = netnsKeyOf(ns.name);
  }, 180_000);
  afterAll(() => {
    ns.destroy();
    if (!key) return;
    const kept = ['conntrack', 'limits', 'sets'].map((table) => path.join(bpffsRoot(), table, key));
    for (const dir of [path.join(bpffsRoot(), key), path.join(stateRoot(), key), ...kept]) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  return { ns, key: () => key };
}
