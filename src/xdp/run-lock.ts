/**
 * The run directory's lock (libxdp's `xdp_lock_acquire` takes one on its run
 * directory the same way): an flock(2) on `<runDir>/lock`, which serialises
 * every change to pins, links and state between processes. The kernel drops
 * it when its holder dies, so a crash never leaves it stuck. The holder
 * writes who it is into the file, for the message of whoever waits.
 */

import fs from 'node:fs';
import path from 'node:path';

import { KernelError } from './errors.js';
import { flockExclusiveNow, flockRelease } from './libbpf.js';
import { DEFAULT_RUN_DIR, type PinOptions } from './pins.js';

const EWOULDBLOCK = 11;

export interface LockHolder {
  pid: number;
  /** What the holder does, e.g. `xdpfw apply` or `xdpfw run (reload)`. */
  command: string;
  /** ISO time the lock was taken. */
  since: string;
}

export const lockPath = (o: PinOptions = {}): string => path.join(o.runDir ?? DEFAULT_RUN_DIR, 'lock');

export interface HeldLock {
  readonly holder: LockHolder;
  release(): void;
}

/**
 * Takes the lock if it is free: the held lock, or, when another process (or
 * another open of the file in this one) holds it, what that holder wrote
 * (undefined fields when it has not written yet).
 */
export function tryLockRunDir(command: string, o: PinOptions = {}): HeldLock | { busy: Partial<LockHolder> } {
  const file = lockPath(o);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  const errno = flockExclusiveNow(fd);
  if (errno !== 0) {
    fs.closeSync(fd);
    if (errno !== EWOULDBLOCK) throw new KernelError(`locking ${file}`, errno);
    return { busy: readHolder(file) };
  }
  const holder: LockHolder = { pid: process.pid, command, since: new Date().toISOString() };
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${JSON.stringify(holder)}\n`, 0);
  let held = true;
  return {
    holder,
    release() {
      if (!held) return;
      held = false;
      fs.ftruncateSync(fd, 0);
      flockRelease(fd);
      fs.closeSync(fd);
    },
  };
}

function readHolder(file: string): Partial<LockHolder> {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockHolder>;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    return {}; // taken a moment ago, not yet written
  }
}
