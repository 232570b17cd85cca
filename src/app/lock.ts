/**
 * Who may change what xdpfw enforces, and when: every state change (`apply`,
 * `detach`, a controller reload) runs holding the run directory's lock. A
 * second writer waits for it a bounded time, then fails with `error[busy]`
 * naming the holder, rather than racing it for the interface.
 */

import { tryLockRunDir, type LockHolder, type PinOptions } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import { UserError } from './user-error.js';

/** How long a writer waits for the lock by default: a 1M-entry apply holds it ~2 s. */
export const DEFAULT_LOCK_WAIT_MS = 30_000;
const POLL_MS = 20;

export interface LockOptions extends PinOptions {
  /** How long to wait for a holder to finish; default DEFAULT_LOCK_WAIT_MS. */
  waitMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function describe(holder: Partial<LockHolder>): string {
  if (holder.pid === undefined) return 'another xdpfw process';
  const since = holder.since ? ` since ${holder.since}` : '';
  return `${holder.command ?? 'xdpfw'} (pid ${holder.pid}${since})`;
}

/** Runs `body` holding the run directory's lock; `command` is what a waiting writer is told. */
export async function withRunLock<T>(command: string, body: () => Promise<T> | T, o: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (o.waitMs ?? DEFAULT_LOCK_WAIT_MS);
  for (;;) {
    const attempt = tryLockRunDir(command, o);
    if ('release' in attempt) {
      try {
        return await body();
      } finally {
        attempt.release();
      }
    }
    if (Date.now() >= deadline) {
      const waited = ((o.waitMs ?? DEFAULT_LOCK_WAIT_MS) / 1000).toFixed(1);
      throw new UserError(
        'busy',
        `${describe(attempt.busy)} is changing what xdpfw enforces; waited ${waited} s for it`,
        ExitCode.conflict,
        'run the command again once it is done (a daemon holds the lock only while it reloads)',
      );
    }
    await sleep(POLL_MS);
  }
}
