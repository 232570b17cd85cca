/**
 * bench:cli-start — how long `xdpfw set add` of 10,000 addresses into a live
 * dynamic set takes as the command an operator runs (target < 200 ms), and
 * how much of that is the command's start: `node -e 0`, `xdpfw --version`
 * and `xdpfw set list` timed beside it, each a new process through
 * `ip netns exec` in a namespace of the bench's own, where a small policy
 * (`set banned dynamic`, `drop src @banned`) is in force on a veth. The
 * commands are taken in turn each round, so other work on the machine
 * weighs on all of them alike; the set is flushed (untimed) after each add.
 * Then each module on the command's path is imported alone, for the
 * breakdown.
 *
 * --before DIR also times the command of another checkout (built), beside
 * this one's: a change's figures before and after it, in one run.
 *
 * --node24 also times Node 24 (fetched with `npx -y node@24`, not installed)
 * running the same bin/xdpfw.js, without and with its compile cache
 * (NODE_COMPILE_CACHE, Node ≥ 22.1; warmed by an untimed run).
 *
 *   npm run bench:cli-start [-- --runs N] [-- --before DIR] [-- --node24]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importTable } from './lib/import-times.js';
import { loadAverage, machineLine, requireRoot, waitForQuiet } from './lib/machine.js';
import { run, tryRun } from './lib/sh.js';
import { fixed, grouped, sample, table, type Sample } from './lib/stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const XDPFW = path.join(REPO, 'bin/xdpfw');
const XDPFW_JS = path.join(REPO, 'bin/xdpfw.js');
const NS = `xdpfw-clistart-${process.pid}`;
const IFACE = 'cs0';
const ADDS = 10_000;
const TARGET_MS = 200;

const POLICY = `set banned dynamic size 16384
interface ${IFACE} {
  default allow
  drop src @banned name "banned"
}
`;

/** 10,000 distinct IPv4 addresses in 198.18.0.0/15 (benchmarking space). */
const ADDRESSES = Array.from({ length: ADDS }, (_, i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);

/** The environment bin/xdpfw gives Node (its CA bundle dropped, huge pages for malloc), for runs of bin/xdpfw.js by another Node. */
function wrapperEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1', ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Runs `argv` in the bench namespace; the wall time in ms. A failure stops the bench. */
function timed(argv: string[], env: NodeJS.ProcessEnv, expect?: RegExp): number {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', NS, ...argv], { cwd: REPO, env, encoding: 'utf8', maxBuffer: 16 << 20 });
  const ms = performance.now() - t0;
  if (r.status !== 0 || (expect && !expect.test(r.stdout)))
    throw new Error(`${argv.slice(0, 4).join(' ')}… exited ${r.status}: ${r.stdout.slice(0, 200)}${r.stderr.slice(0, 400)}`);
  return ms;
}

interface Variant {
  label: string;
  argv: string[];
  env: NodeJS.ProcessEnv;
  expect?: RegExp;
  /** Untimed, after each run. */
  after?: () => void;
}

const flush = () => void timed([XDPFW, 'set', 'flush', 'banned'], wrapperEnv());
const added = new RegExp(`^banned: added ${ADDS} entries`);

function variants(node24: string | null, before: string | null, cacheDir: string): Variant[] {
  const node20 = process.execPath;
  const list: Variant[] = [
    { label: 'node -e 0', argv: [node20, '-e', '0'], env: wrapperEnv() },
    { label: 'xdpfw --version', argv: [XDPFW, '--version'], env: process.env },
    { label: 'xdpfw set list banned', argv: [XDPFW, 'set', 'list', 'banned'], env: process.env },
    {
      label: `xdpfw set add banned (${grouped(ADDS)})`,
      argv: [XDPFW, 'set', 'add', 'banned', ...ADDRESSES],
      env: process.env,
      expect: added,
      after: flush,
    },
  ];
  if (before !== null) {
    const old = path.join(path.resolve(before), 'bin/xdpfw');
    list.push(
      { label: 'before: xdpfw --version', argv: [old, '--version'], env: process.env },
      { label: 'before: xdpfw set list banned', argv: [old, 'set', 'list', 'banned'], env: process.env },
      {
        label: 'before: xdpfw set add banned',
        argv: [old, 'set', 'add', 'banned', ...ADDRESSES],
        env: process.env,
        expect: added,
        after: flush,
      },
    );
  }
  if (node24 === null) return list;
  const cached = wrapperEnv({ NODE_COMPILE_CACHE: cacheDir });
  return [
    ...list,
    { label: 'node 24: node -e 0', argv: [node24, '-e', '0'], env: wrapperEnv() },
    { label: 'node 24: xdpfw --version', argv: [node24, XDPFW_JS, '--version'], env: wrapperEnv() },
    {
      label: 'node 24: xdpfw set add',
      argv: [node24, XDPFW_JS, 'set', 'add', 'banned', ...ADDRESSES],
      env: wrapperEnv(),
      expect: added,
      after: flush,
    },
    { label: 'node 24 + compile cache: xdpfw --version', argv: [node24, XDPFW_JS, '--version'], env: cached },
    {
      label: 'node 24 + compile cache: xdpfw set add',
      argv: [node24, XDPFW_JS, 'set', 'add', 'banned', ...ADDRESSES],
      env: cached,
      expect: added,
      after: flush,
    },
  ];
}

/** The namespace, its veth pair and the policy in force on one end. */
function setUp(dir: string): void {
  run('ip', ['netns', 'add', NS]);
  run('ip', ['-n', NS, 'link', 'add', IFACE, 'type', 'veth', 'peer', 'name', 'cs1']);
  for (const dev of [IFACE, 'cs1', 'lo']) run('ip', ['-n', NS, 'link', 'set', 'dev', dev, 'up']);
  const file = path.join(dir, 'policy.xdpfw');
  fs.writeFileSync(file, POLICY);
  timed([XDPFW, 'apply', file, '--mode', 'generic'], process.env);
}

/** Detaches (freeing the set's pin and the state kept for the namespace), then removes the namespace and the files. */
function tearDown(dir: string): void {
  if (fs.existsSync(`/run/netns/${NS}`)) {
    tryRun('ip', ['netns', 'exec', NS, XDPFW, 'detach']);
    tryRun('ip', ['netns', 'del', NS]);
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** The path of Node 24's executable, as `npx -y node@24` fetches it into npm's cache. */
function node24Path(): string {
  return run('npx', ['-y', 'node@24', '-p', 'process.execPath']).trim();
}

function report(rows: { label: string; s: Sample }[]): string {
  const base = rows[0].s.median;
  return table(
    ['command (through ip netns exec)', 'median ms', 'min–max', 'over node -e 0'],
    rows.map(({ label, s }) => [label, fixed(s.median, 0), `${fixed(s.min, 0)}–${fixed(s.max, 0)}`, fixed(s.median - base, 0)]),
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { runs: { type: 'string', default: '9' }, node24: { type: 'boolean', default: false }, before: { type: 'string' } },
  });
  const runs = Number(values.runs);
  requireRoot();
  const node24 = values.node24 ? node24Path() : null;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-clistart-'));
  const cleanup = () => tearDown(dir);
  const interrupted = () => {
    cleanup();
    process.exit(130);
  };
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted);
  try {
    setUp(dir);
    const quiet = await waitForQuiet(60);
    const list = variants(node24, values.before ?? null, path.join(dir, 'compile-cache'));
    const ms = list.map(() => [] as number[]);
    // Round 0 warms the page cache and the compile cache; it is not counted.
    for (let round = 0; round <= runs; round++) {
      list.forEach((v, i) => {
        const t = timed(v.argv, v.env, v.expect);
        v.after?.();
        if (round > 0) ms[i].push(t);
      });
    }
    const rows = list.map((v, i) => ({ label: v.label, s: sample(ms[i]) }));
    const add = rows[3].s;
    console.log(`${machineLine()}; Node ${process.version}${node24 ? `, and ${run(node24, ['--version']).trim()}` : ''}`);
    console.log(`${quiet}; load average ${loadAverage()} at the end; ${runs} runs each\n`);
    console.log(report(rows));
    console.log(
      `\ntarget — xdpfw set add of ${grouped(ADDS)} < ${TARGET_MS} ms: median ${fixed(add.median, 0)} ms ` +
        `${add.median < TARGET_MS ? 'met' : 'MISSED'}, slowest ${fixed(add.max, 0)} ms ${add.max < TARGET_MS ? 'met' : 'MISSED'}`,
    );
    console.log(`\nimport alone, in a new node (Node ${process.version}), ${runs} runs each:\n`);
    console.log(importTable(process.execPath, REPO, runs));
  } finally {
    cleanup();
  }
}

await main();
