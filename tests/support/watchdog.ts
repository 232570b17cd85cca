import { Worker } from 'node:worker_threads';

/**
 * Turns a hang into a failure. A test that drives synchronous code in-process
 * cannot time itself out: a read that blocks (a FIFO with no writer) or a
 * loop that never ends holds the thread, and vitest's timeout never fires.
 * A worker thread watches a counter the test bumps around each step; when a
 * step outlasts `limitMs` it writes which one to stderr and kills the test
 * process, which vitest reports as a failed run instead of waiting forever.
 */
export class Watchdog {
  private readonly counter = new Int32Array(new SharedArrayBuffer(8)); // [steps entered and left, stop]
  private readonly label = new Uint8Array(new SharedArrayBuffer(LABEL_BYTES + 4));
  private readonly worker: Worker;

  constructor(limitMs: number) {
    this.worker = new Worker(WATCHER, { eval: true, workerData: { counter: this.counter, label: this.label, limitMs } });
    this.worker.unref();
  }

  /** A step begins; `label` says which, should it hang. */
  enter(label: string): void {
    const bytes = new TextEncoder().encode(label).subarray(0, LABEL_BYTES);
    this.label.set(bytes, 4);
    new DataView(this.label.buffer).setUint32(0, bytes.length, true);
    this.bump();
  }

  leave(): void {
    this.bump();
  }

  async stop(): Promise<void> {
    Atomics.store(this.counter, 1, 1);
    Atomics.notify(this.counter, 0);
    await this.worker.terminate();
  }

  private bump(): void {
    Atomics.add(this.counter, 0, 1);
    Atomics.notify(this.counter, 0);
  }
}

const LABEL_BYTES = 512;

// Plain JavaScript: the worker is evaluated without the test's TypeScript loader.
// An odd counter is a step under way; fs.writeSync because the main thread,
// which relays a worker's process.stderr, is the one that is stuck.
const WATCHER = `
const { workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { counter, label, limitMs } = workerData;
for (;;) {
  const seen = Atomics.load(counter, 0);
  const woke = Atomics.wait(counter, 0, seen, limitMs);
  if (Atomics.load(counter, 1) === 1) break;
  if (woke === 'timed-out' && seen % 2 === 1) {
    const length = new DataView(label.buffer).getUint32(0, true);
    const what = new TextDecoder().decode(label.slice(4, 4 + length));
    writeSync(2, '\\nwatchdog: ' + what + ' has run for more than ' + limitMs + ' ms; killing the test process\\n');
    process.kill(process.pid, 'SIGKILL');
  }
}
`;
