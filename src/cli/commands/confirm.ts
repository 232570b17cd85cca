import { ExitCode } from '../../app/exit-codes.js';
import { withRunLock } from '../../app/lock.js';
import { requireRoot } from '../../app/preconditions.js';
import { confirmPending, runRollbackTimer } from '../../app/rollback.js';
import { waitMs } from '../../app/wait-option.js';
import type { CliIo } from '../io.js';
import { json, out } from '../io.js';

export interface ConfirmOptions {
  /** Seconds to wait for the run directory's lock. */
  wait?: string;
  json?: boolean;
}

/** `xdpfw confirm`: the policy an `apply --confirm` put in force stays; its rollback is cancelled. */
export async function confirmCommand(options: ConfirmOptions, io: CliIo): Promise<number> {
  requireRoot('confirm');
  const record = await withRunLock('xdpfw confirm', () => confirmPending(), { waitMs: waitMs(options.wait) });
  const interfaces = record.interfaces.map((e) => e.interface);
  if (options.json) {
    json(io, { confirmed: { policyFile: record.policyFile, interfaces, deadline: record.deadline, failed: record.failed ?? null } });
  } else if (record.failed) {
    out(io, `cleared the rollback of ${record.policyFile}, whose restore failed at ${record.failed.at}: ${record.failed.message}`);
  } else {
    out(io, `confirmed ${record.policyFile} on ${interfaces.join(', ')}: the rollback due at ${record.deadline} is cancelled`);
  }
  return ExitCode.ok;
}

/** `xdpfw rollback-timer TOKEN` (hidden): what `apply --confirm` starts; it has no terminal to write to. */
export async function rollbackTimerCommand(token: string): Promise<number> {
  await runRollbackTimer(token);
  return ExitCode.ok;
}
