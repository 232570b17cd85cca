import { detach, pinnedInterfaces, removeState } from '../../xdp/index.js';
import type { CliIo } from '../io.js';
import { json, out } from '../io.js';
import { ExitCode } from '../../app/exit-codes.js';
import { requireRoot } from '../../app/preconditions.js';
import { UserError } from '../../app/user-error.js';

export interface DetachOptions {
  iface?: string[];
  json?: boolean;
}

/** `xdpfw detach [--iface IF]`: unpin and close the link (the program leaves the interface) and forget the state. */
export function detachCommand(options: DetachOptions, io: CliIo): number {
  requireRoot('detach');
  const targets = options.iface?.length ? options.iface : pinnedInterfaces();
  const results = targets.map((ifname) => {
    const wasAttached = detach(ifname);
    removeState(ifname);
    return { interface: ifname, detached: wasAttached };
  });
  if (options.iface?.length && results.every((r) => !r.detached)) {
    throw new UserError('not-attached', `xdpfw is not attached to ${options.iface.join(', ')}`, ExitCode.policy);
  }
  if (options.json) json(io, { detached: results });
  else if (results.length === 0) out(io, 'xdpfw is not attached to any interface in this network namespace');
  else for (const r of results) out(io, `${r.interface}: ${r.detached ? 'detached' : 'was not attached'}`);
  return ExitCode.ok;
}
