/**
 * Basic authentication against bcrypt hashes, as exporter-toolkit does it:
 * an unknown user is checked against a decoy hash so that timing does not
 * tell which names exist, names are compared in constant time, and a
 * successful user and password is remembered for a while, so a scrape every
 * 15 s costs one bcrypt (~100 ms at cost 10) a minute, not one a scrape.
 *
 * bcrypt runs in a worker thread (bcrypt-worker.ts), so the daemon's event
 * loop, its reloads and scrapes, go on while a password is checked; checks
 * run one at a time (exporter-toolkit takes a mutex), and a flood of wrong
 * passwords finds the queue full and is answered at once instead of keeping
 * a CPU busy for as long as it lasts.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { Worker } from 'node:worker_threads';

import type { PasswordCheck } from './bcrypt-worker.js';

/** How long a user and password that matched are taken as good without bcrypt. */
export const REMEMBER_MS = 60_000;
/** Password checks that may wait for the one under way; more are answered `busy`. */
export const MAX_WAITING = 4;
const MAX_REMEMBERED = 100;
/** exporter-toolkit's decoy: bcrypt of "fakepassword" at cost 10. */
const DECOY_HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

export type AuthResult = 'ok' | 'denied' | 'busy';

const sha256 = (...parts: string[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest();
};

export class BasicAuth {
  private readonly users: { digest: Buffer; hash: string }[];
  private readonly remembered = new Map<string, number>();
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;

  constructor(
    users: Map<string, string>,
    private readonly now: () => number = Date.now,
    private readonly compare: (password: string, hash: string) => Promise<boolean> = compareInWorker,
  ) {
    this.users = [...users].map(([name, hash]) => ({ digest: sha256(name), hash }));
  }

  /** Checks an `Authorization` header. */
  async check(header: string | undefined): Promise<AuthResult> {
    const credentials = parseBasic(header);
    if (!credentials) return 'denied';
    const hash = this.hashOf(credentials.user);
    const key = sha256(credentials.user, hash ?? '', credentials.password).toString('hex');
    const until = this.remembered.get(key);
    if (until !== undefined && until > this.now()) return 'ok';
    if (this.pending > MAX_WAITING) return 'busy';
    this.pending++;
    const compared = this.queue.then(() => this.compare(credentials.password, hash ?? DECOY_HASH));
    this.queue = compared.catch(() => undefined);
    let matched: boolean;
    try {
      matched = await compared;
    } finally {
      this.pending--;
    }
    if (!matched || hash === undefined) return 'denied';
    this.remember(key);
    return 'ok';
  }

  /** The user's hash; every configured name is compared, each in constant time, whichever matches. */
  private hashOf(user: string): string | undefined {
    const digest = sha256(user);
    let found: string | undefined;
    for (const u of this.users) if (timingSafeEqual(u.digest, digest)) found = u.hash;
    return found;
  }

  private remember(key: string): void {
    const now = this.now();
    if (this.remembered.size >= MAX_REMEMBERED) {
      for (const [k, until] of this.remembered) if (until <= now) this.remembered.delete(k);
      // Still full: the oldest goes (a Map iterates in insertion order).
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.delete(this.remembered.keys().next().value!);
    }
    this.remembered.set(key, now + REMEMBER_MS);
  }
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

let worker: Worker | undefined;
let nextId = 0;
const waiting = new Map<number, { resolve: (matched: boolean) => void; reject: (error: Error) => void }>();

/**
 * Compares in the one bcrypt worker, started at the first check and unref'd
 * (it never keeps the daemon alive). From dist the entry is the compiled
 * bcrypt-worker.js; under tsx or vitest this module is TypeScript, and an
 * eval'd bootstrap registers tsx first (as bounded-load.ts does).
 */
function compareInWorker(password: string, hash: string): Promise<boolean> {
  if (!worker) {
    const w = import.meta.url.endsWith('.ts')
      ? new Worker(
          `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(new URL('./bcrypt-worker.ts', import.meta.url).href)}); });`,
          { eval: true },
        )
      : new Worker(new URL('./bcrypt-worker.js', import.meta.url));
    w.on('message', (m: { id: number; matched: boolean }) => {
      waiting.get(m.id)?.resolve(m.matched);
      waiting.delete(m.id);
    });
    w.on('error', (error) => {
      for (const p of waiting.values()) p.reject(error);
      waiting.clear();
      worker = undefined;
    });
    // After the listeners: adding a 'message' listener refs the worker again.
    w.unref();
    worker = w;
  }
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker!.postMessage({ id, password, hash } satisfies PasswordCheck);
  });
}
