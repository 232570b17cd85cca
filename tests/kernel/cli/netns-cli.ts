/**
 * The real command line (bin/xdpfw.js, built from these sources) run as its
 * own process inside a test namespace, as an operator would run it with
 * `ip netns exec`.
 */

import { spawn } from 'node:child_process';
import path from 'node:path';

import { REPO, run, type TestNetns } from '../xdp/helpers/env.js';

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
