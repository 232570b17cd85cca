/**
 * Runs tests/kernel/conntrack/flows.ts modes inside test namespaces and
 * ends them all at the end of a test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

import { REPO, TS_LOADER } from '../xdp/helpers/env.js';

const FLOWS = path.join(REPO, 'tests/kernel/conntrack/flows.ts');

export interface Started {
  child: ChildProcess;
  /** The mode's first JSON line. */
  first: Record<string, unknown>;
}

export class FlowRunner {
  private readonly children: ChildProcess[] = [];

  /** Starts a mode in namespace `ns`; resolves with its first JSON line. */
  start(ns: string, ...args: string[]): Promise<Started> {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', TS_LOADER, FLOWS, ...args], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.children.push(child);
    return new Promise((resolve, reject) => {
      let buffered = '';
      child.stdout!.on('data', (d: Buffer) => {
        buffered += d.toString();
        const nl = buffered.indexOf('\n');
        if (nl >= 0) resolve({ child, first: JSON.parse(buffered.slice(0, nl)) as Record<string, unknown> });
      });
      child.on('exit', (code) => reject(new Error(`flows.ts ${args.join(' ')} exited ${code} before a line`)));
    });
  }

  /** A mode that prints one line and ends (a round trip). */
  async once(ns: string, ...args: string[]): Promise<Record<string, unknown>> {
    return (await this.start(ns, ...args)).first;
  }

  /** Ends a stream (closes its stdin) and resolves with its last JSON line. */
  finish(stream: ChildProcess): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      let text = '';
      stream.stdout!.on('data', (d: Buffer) => (text += d.toString()));
      stream.on('exit', () => resolve(JSON.parse(text.trim().split('\n').at(-1)!) as Record<string, unknown>));
      stream.stdin!.end();
    });
  }

  /** Kills what is still running; also a spawned process handed over with `adopt`. */
  killAll(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
  }

  adopt(child: ChildProcess): ChildProcess {
    this.children.push(child);
    return child;
  }
}
