/**
 * What the controller's netns scenarios need: TAP output, processes started
 * inside the test's namespaces and ended by pid, the daemon's JSON log read
 * line by line, a real git repository, UDP streams and an HTTP scrape.
 */

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const LOADER = path.join(ROOT, 'tests/kernel/xdp/helpers/ts-loader.mjs');
const UDP = path.join(ROOT, 'tests/netns/controller/udp.ts');
const BIN = path.join(ROOT, 'bin/xdpfw');

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/netns-controller-test.sh`);
  return v;
}

export const ENV = {
  fw: need('XDPFW_NETNS_FW'),
  cl: need('XDPFW_NETNS_CL'),
  fw4: need('XDPFW_FW4'),
  tmp: need('XDPFW_TMP'),
  iface: 'xdpfw0',
  mode: process.env.XDPFW_MODE ?? 'native',
  reloads: Number(process.env.XDPFW_RELOADS ?? 50),
};

/* ---- TAP ------------------------------------------------------------------ */

export class Tap {
  n = 0;
  failed = 0;
  ok(pass: boolean, description: string, ...diagnostics: unknown[]): boolean {
    this.n++;
    if (!pass) this.failed++;
    process.stdout.write(`${pass ? 'ok' : 'not ok'} ${this.n} - ${description}\n`);
    if (!pass) {
      for (const d of diagnostics) {
        const text = typeof d === 'string' ? d : JSON.stringify(d, null, 1);
        process.stdout.write(
          `${text
            .split('\n')
            .slice(0, 40)
            .map((l) => `#   ${l}`)
            .join('\n')}\n`,
        );
      }
    }
    return pass;
  }
  note(text: string): void {
    process.stdout.write(`# ${text}\n`);
  }
  finish(): number {
    process.stdout.write(`1..${this.n}\n${this.n - this.failed} passed, ${this.failed} failed\n`);
    return this.failed === 0 ? 0 : 1;
  }
}

/* ---- processes ---------------------------------------------------------------- */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs a command to completion; its stdout. */
export function run(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, ...options });
}

/** The xdpfw CLI inside the firewall namespace. */
export function xdpfw(...args: string[]): string {
  return run('ip', ['netns', 'exec', ENV.fw, BIN, ...args]);
}
export const xdpfwJson = <T>(...args: string[]): T => JSON.parse(xdpfw(...args, '--json')) as T;

const started = new Set<Proc>();

/** A process inside a namespace (`ip netns exec` execs it: its pid is the command's own). */
export class Proc {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  exited: Promise<number | null>;
  private partial = '';

  constructor(ns: string, argv: string[]) {
    // Without the loader's "already registered" mark, so a child node registers its own TypeScript hooks.
    const env = { ...process.env };
    delete env.XDPFW_TS_LOADER_HOOKS;
    this.child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'], env });
    started.add(this);
    this.child.stdout!.on('data', (chunk: Buffer) => {
      this.partial += chunk.toString();
      const parts = this.partial.split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => (started.delete(this), resolve(code))));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Waits for a line (from `from` on) that `match` accepts; returns its index, or -1 after `ms`. */
  async waitLine(match: (line: string) => boolean, ms: number, from = 0): Promise<number> {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.lines.findIndex((l, k) => k >= from && match(l));
      if (i >= 0) return i;
      if (Date.now() > end || !this.running) return -1;
      await sleep(10);
    }
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) process.kill(this.pid, sig);
  }

  /** SIGTERM, then SIGKILL after `ms`; the exit code (null when killed). */
  async stop(ms = 5000): Promise<number | null> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), ms);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** Ends every process this driver started that is still running (by pid). */
export async function stopAll(): Promise<void> {
  await Promise.all([...started].map((p) => p.stop(2000)));
}

/* ---- the daemon -------------------------------------------------------------- */

export type LogEvent = Record<string, unknown> & { msg: string; level: number };

export class Daemon extends Proc {
  constructor(args: string[]) {
    super(ENV.fw, [BIN, 'run', ...args]);
  }
  get events(): LogEvent[] {
    return this.lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as LogEvent];
      } catch {
        return [];
      }
    });
  }
  /** The first event from `from` (an index into `lines`) on that `match` accepts. */
  async waitEvent(match: (e: LogEvent) => boolean, ms: number, from = 0): Promise<{ event?: LogEvent; index: number }> {
    let found: LogEvent | undefined;
    const index = await this.waitLine(
      (l) => {
        try {
          const e = JSON.parse(l) as LogEvent;
          if (match(e)) found = e;
          return found !== undefined;
        } catch {
          return false;
        }
      },
      ms,
      from,
    );
    return { event: found, index };
  }
  tail(n = 15): string {
    return [...this.lines.slice(-n), this.stderr.trim()].filter(Boolean).join('\n');
  }
}

/* ---- git ------------------------------------------------------------------ */

export class Repo {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
    fs.mkdirSync(dir, { recursive: true });
    this.git('init', '-q', '-b', 'main');
  }
  git(...args: string[]): string {
    return run('git', args, {
      cwd: this.dir,
      env: { ...process.env, GIT_AUTHOR_NAME: 'netns', GIT_AUTHOR_EMAIL: 'n@x', GIT_COMMITTER_NAME: 'netns', GIT_COMMITTER_EMAIL: 'n@x' },
    }).trim();
  }
  commit(files: Record<string, string>, message: string): string {
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(this.dir, name), text);
    this.git('add', '-A');
    this.git('commit', '-q', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }
}

/* ---- traffic and scraping ------------------------------------------------------------ */

export async function receiver(ports: number[]): Promise<Proc> {
  const p = new Proc(ENV.fw, ['node', '--import', LOADER, UDP, 'recv', ports.join(',')]);
  if ((await p.waitLine((l) => l === 'ready', 15_000)) < 0) throw new Error(`the UDP receiver did not start: ${p.stderr}`);
  return p;
}

/**
 * Starts the sender and waits until it can be stopped cleanly: a SIGTERM
 * that came before its handler was set (a loaded machine starts the child
 * slowly) would end it without its result.
 */
export async function sender(ports: number[], ratePerPort: number): Promise<Proc> {
  const p = new Proc(ENV.cl, ['node', '--import', LOADER, UDP, 'send', ENV.fw4, ports.join(','), String(ratePerPort)]);
  if ((await p.waitLine((l) => l === 'sending', 15_000)) < 0) throw new Error(`the UDP sender did not start: ${p.stderr}`);
  return p;
}

/** Stops a stream and returns its last JSON line. */
export async function finish<T>(p: Proc): Promise<T> {
  await p.stop();
  const last = p.lines.filter((l) => l.startsWith('{')).at(-1);
  if (!last) throw new Error(`no result from ${p.pid}: ${p.stderr}`);
  return JSON.parse(last) as T;
}

/** GET with Node's fetch (a real HTTP client) from inside the firewall namespace. */
export function scrape(url: string): { status: number; body: string } {
  const out = run('ip', [
    'netns',
    'exec',
    ENV.fw,
    'node',
    '-e',
    `fetch(${JSON.stringify(url)}).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))`,
  ]);
  return JSON.parse(out) as { status: number; body: string };
}

/** The value of one Prometheus series, e.g. `xdpfw_rule_packets_total{interface="xdpfw0",rule="allowed",action="allow"}`. */
export function series(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}
