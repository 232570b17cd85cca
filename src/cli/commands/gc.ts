import { collectGarbage, netnsId } from '../../xdp/index.js';
import { forgetAppliedSources } from '../../app/rollback-sources.js';
import { ExitCode } from '../../app/exit-codes.js';
import { withRunLock } from '../../app/lock.js';
import { requireRoot } from '../../app/preconditions.js';
import { waitMs } from '../../app/wait-option.js';
import type { CliIo } from '../io.js';
import { json, out } from '../io.js';

export interface GcOptions {
  /** Seconds to wait for the run directory's lock. */
  wait?: string;
  json?: boolean;
}

const REASONS = { 'netns-gone': 'its network namespace no longer exists', 'interface-gone': 'the interface no longer exists' } as const;

/**
 * `xdpfw gc`: frees the pins (and with them the programs and maps in kernel
 * memory) and the state of namespaces and interfaces that no longer exist.
 * Under the run directory's lock, so no writer is between its pins and its state.
 */
export async function gcCommand(options: GcOptions, io: CliIo): Promise<number> {
  requireRoot('gc');
  const freed = await withRunLock(
    'xdpfw gc',
    () => {
      const gone = collectGarbage();
      // A gone namespace's directory went whole; a gone interface of this one leaves its kept policy texts.
      const here = netnsId();
      for (const f of gone) if (f.netns === here && f.interface) forgetAppliedSources(f.interface);
      return gone;
    },
    { waitMs: waitMs(options.wait) },
  );
  if (options.json) json(io, { freed });
  else if (freed.length === 0) out(io, 'nothing to free');
  else {
    for (const f of freed) {
      const what = f.interface === null ? f.netns : `${f.netns}/${f.interface}`;
      out(io, `${what}: freed${f.progId === null ? '' : ` (program ${f.progId})`}, ${REASONS[f.reason]}`);
    }
  }
  return ExitCode.ok;
}
