/**
 * Loads a policy revision (read, parse, check, compile) in a worker thread
 * made for that one load, so that a pathological policy cannot stall the
 * daemon's event loop (its /healthz and /metrics) or exhaust its memory: the
 * worker's V8 heap is capped (`resourceLimits`), and it is ended when it runs
 * longer than the time limit. Running out of either, or the worker dying,
 * rejects with a CompileLimitError, which the controller refuses like an
 * invalid policy.
 *
 * The worker gets a plain description of where the files are and hands back
 * structured-clone data only: the compiled policy is plain objects and typed
 * arrays, whose buffers are transferred rather than copied.
 */

import { Worker } from 'node:worker_threads';

import type { LoadedPolicy } from '../../app/policy-loader.js';
import type { Fingerprint } from './fingerprint.js';

/** Where a revision's files are; what the worker (load-worker.ts) builds its SourceHost from. */
export type HostDescription =
  { kind: 'file'; file: string } | { kind: 'directory'; root: string } | { kind: 'git'; gitDir: string; commit: string; file: string };

export interface CompileLimits {
  /** The worker's V8 old generation, in MiB. */
  memoryMb: number;
  /** Wall time from the worker's start to its answer, in ms. */
  timeoutMs: number;
}

export const DEFAULT_COMPILE_LIMITS: CompileLimits = { memoryMb: 2048, timeoutMs: 60_000 };

/** What the worker posts: each file as it starts and ends reading it, then the result or why it failed. */
export type WorkerMessage =
  | { kind: 'reading'; path: string }
  | { kind: 'read'; path: string; digest: string }
  | { kind: 'done'; loaded: LoadedPolicy }
  | { kind: 'failed'; message: string };

/** A load stopped by a limit or by the worker dying: the policy is refused, not retried. */
export class CompileLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompileLimitError';
  }
}

/** Recorded for a file whose reading began but did not end: never equal to a digest, so a look sees it changed. */
export const READ_INCOMPLETE = 'incomplete';

export interface BoundedLoad {
  loaded: LoadedPolicy;
  /** Every path the load began to read (only kept for file sources). */
  fingerprint: Fingerprint;
}

export interface BoundedLoadError {
  error: Error;
  fingerprint: Fingerprint;
}

/**
 * Runs the load in a fresh worker. Resolves with the result and what was
 * read; rejects with `{error, fingerprint}`: a CompileLimitError for a limit
 * or a crash, a plain Error when the load itself threw (a read failure).
 */
export function loadBounded(host: HostDescription, limits: CompileLimits): Promise<BoundedLoad> {
  const fingerprint: Fingerprint = new Map();
  return new Promise((resolve, reject) => {
    let settled = false;
    const worker = startWorker(host, limits);
    const finish = (outcome: { loaded: LoadedPolicy } | { error: Error }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if ('loaded' in outcome) resolve({ loaded: outcome.loaded, fingerprint });
      else reject({ error: outcome.error, fingerprint } satisfies BoundedLoadError);
    };
    const timer = setTimeout(() => {
      finish({ error: new CompileLimitError(`compiling the policy took longer than ${formatSeconds(limits.timeoutMs)}`) });
    }, limits.timeoutMs);
    worker.on('message', (m: WorkerMessage) => {
      if (m.kind === 'reading') {
        if (!fingerprint.has(m.path)) fingerprint.set(m.path, READ_INCOMPLETE);
      } else if (m.kind === 'read') fingerprint.set(m.path, m.digest);
      else if (m.kind === 'done') finish({ loaded: m.loaded });
      else finish({ error: new Error(m.message) });
    });
    worker.on('error', (error: Error & { code?: string }) => {
      const message =
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `compiling the policy exceeded ${limits.memoryMb} MiB`
          : `compiling the policy failed: ${error.message}`;
      finish({ error: new CompileLimitError(message) });
    });
    worker.on('exit', (code) => {
      finish({ error: new CompileLimitError(`compiling the policy failed: the worker exited with code ${code}`) });
    });
  });
}

/**
 * From dist the entry is the compiled load-worker.js. Under tsx or vitest
 * this module is TypeScript, which a worker cannot load by itself: an eval'd
 * bootstrap registers tsx (a devDependency, only needed then) first.
 */
function startWorker(host: HostDescription, limits: CompileLimits): Worker {
  const resourceLimits = {
    maxOldGenerationSizeMb: limits.memoryMb,
    maxYoungGenerationSizeMb: Math.min(64, Math.max(8, Math.ceil(limits.memoryMb / 16))),
    stackSizeMb: 16,
  };
  const options = { workerData: host, resourceLimits, stdout: false, stderr: false };
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./load-worker.js', import.meta.url), options);
  const entry = new URL('./load-worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}

function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}
