/**
 * The rate-limit namespace test's instruments: UDP senders and a counting
 * receiver (udp-traffic.ts) run inside the test namespaces, and readers of
 * what the kernel keeps for a namespace (a rule's packets per CPU, the
 * meter table's buckets) through its pins.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

import * as bpf from '../../../src/xdp/libbpf.js';
import { closeFd } from '../../../src/xdp/libbpf.js';
import { openMeterTable } from '../../../src/xdp/limits.js';
import { interfacePinDir, openPinned, PIN } from '../../../src/xdp/pins.js';
import { REPO, TS_LOADER, TestNetns, fixtureObject, run } from '../xdp/helpers/env.js';

const SCRIPT = path.join(REPO, 'tests/kernel/limits/udp-traffic.ts');
const FLOOD = path.join(REPO, 'tests/kernel/conntrack/synflood-send.ts');

/** One udp-traffic.ts process: its JSON lines, handed to whoever waits for them. */
class Worker {
  private readonly waiting: {
    want: (o: Record<string, unknown>) => boolean;
    resolve: (o: Record<string, unknown>) => void;
    reject: (e: Error) => void;
  }[] = [];

  constructor(readonly child: ChildProcess) {
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>;
        buffered = buffered.slice(nl + 1);
        const at = this.waiting.findIndex((w) => w.want(line));
        if (at >= 0) this.waiting.splice(at, 1)[0]!.resolve(line);
      }
    });
    child.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`udp-traffic.ts exited ${code}`));
    });
  }

  /** Writes `line` (if any) and resolves with the first line that `want` accepts. */
  ask(line: string | null, want: (o: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      if (this.child.exitCode !== null) reject(new Error(`udp-traffic.ts exited ${this.child.exitCode}`));
      this.waiting.push({ want, resolve, reject });
      if (line !== null) this.child.stdin!.write(`${line}\n`);
    });
  }
}

/**
 * The test's traffic: a receiver in the host namespace and a sender on
 * each CPU in the peer's, up for the whole file; killed at its end.
 */
export class Lab {
  private readonly workers: Worker[] = [];
  private senders: Worker[] = [];
  private receiver: Worker | null = null;
  private flows = 0;

  private async start(ns: string, args: string[], cpu?: number): Promise<Worker> {
    const pin = cpu === undefined ? [] : ['taskset', '-c', String(cpu)];
    const child = spawn('ip', ['netns', 'exec', ns, ...pin, process.execPath, '--import', TS_LOADER, SCRIPT, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const worker = new Worker(child);
    this.workers.push(worker);
    await worker.ask(null, () => true);
    return worker;
  }

  /** Starts the receiver on HOST's PORTS in `host`, and the senders (CPU 0 and 1) in `peer`. */
  async open(host: { ns: string; address: string; ports: number[] }, peer: string): Promise<void> {
    [this.receiver, ...this.senders] = await Promise.all([
      this.start(host.ns, ['receive', host.address, ...host.ports.map(String)]),
      this.start(peer, ['sender'], 0),
      this.start(peer, ['sender'], 1),
    ]);
  }

  /** COUNT datagrams from SRC to DST:PORT over SECONDS, from CPU `cpu`; how long it took from the first to the last. */
  async send(src: string, dst: string, port: number, count: number, seconds: number, cpu = 0): Promise<number> {
    const id = ++this.flows;
    const flow = JSON.stringify({ id, src, dst, port, count, seconds });
    const done = await this.senders[cpu]!.ask(flow, (o) => o.id === id);
    if (done.sent !== count) throw new Error(`the sender sent ${String(done.sent)} of ${count}`);
    return done.seconds as number;
  }

  /** Datagrams received so far from `src` on `port`, once what is in flight has arrived. */
  async received(port: number, src: string): Promise<number> {
    await new Promise((r) => setTimeout(r, 150));
    const counts = (await this.receiver!.ask('', () => true)) as Record<string, number>;
    return counts[`${port} ${src}`] ?? 0;
  }

  /**
   * PACKETS TCP SYNs to HOST:PORT from random sources in 10.200.0.0/16, put
   * on the peer's veth1 by the synflood fixture in live-frames mode
   * (tests/kernel/conntrack/synflood-send.ts).
   */
  spoofedFlood(
    ns: TestNetns,
    host: string,
    port: number,
    o: { packets: number; chunk: number; pauseMs: number },
  ): Promise<{ sent: number; seconds: number }> {
    const mac = (where: string, dev: string) =>
      (JSON.parse(run('ip', ['-n', where, '-j', 'link', 'show', 'dev', dev])) as { address: string }[])[0]!.address;
    const args = [mac(ns.peer, 'veth1'), mac(ns.name, 'veth0'), host, port, o.packets, o.chunk, o.pauseMs].map(String);
    const child = spawn(
      'ip',
      ['netns', 'exec', ns.peer, process.execPath, '--import', TS_LOADER, FLOOD, fixtureObject('synflood'), 'veth1', ...args],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    this.workers.push(new Worker(child));
    let report = '';
    child.stdout!.on('data', (d: Buffer) => (report += d.toString()));
    return new Promise((resolve, reject) =>
      child.on('exit', (code) =>
        code === 0
          ? resolve(JSON.parse(report) as { sent: number; seconds: number })
          : reject(new Error(`the flood's sender exited ${code}`)),
      ),
    );
  }

  close(): void {
    for (const { child } of this.workers) if (child.exitCode === null) child.kill('SIGKILL');
  }
}

/** Packets rule `index` of `ifname` decided, on each CPU (xdpfw_rule_counters, per-CPU). */
export function rulePacketsPerCpu(netnsId: string, ifname: string, index: number): number[] {
  const fd = openPinned(path.join(interfacePinDir(ifname, { netnsId }), PIN.ruleCounters), 'rule counters');
  if (fd === null) throw new Error(`no rule counters pinned for ${ifname}`);
  try {
    const ncpus = bpf.numPossibleCpus();
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    const value = Buffer.alloc(16 * ncpus); // struct xdpfw_counter { packets, bytes } per CPU
    if (bpf.mapLookupElem(fd, key, value) !== 0) throw new Error(`no rule counter ${index}`);
    return Array.from({ length: ncpus }, (_, cpu) => Number(value.readBigUInt64LE(16 * cpu)));
  } finally {
    closeFd(fd);
  }
}

/** How many buckets the namespace's meter table holds. */
export function meterBuckets(netnsId: string): number {
  const fd = openMeterTable({ netnsId });
  if (fd === null) throw new Error('no meter table pinned');
  try {
    let n = 0;
    let previous: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(64); // larger than any bucket key
      if (bpf.mapGetNextKey(fd, previous, next) !== 0) return n;
      n++;
      previous = next;
    }
  } finally {
    closeFd(fd);
  }
}
