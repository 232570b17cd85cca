/**
 * `apply --confirm` with real traffic: the host (veth0) holds one TCP
 * connection to an echo server on its peer. A policy that drops the echoes,
 * applied with `--confirm 3s` over the file edited in place, stalls the
 * connection; at the deadline the timer process puts the previous policy back
 * and the same socket carries data again. A confirmed apply stays after its
 * deadline; a rollback over an interface that had no policy detaches it.
 * Every timer the tests start is ended after them, also when one fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { FlowRunner } from '../conntrack/flow-runner.js';
import { REPO, TS_LOADER, skipWithoutRoot } from '../xdp/helpers/env.js';
import { cliNamespace, xdpfwIn } from './netns-cli.js';

const PEER = '10.99.0.2';
const PORT = '8090';
const STREAM = path.join(REPO, 'tests/kernel/cli/confirm-stream.ts');

const OPEN = 'interface veth0 {\n  allow tcp sport 8090 name "echo"\n  default allow\n}\n';
const CUTTING = 'interface veth0 {\n  drop tcp sport 8090 name "cut"\n  default allow\n}\n';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The process runs: it exists and is not a zombie. The timer outlives the
 * apply that started it, so when it ends it waits for whoever adopted it
 * (init, or a subreaper of the test's) to reap it, as a zombie.
 */
function running(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return false;
  }
}

interface StatusJson {
  interfaces: { interface: string; policyHash: string | null; rules: number | null }[];
  rollback: {
    policyFile: string;
    deadline: string;
    timerPid: number | null;
    timerRunning: boolean;
    interfaces: { interface: string; restore: { policyFile: string; policyHash: string } | null }[];
    failed: unknown;
  } | null;
  rolledBack: { at: string; policyFile: string; interfaces: { interface: string; restored: string | null }[] } | null;
}

/** A connection's echoed byte count, as the stream process last reported it. */
class Stream {
  received = 0;
  constructor(readonly child: ChildProcess) {
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        const parsed = JSON.parse(line) as { received?: number };
        if (parsed.received !== undefined) this.received = parsed.received;
      }
    });
  }

  /** Whether the echoed count grows within `ms`. */
  async grows(ms: number): Promise<boolean> {
    const start = this.received;
    const until = Date.now() + ms;
    while (Date.now() < until) {
      await sleep(100);
      if (this.received > start) return true;
    }
    return false;
  }
}

describe.skipIf(skipWithoutRoot('apply --confirm with real traffic'))('apply --confirm rolls back unless confirmed', () => {
  const { ns } = cliNamespace('confirm');
  const dir = scratchDir('xdpfw-confirm-');
  const file = path.join(dir, 'host.xdpfw');
  const flows = new FlowRunner();
  const timers = new Set<number>();
  let stream: Stream;

  const xdpfw = (...args: string[]) => xdpfwIn(ns, ...args);
  const status = async (): Promise<StatusJson> => {
    const r = await xdpfw('status', '--json');
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as StatusJson;
  };
  /** `apply --confirm` of `text` written over the policy file; remembers the timer to end it after the tests. */
  const applyConfirm = async (text: string, duration: string) => {
    fs.writeFileSync(file, text);
    const r = await xdpfw('apply', file, '--confirm', duration, '--json');
    expect(r.code, r.stderr).toBe(0);
    const rollback = (JSON.parse(r.stdout) as { rollback: { timerPid: number; deadline: string } }).rollback;
    timers.add(rollback.timerPid);
    return rollback;
  };
  const hashOf = async () => (await status()).interfaces.find((i) => i.interface === 'veth0')?.policyHash ?? null;

  beforeAll(async () => {
    fs.writeFileSync(file, OPEN);
    const applied = await xdpfw('apply', file);
    expect(applied.code, applied.stderr).toBe(0);
    await flows.once(ns.peer, 'tcp-server', PEER, PORT);
    const child = flows.adopt(
      spawn('ip', ['netns', 'exec', ns.name, process.execPath, '--import', TS_LOADER, STREAM, PEER, PORT], {
        stdio: ['pipe', 'pipe', 'inherit'],
      }),
    );
    stream = new Stream(child);
  }, 60_000);

  afterAll(async () => {
    for (const pid of timers) {
      let cmdline = '';
      try {
        cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // ended
      }
      if (cmdline.includes('rollback-timer')) process.kill(pid, 'SIGKILL');
    }
    flows.killAll();
    await xdpfw('detach');
  });

  it('rolls an unconfirmed policy back at the deadline, and the stalled connection recovers on the same socket', async () => {
    expect(await stream.grows(3000)).toBe(true);
    const previous = await hashOf();

    const rollback = await applyConfirm(CUTTING, '3s');
    const pending = (await status()).rollback;
    expect(pending).toMatchObject({
      policyFile: file,
      deadline: rollback.deadline,
      timerPid: rollback.timerPid,
      timerRunning: true,
      interfaces: [{ interface: 'veth0', restore: { policyFile: file, policyHash: previous } }],
      failed: null,
    });
    const text = await xdpfw('status');
    expect(text.stdout).toMatch(new RegExp(`pending rollback of ${file} at ${rollback.deadline} \\(in [0-9]s\\) unless \`xdpfw confirm\``));
    expect(text.stdout).toContain(`  veth0: back to policy ${file} (${previous!.slice(0, 12)})`);

    await sleep(300); // what was in flight when the policy changed
    expect(await stream.grows(1500)).toBe(false);

    const remaining = Date.parse(rollback.deadline) - Date.now();
    await sleep(Math.max(0, remaining));
    expect(await stream.grows(15_000)).toBe(true);
    const after = await status();
    expect(after.interfaces.find((i) => i.interface === 'veth0')?.policyHash).toBe(previous);
    expect(after.rollback).toBeNull();
    expect(after.rolledBack).toMatchObject({ policyFile: file, interfaces: [{ interface: 'veth0', restored: file }] });
    expect(running(rollback.timerPid)).toBe(false);
  }, 60_000);

  it('says that confirm came too late once the rollback ran', async () => {
    const r = await xdpfw('confirm');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`error\\[nothing-to-confirm\\]: no apply is waiting for confirmation: the apply of ${file} was rolled back at \\S+Z`),
    );
  });

  it('keeps a confirmed policy after its deadline, and ends its timer', async () => {
    const rollback = await applyConfirm(CUTTING, '3s');
    const cutting = await hashOf();
    const confirmed = await xdpfw('confirm');
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toBe(`confirmed ${file} on veth0: the rollback due at ${rollback.deadline} is cancelled\n`);
    await sleep(Math.max(0, Date.parse(rollback.deadline) - Date.now()) + 1000);
    expect(await hashOf()).toBe(cutting);
    expect((await status()).rollback).toBeNull();
    expect(running(rollback.timerPid)).toBe(false);
    expect(await stream.grows(1000)).toBe(false);
  }, 30_000);

  it('detaches at the deadline an interface that had no policy before', async () => {
    const detached = await xdpfw('detach');
    expect(detached.code, detached.stderr).toBe(0);
    const rollback = await applyConfirm(OPEN, '2s');
    expect((await status()).rollback?.interfaces).toEqual([{ interface: 'veth0', restore: null }]);
    expect(ns.xdpProg()).not.toBeNull();
    await sleep(Math.max(0, Date.parse(rollback.deadline) - Date.now()) + 1500);
    expect(ns.xdpProg()).toBeNull();
    expect((await status()).rolledBack?.interfaces).toEqual([{ interface: 'veth0', restored: null }]);
  }, 30_000);
});
