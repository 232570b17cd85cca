/**
 * The real command line (bin/xdpfw.js, built from these sources) run as its
 * own process inside a test namespace, as an operator would run it with
 * `ip netns exec`.
 */

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, expect } from 'vitest';

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

/** What dist/ is built from: a change to any of them makes it stale. */
const BUILD_INPUTS = ['src', 'scripts/bundle-cli.ts', 'tsconfig.build.json', 'package.json'];

/** The newest modification time under `file` (a file or a directory), in ms. */
function newestChange(file: string): number {
  const stat = fs.statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return fs.readdirSync(file).reduce((newest, name) => Math.max(newest, newestChange(path.join(file, name))), stat.mtimeMs);
}

/**
 * Builds dist/ from these sources, which bin/xdpfw.js runs, unless its
 * bundle is newer than every source already: about 12 s a build, which 30
 * kernel test files would otherwise each pay after the suite's own build.
 */
export function buildCli(): void {
  const bundle = fs.statSync(path.join(REPO, 'dist/bundle/xdpfw.js'), { throwIfNoEntry: false });
  if (bundle && BUILD_INPUTS.every((input) => newestChange(path.join(REPO, input)) < bundle.mtimeMs)) return;
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
 * the pins, state and connection tables xdpfw kept for it, once `stop`
 * (the file's daemons, say) has run. Call it in a describe block; `key()`
 * is the namespace's key once made.
 */
export function cliNamespace(tag: string, stop?: () => unknown): { ns: TestNetns; key: () => string } {
  const ns = new TestNetns(tag);
  let key = '';
  beforeAll(() => {
    buildCli();
    ensureBpffs();
    ns.create();
    key = netnsKeyOf(ns.name);
  }, 180_000);
  afterAll(async () => {
    await stop?.();
    ns.destroy();
    if (!key) return;
    // its pins, state, and host-wide tables: connections, meters, dynamic sets
    const tables = ['conntrack', 'limits', 'sets'].map((kind) => path.join(bpffsRoot(), kind, key));
    for (const dir of [path.join(bpffsRoot(), key), path.join(stateRoot(), key), ...tables]) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  return { ns, key: () => key };
}

/** Writes `text` to `file` and applies it in the namespace, which must succeed; the command's exit. */
export async function applyText(ns: TestNetns, file: string, text: string): Promise<Exit> {
  fs.writeFileSync(file, text);
  const r = await xdpfwIn(ns, 'apply', file);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

/** `count` UDP datagrams, one after the other, from the peer (10.99.0.2) to veth0's (10.99.0.1) `port`. */
export function sendUdpFromPeer(ns: TestNetns, port: number, count: number): void {
  const script = `const s = require('dgram').createSocket('udp4'); let n = ${count};
    const next = () => (n-- === 0 ? s.close() : s.send('x', ${port}, '10.99.0.1', next)); next();`;
  execFileSync('ip', ['netns', 'exec', ns.peer, process.execPath, '-e', script]);
}

/** An `xdpfw trace` running in a namespace. */
export interface Tracing {
  /** Resolves once the tracer has switched tracing on (or ended). */
  started: Promise<void>;
  done: Promise<Exit>;
  /** SIGINT, as Ctrl-C. */
  stop(): void;
}

/** `xdpfw trace ARGS` in `ns`, running until it ends or stop(). */
export function traceIn(ns: TestNetns, ...args: string[]): Tracing {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CLI, 'trace', ...args]);
  let stdout = '';
  let stderr = '';
  let ready: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (ready = resolve));
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.includes('Ctrl-C stops')) ready();
  });
  const done = new Promise<Exit>((resolve) => child.on('close', (code) => (ready(), resolve({ code, stdout, stderr }))));
  return { started, done, stop: () => child.kill('SIGINT') };
}

/** A --json command's output: an object a line. */
export const jsonLines = <T = Record<string, unknown>>(r: Exit): T[] =>
  r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as T);
