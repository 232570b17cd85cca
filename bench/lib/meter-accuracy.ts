/**
 * The accuracy half of bench:meters: one source's packets offered to a
 * token bucket from pinned threads (lib/meter-worker.ts) for a few seconds
 * of real time on the real clock, and what the bucket let through against
 * what it should have, R × T + B. T is the span between the first and the
 * last packet as the program itself saw them (bpf_ktime_get_ns), so the
 * threads' start-up does not count.
 */
import { Worker } from 'node:worker_threads';
import { KernelError } from '../../src/xdp/errors.js';
import * as bpf from '../../src/xdp/libbpf.js';
import type { LoadedObject } from '../../src/xdp/object.js';
import type { MeterJob, MeterJobDone } from './meter-worker.js';

/** The worker's module, started through tsx's loader: a worker does not inherit `tsx` from the command line. */
const WORKER_BOOT = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(
  new URL('./meter-worker.ts', import.meta.url).href,
)}); })`;

export class PinnedWorkers {
  private readonly workers = new Map<number, Worker>();

  private constructor() {}

  /** One thread pinned to each of `cpus`, each ready to run. */
  static async start(cpus: readonly number[]): Promise<PinnedWorkers> {
    const pool = new PinnedWorkers();
    await Promise.all(
      cpus.map(
        (cpu) =>
          new Promise<void>((resolve, reject) => {
            const w = new Worker(WORKER_BOOT, { eval: true, workerData: cpu });
            pool.workers.set(cpu, w);
            w.once('error', reject);
            w.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(`meter worker: ${String(m)}`))));
          }),
      ),
    );
    return pool;
  }

  /** Runs `progFd` on `frame` on each of `cpus` at once for `seconds`. */
  run(cpus: readonly number[], progFd: number, frame: Uint8Array, seconds: number): Promise<MeterJobDone[]> {
    const job: MeterJob = { progFd, frame, untilMs: Date.now() + seconds * 1000 };
    return Promise.all(
      cpus.map(
        (cpu) =>
          new Promise<MeterJobDone>((resolve, reject) => {
            const w = this.workers.get(cpu);
            if (!w) throw new RangeError(`no worker on CPU ${cpu}`);
            w.once('error', reject);
            w.once('message', (done: MeterJobDone) => {
              w.off('error', reject);
              resolve(done);
            });
            w.postMessage(job);
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.terminate()));
  }
}

/** Counters of meter-schemes.bpf.c, summed over CPUs, and when packets were offered. */
export interface MeterCounts {
  passed: number;
  dropped: number;
  casRetries: number;
  casGaveUp: number;
  /** first-to-last packet time over all CPUs, in ns */
  spanNs: number;
  /**
   * Time lost to silences, in ns: when no CPU offered a packet for longer
   * than the bucket's B × cost (descheduled by other work, between test
   * runs), a perfect bucket would have overflowed by the excess. null when
   * a CPU had more silences than the program keeps.
   */
  overflowNs: number | null;
}

/** [from, to) in ns of the monotonic clock. */
type Interval = [bigint, bigint];

function mapFd(obj: LoadedObject, name: string): number {
  const m = obj.maps.get(name);
  if (!m) throw new Error(`${obj.path} has no map ${name}`);
  return m.fd;
}

/** The per-CPU u64 words of entry `key` of per-CPU array `name` (`words` u64s a CPU). */
function perCpu(obj: LoadedObject, name: string, key: number, words: number, ncpus: number): bigint[][] {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(key, 0);
  const value = Buffer.alloc(words * 8 * ncpus);
  const r = bpf.mapLookupElem(mapFd(obj, name), k, value);
  if (r < 0) throw new KernelError(`reading ${name}[${key}]`, -r);
  return Array.from({ length: ncpus }, (_, cpu) => Array.from({ length: words }, (_, w) => value.readBigUInt64LE((cpu * words + w) * 8)));
}

/** The times in both `a` and `b` (each sorted, disjoint). */
export function intersect(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const from = a[i][0] > b[j][0] ? a[i][0] : b[j][0];
    const to = a[i][1] < b[j][1] ? a[i][1] : b[j][1];
    if (from < to) out.push([from, to]);
    if (a[i][1] < b[j][1]) i++;
    else j++;
  }
  return out;
}

export const MAX_SILENCES = 16384;

export function readMeterCounts(obj: LoadedObject, ncpus: number, silenceNs: number): MeterCounts {
  const total = (key: number) => Number(perCpu(obj, 'meter_counters', key, 1, ncpus).reduce((s, [v]) => s + v, 0n));
  const spans = perCpu(obj, 'meter_spans', 0, 3, ncpus)
    .map(([first, last, silences], cpu) => ({ cpu, first, last, silences: Number(silences) }))
    .filter((s) => s.first !== 0n);
  const first = spans.reduce((m, s) => (s.first < m ? s.first : m), spans[0]?.first ?? 0n);
  const last = spans.reduce((m, s) => (s.last > m ? s.last : m), 0n);
  let overflowNs: number | null = null;
  if (spans.length === 0) overflowNs = 0;
  else if (spans.every((s) => s.silences <= MAX_SILENCES)) {
    const gaps = Array.from({ length: Math.max(0, ...spans.map((s) => s.silences)) }, (_, i) => perCpu(obj, 'meter_silences', i, 2, ncpus));
    // each CPU is silent before its first packet, in its recorded gaps, and after its last
    const silent = spans.map((s): Interval[] => [
      [first, s.first],
      ...gaps.slice(0, s.silences).map((g): Interval => [g[s.cpu][0], g[s.cpu][1]]),
      [s.last, last],
    ]);
    const joint = silent.reduce((acc, list) => intersect(acc, list));
    overflowNs = joint.reduce((sum, [from, to]) => sum + Math.max(0, Number(to - from) - silenceNs), 0);
  }
  return {
    passed: total(0),
    dropped: total(1),
    casRetries: total(2),
    casGaveUp: total(3),
    spanNs: spans.length === 0 ? 0 : Number(last - first),
    overflowNs,
  };
}
