/**
 * The rollback of an unconfirmed `apply --confirm`: a detached timer
 * process, `xdpfw rollback-timer TOKEN`, sleeps until the deadline and then,
 * holding the run directory's lock as `apply` does, gives every interface
 * the policy it had before (its kept texts, compiled again) or detaches it.
 * A process of its own, not the controller, so that it works with or without
 * `xdpfw run` and outlives the shell that ran `apply` (an SSH session cut by
 * the policy being tried). `confirm` cancels it under the same lock, so a
 * confirmation and the restore never both happen.
 */

import { spawn } from 'node:child_process';
import { isSea } from 'node:sea';

import { detach, loadPolicyProgram, removeState, type PinOptions } from '../xdp/index.js';
import { enforce, policyInForce } from './enforce.js';
import { ExitCode } from './exit-codes.js';
import { withRunLock } from './lock.js';
import { loadAndCompile } from './policy-loader.js';
import {
  isRollbackTimer,
  planConfirmedApply,
  readCompletedRollback,
  readPendingRollback,
  removeCompletedRollback,
  removePendingRollback,
  writeCompletedRollback,
  writePendingRollback,
  type PendingRollback,
  type RestoreEntry,
} from './rollback-record.js';
import { KeptSourceHost, keepAppliedSources } from './rollback-sources.js';
import { UserError } from './user-error.js';

/** How long the timer waits for the lock at the deadline: a writer holds it seconds, a stuck one is worth a failed record. */
const RESTORE_LOCK_WAIT_MS = 10 * 60_000;

/**
 * Under the lock, before the kernel changes: records the rollback (chained
 * onto one already pending) and starts its timer. `current` holds what the
 * interfaces not yet covered go back to.
 */
export function armRollback(
  pending: PendingRollback | undefined,
  current: RestoreEntry[],
  policyFile: string,
  seconds: number,
): PendingRollback {
  const record = planConfirmedApply(pending, current, { policyFile, seconds, now: new Date() });
  if (pending) stopRollbackTimer(pending);
  // Written before the timer starts: a timer that finds no record of its own ends at once.
  writePendingRollback(record);
  removeCompletedRollback();
  const started = { ...record, timerPid: startRollbackTimer(record.token) };
  writePendingRollback(started);
  return started;
}

/** Starts `xdpfw rollback-timer TOKEN` on its own: no terminal, no pipes, not waited for. */
function startRollbackTimer(token: string): number {
  // The same Node and CLI script as this command (bin/xdpfw.js, through bin/xdpfw or not);
  // the packaged single executable is both, and takes its arguments at once.
  const self = isSea() ? [] : [...process.execArgv, process.argv[1]];
  const child = spawn(process.execPath, [...self, 'rollback-timer', token], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  if (child.pid === undefined) throw new Error('the rollback timer process could not be started');
  return child.pid;
}

/** Ends the timer of `record`, if that process still is it. */
export function stopRollbackTimer(record: PendingRollback): void {
  if (record.timerPid === null || !isRollbackTimer(record.timerPid, record.token)) return;
  try {
    process.kill(record.timerPid, 'SIGTERM');
  } catch {
    // it ended meanwhile
  }
}

/** Under the lock: drops the pending rollback, if any, and ends its timer; what was pending. */
export function cancelPendingRollback(o: PinOptions = {}): PendingRollback | undefined {
  const record = readPendingRollback(o);
  if (!record) return undefined;
  stopRollbackTimer(record);
  removePendingRollback(o);
  return record;
}

/** Under the lock: confirms what is pending (the policy in force stays); `nothing-to-confirm` when nothing is. */
export function confirmPending(o: PinOptions = {}): PendingRollback {
  const record = cancelPendingRollback(o);
  if (record) return record;
  const completed = readCompletedRollback(o);
  const late = completed ? `: the apply of ${completed.policyFile} was rolled back at ${completed.at}` : ' in this network namespace';
  throw new UserError(
    'nothing-to-confirm',
    `no apply is waiting for confirmation${late}`,
    ExitCode.policy,
    completed ? 'apply it again (with --confirm to try it once more)' : 'confirm follows `xdpfw apply FILE --confirm DURATION`',
  );
}

/** Gives one interface back what it had: the kept policy, compiled again and applied, or nothing. */
async function restoreEntry(entry: RestoreEntry): Promise<void> {
  const { policy } = entry;
  if (!policy) {
    detach(entry.interface);
    removeState(entry.interface);
    return;
  }
  const iface = loadAndCompile(policy.policyFile, new KeptSourceHost(policy.texts)).compiled?.interfaces.find(
    (i) => i.name === entry.interface,
  );
  if (!iface) throw new Error(`the kept text of ${policy.policyFile} no longer compiles to a block for ${entry.interface}`);
  if (!policyInForce(iface)) {
    const program = await loadPolicyProgram(iface);
    try {
      await enforce(iface, program, { mode: policy.mode, policyFile: policy.policyFile });
    } finally {
      program.close();
    }
  }
  keepAppliedSources(entry.interface, { policyFile: policy.policyFile, policyHash: iface.hash, texts: policy.texts });
}

/** Under the lock: restores every interface of `record`; the record becomes a completed one, or says what failed. */
async function restore(record: PendingRollback): Promise<void> {
  const failures: string[] = [];
  const restored: { interface: string; restored: string | null }[] = [];
  for (const entry of record.interfaces) {
    try {
      await restoreEntry(entry);
      restored.push({ interface: entry.interface, restored: entry.policy?.policyFile ?? null });
    } catch (error) {
      failures.push(`${entry.interface}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const at = new Date().toISOString();
  if (failures.length > 0) {
    writePendingRollback({ ...record, timerPid: null, failed: { at, message: failures.join('; ') } });
    return;
  }
  removePendingRollback();
  writeCompletedRollback({ at, policyFile: record.policyFile, interfaces: restored });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `xdpfw rollback-timer TOKEN`: sleeps until the deadline of the rollback
 * named TOKEN, then restores it, unless by then it was confirmed or a
 * chained apply gave the rollback a new timer.
 */
export async function runRollbackTimer(token: string): Promise<void> {
  const mine = (record: PendingRollback | undefined) => record?.token === token && !record.failed;
  const armed = readPendingRollback();
  if (!mine(armed)) return;
  await sleep(Math.max(0, Date.parse(armed!.deadline) - Date.now()));
  try {
    await withRunLock(
      `xdpfw rollback-timer (restoring what ${armed!.policyFile} replaced)`,
      async () => {
        const record = readPendingRollback();
        if (mine(record)) await restore(record!);
      },
      { waitMs: RESTORE_LOCK_WAIT_MS },
    );
  } catch (error) {
    // No terminal to tell: the record says it, for `status` (best effort: the lock is not held here).
    const record = readPendingRollback();
    const message = error instanceof Error ? error.message : String(error);
    if (mine(record)) writePendingRollback({ ...record!, timerPid: null, failed: { at: new Date().toISOString(), message } });
  }
}
