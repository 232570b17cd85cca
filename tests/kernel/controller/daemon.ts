/**
 * The real daemon (bin/xdpfw.js run, built from these sources) as a child
 * process inside a test namespace, its JSON log kept for the test to wait on.
 */

import { spawn, type ChildProcess } from 'node:child_process';

import { CLI } from '../cli/netns-cli.js';
import { REPO, TestNetns, run } from '../xdp/helpers/env.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export interface LogEvent {
  msg: string;
  level: number;
  hash?: string;
  interface?: string;
}

export class Daemon {
  private out = '';
  readonly child: ChildProcess;

  /** `launcher`: command words the daemon runs under (a sandbox), between `ip netns exec` and node. */
  constructor(ns: TestNetns, args: string[], launcher: string[] = [], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn('ip', ['netns', 'exec', ns.name, ...launcher, process.execPath, CLI, 'run', ...args], { cwd: REPO, env });
    this.child.stdout!.on('data', (d) => (this.out += d));
    this.child.stderr!.on('data', (d) => (this.out += d));
  }

  get log(): string {
    return this.out;
  }

  events(): LogEvent[] {
    return this.out
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogEvent);
  }

  /** Waits until `count` events (counted from `from`) match. */
  async waitFor(what: (e: LogEvent) => boolean, withinMs = 15_000, from = 0): Promise<LogEvent> {
    const end = Date.now() + withinMs;
    for (;;) {
      const found = this.events().slice(from).find(what);
      if (found) return found;
      if (Date.now() > end) throw new Error(`the daemon did not log what was awaited within ${withinMs} ms; its log:\n${this.out}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const closed = new Promise((r) => this.child.once('close', r));
    this.child.kill('SIGTERM');
    await closed;
  }
}

/** veth0 (10.99.0.1) in the namespace with its peer veth1 (10.99.0.2) in the peer namespace, as TestNetns.create makes them. */
export function addVeth(ns: TestNetns): void {
  const ip = (netns: string, ...args: string[]) => run('ip', ['-n', netns, ...args]);
  ip(ns.name, 'link', 'add', 'veth0', 'type', 'veth', 'peer', 'name', 'veth1', 'netns', ns.peer);
  ip(ns.name, 'addr', 'add', '10.99.0.1/24', 'dev', 'veth0');
  ip(ns.peer, 'addr', 'add', '10.99.0.2/24', 'dev', 'veth1');
  ip(ns.name, 'link', 'set', 'veth0', 'up');
  ip(ns.peer, 'link', 'set', 'veth1', 'up');
  const mac = (netns: string, dev: string) => (JSON.parse(ip(netns, '-j', 'link', 'show', 'dev', dev)) as { address: string }[])[0].address;
  ip(ns.name, 'neigh', 'replace', '10.99.0.2', 'lladdr', mac(ns.peer, 'veth1'), 'dev', 'veth0', 'nud', 'permanent');
  ip(ns.peer, 'neigh', 'replace', '10.99.0.1', 'lladdr', mac(ns.name, 'veth0'), 'dev', 'veth1', 'nud', 'permanent');
}

/** GET on the daemon's metrics address, from inside the namespace. */
export function httpGet(ns: TestNetns, url: string): { status: number; body: string } {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })))`;
  return JSON.parse(run('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script])) as { status: number; body: string };
}

/** The value of one series (name and labels as the exposition writes them) in a /metrics body. */
export function metric(body: string, series: string): number | undefined {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** One answer of pollGet: when it came (epoch ms), how long it took, its status or why none came. */
export interface Sample {
  at: number;
  ms: number;
  status?: number;
  error?: string;
  /** With `keepBodies`. */
  body?: string;
}

/** GETs `url` from inside the namespace, again `everyMs` after each answer, each answer's time a JSON line, until stopped. */
export function pollGet(ns: TestNetns, url: string, everyMs: number, keepBodies = false): { stop: () => Promise<Sample[]> } {
  const script = `
    const once = async () => {
      const t = performance.now();
      try {
        const r = await fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(10000) });
        const body = await r.text();
        console.log(JSON.stringify({ at: Date.now(), ms: performance.now() - t, status: r.status, body: ${keepBodies} ? body : undefined }));
      } catch (e) {
        console.log(JSON.stringify({ at: Date.now(), ms: performance.now() - t, error: String(e) }));
      }
      setTimeout(once, ${everyMs});
    };
    once();`;
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script]);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  return {
    stop: async () => {
      const closed = new Promise((r) => child.once('close', r));
      child.kill('SIGTERM');
      await closed;
      return out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Sample);
    },
  };
}
