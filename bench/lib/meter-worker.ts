/**
 * A thread of bench:meters pinned to one CPU: it test-runs the program it is
 * sent on one frame, chunk after chunk, until the deadline it is sent, and
 * answers how many packets it ran. Two of them, one a CPU, offer one
 * source's packets to a token bucket from both CPUs at once. A thread, not a
 * process: program fds are the process's, so nothing has to be passed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import koffi from 'koffi';
import { TestRunner } from '../../src/xdp/test-run.js';

export interface MeterJob {
  progFd: number;
  frame: Uint8Array;
  /** Date.now() at which to stop. */
  untilMs: number;
}

export interface MeterJobDone {
  cpu: number;
  packets: number;
  /** Wall time from the first run to the last, in ns. */
  ns: number;
}

/** ~5 ms of packets a call: short enough to stop on time, long enough that the syscall does not count. */
const CHUNK = 50_000;

const libc = koffi.load('libc.so.6');
const schedSetaffinity = libc.func('int sched_setaffinity(int pid, size_t size, const uint8_t *mask)');

/** Pins the calling thread (pid 0 is the thread, not the process) to `cpu`. */
export function pinThread(cpu: number): void {
  const mask = Buffer.alloc(128);
  mask[cpu >> 3] = 1 << (cpu & 7);
  if ((schedSetaffinity(0, mask.length, mask) as number) !== 0) {
    throw new Error(`sched_setaffinity to CPU ${cpu} failed: errno ${koffi.errno()}`);
  }
}

function runJob(cpu: number, job: MeterJob): MeterJobDone {
  const runner = new TestRunner(job.progFd);
  let packets = 0;
  const t0 = process.hrtime.bigint();
  while (Date.now() < job.untilMs) {
    runner.timed(job.frame, CHUNK);
    packets += CHUNK;
  }
  return { cpu, packets, ns: Number(process.hrtime.bigint() - t0) };
}

if (parentPort && typeof workerData === 'number') {
  const cpu = workerData;
  const port = parentPort;
  pinThread(cpu);
  port.on('message', (job: MeterJob) => port.postMessage(runJob(cpu, job)));
  port.postMessage('ready');
}
