import { detach, pinnedInterfaces, removeState } from '../../xdp/index.js';
import { ExitCode } from '../../app/exit-codes.js';
import { withRunLock } from '../../app/lock.js';
import { refuseIfManaged } from '../../app/ownership.js';
import { loadState } from '../../app/state.js';
import { requireRoot } from '../../app/preconditions.js';
import { UserError } from '../../app/user-error.js';
import { waitMs } from '../../app/wait-option.js';
import type { CliIo } from '../io.js';
import { json, out } from '../io.js';

export interface DetachOptions {
  iface?: string[];
  /** Seconds to wait for the run directory's lock. */
  wait?: string;
  /** Detach even where a running `xdpfw run` manages the interface. */
  force?: boolean;
  json?: boolean;
}

/** `xdpfw detach [--iface IF]`: unpin and close the link (the program leaves the interface) and forget the state. */
export async function detachCommand(options: DetachOptions, io: CliIo): Promise<number> {
  requireRoot('detach');
  const results = await withRunLock(
    'xdpfw detach',
    () => {
      const targets = options.iface?.length ? options.iface : pinnedInterfaces();
      for (const ifname of targets) refuseIfManaged('detach', ifname, loadState(ifname), options.force === true);
      return targets.map((ifname) => {
        const wasAttached = detach(ifname);
        removeState(ifname);
        return { interface: ifname, detached: wasAttached };
      });
    },
    { waitMs: waitMs(options.wait) },
  );
  if (options.iface?.length && results.every((r) => !r.detached)) {
    throw new UserError('not-attached', `xdpfw is not attached to ${options.iface.join(', ')}`, ExitCode.policy);
  }
  if (options.json) json(io, { detached: results });
  else if (results.length === 0) out(io, 'xdpfw is not attached to any interface in this network namespace');
  else for (const r of results) out(io, `${r.interface}: ${r.detached ? 'detached' : 'was not attached'}`);
  return ExitCode.ok;
}
