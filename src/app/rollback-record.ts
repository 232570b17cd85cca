/**
 * The record of an apply waiting for `xdpfw confirm` (`apply --confirm`),
 * kept in the namespace's state directory so that it outlives the command:
 * what each interface goes back to, when, and which timer process does it.
 * It lives in a `rollback/` directory, beside the interfaces' `<ifname>.json`
 * states, so that nothing reading those (`gc`, `status`) mistakes it for an
 * interface.
 *
 * The decisions follow routers' `commit confirmed` (Junos): a second
 * `apply --confirm` before the deadline chains — it restarts the timer with
 * its own duration, and the rollback still goes back to what was in force
 * before the first unconfirmed apply, the last confirmed policy; a plain
 * `apply` confirms, as a plain `commit` does.
 */

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { durationSeconds } from '../compiler/syntax/duration.js';
import { namespaceStateDir, type PinOptions } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import { UserError } from './user-error.js';

/** A policy as it was applied: the text of every file it read, so that edits made since do not change what comes back. */
export interface RestorePolicy {
  policyFile: string;
  policyHash: string;
  mode: 'native' | 'generic';
  /** The policy, its includes and set files, by the absolute path each was read at. */
  texts: Record<string, string>;
}

export interface RestoreEntry {
  interface: string;
  /** null: xdpfw enforced nothing there before, and the rollback detaches. */
  policy: RestorePolicy | null;
}

export interface PendingRollback {
  version: 1;
  /** Names this rollback's timer (it is in the timer's command line), so a pid reused by another process is never signalled. */
  token: string;
  /** The unconfirmed policy: the latest one when applies chained. */
  policyFile: string;
  /** When the first unconfirmed apply opened the window, and when it closes. */
  since: string;
  deadline: string;
  /** The `xdpfw rollback-timer` process that restores at the deadline; null until it is started. */
  timerPid: number | null;
  interfaces: RestoreEntry[];
  /** The timer's restore failed (what it could restore, it did): `confirm` clears the record. */
  failed?: { at: string; message: string };
}

/** What the last rollback that ran did, for `status` and for `confirm` arriving too late. */
export interface CompletedRollback {
  at: string;
  /** The policy that was rolled back. */
  policyFile: string;
  interfaces: { interface: string; restored: string | null }[];
}

type Literal = Parameters<typeof durationSeconds>[0];

/** `--confirm` is at most a day: a longer window is a policy nobody confirmed, still in force. */
export const MAX_CONFIRM_SECONDS = 24 * 3600;

/** Seconds of `--confirm DURATION` (30s, 10m, 1h, or seconds), 1 s to a day. */
export function parseConfirmDuration(text: string): number {
  const m = /^(\d+)([a-z]*)$/.exec(text.trim());
  // durationSeconds reads a literal's kind, value and unit; a command-line word has no span.
  const literal =
    m && ((m[2] ? { kind: 'duration', value: Number(m[1]), unit: m[2] } : { kind: 'number', value: Number(m[1]) }) as Literal);
  const seconds = literal ? durationSeconds(literal, MAX_CONFIRM_SECONDS) : null;
  if (typeof seconds !== 'number' || seconds < 1) {
    const why = typeof seconds === 'object' && seconds !== null ? seconds.error : `'${text}' is not a duration of 1 s or more`;
    throw new UserError(
      'bad-confirm',
      `--confirm: ${why}`,
      ExitCode.usage,
      'give the time to confirm in: 30s, 10m, 1h (at most 24h), or a number of seconds',
    );
  }
  return seconds;
}

/**
 * The record after an `apply --confirm` of `policyFile` over the interfaces
 * whose policies in force are `current`: a rollback already pending keeps
 * what it restores (the last confirmed policies), takes in the interfaces it
 * did not cover, and gets the new deadline and a new timer.
 */
export function planConfirmedApply(
  pending: PendingRollback | undefined,
  current: readonly RestoreEntry[],
  apply: { policyFile: string; seconds: number; now: Date; token?: string },
): PendingRollback {
  const kept = pending?.interfaces ?? [];
  const added = current.filter((entry) => !kept.some((k) => k.interface === entry.interface));
  return {
    version: 1,
    token: apply.token ?? randomBytes(12).toString('hex'),
    policyFile: apply.policyFile,
    since: pending?.since ?? apply.now.toISOString(),
    deadline: new Date(apply.now.getTime() + apply.seconds * 1000).toISOString(),
    timerPid: null,
    interfaces: [...kept, ...added],
  };
}

const rollbackDir = (o: PinOptions) => path.join(namespaceStateDir(o), 'rollback');
const pendingPath = (o: PinOptions) => path.join(rollbackDir(o), 'pending.json');
const completedPath = (o: PinOptions) => path.join(rollbackDir(o), 'completed.json');
/** The sources of the policy last applied to an interface, what a later `--confirm` restores. */
export const appliedSourcesPath = (ifname: string, o: PinOptions = {}) => path.join(rollbackDir(o), 'sources', `${ifname}.json`);

/** Writes `value` as JSON atomically (temp file + rename). */
export function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

export function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new Error(`${file} is not valid JSON`, { cause: error });
  }
}

export function readPendingRollback(o: PinOptions = {}): PendingRollback | undefined {
  const record = readJson<PendingRollback>(pendingPath(o));
  return record?.version === 1 ? record : undefined;
}

export function writePendingRollback(record: PendingRollback, o: PinOptions = {}): void {
  writeJson(pendingPath(o), record);
}

export function removePendingRollback(o: PinOptions = {}): void {
  fs.rmSync(pendingPath(o), { force: true });
}

export function readCompletedRollback(o: PinOptions = {}): CompletedRollback | undefined {
  return readJson<CompletedRollback>(completedPath(o));
}

export function writeCompletedRollback(done: CompletedRollback, o: PinOptions = {}): void {
  writeJson(completedPath(o), done);
}

export function removeCompletedRollback(o: PinOptions = {}): void {
  fs.rmSync(completedPath(o), { force: true });
}

/** Whether `pid` is the timer of the rollback named by `token` (its command line holds both). */
export function isRollbackTimer(pid: number, token: string): boolean {
  let args: string[];
  try {
    args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return false; // gone
  }
  return args.includes('rollback-timer') && args.includes(token);
}

/** "2m 58s", "1h 0m 5s", "0s": the time left before `deadline`. */
export function timeLeft(deadline: string, now = new Date()): string {
  let seconds = Math.max(0, Math.round((Date.parse(deadline) - now.getTime()) / 1000));
  const parts: string[] = [];
  for (const [unit, size] of [
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size || parts.length > 0) parts.push(`${Math.floor(seconds / size)}${unit}`);
    seconds %= size;
  }
  return [...parts, `${seconds}s`].join(' ');
}
