/**
 * One owner per interface: an interface that a running `xdpfw run` keeps
 * under its source is the daemon's. A manual `apply` or `detach` there would
 * silently last only until the daemon's next reload, so it is refused unless
 * forced, naming the daemon. An interface whose XDP hook another tool holds
 * is that tool's: xdpfw refuses before it changes anything, and never
 * removes the other program.
 */

import { blockingPrograms, foreignXdpError } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import type { AppliedState } from './state.js';
import { UserError } from './user-error.js';

/** Whether process `pid` exists (EPERM: it exists, but is not ours to signal). */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running daemon that manages the interface of `state`, if any (not this process). */
export function managingDaemon(state: AppliedState | undefined): AppliedState['controller'] | undefined {
  const controller = state?.controller;
  if (!controller || controller.pid === process.pid || !processRunning(controller.pid)) return undefined;
  return controller;
}

/** Throws `managed` when a running daemon manages the interface of `state` and `force` is not set. */
export function refuseIfManaged(command: 'apply' | 'detach', ifname: string, state: AppliedState | undefined, force: boolean): void {
  const daemon = managingDaemon(state);
  if (!daemon || force) return;
  const source = state?.source ? ` from ${state.source}` : '';
  throw new UserError(
    'managed',
    `${ifname} is managed by xdpfw run (pid ${daemon.pid}${source}): a manual ${command} would last only until its next reload`,
    ExitCode.system,
    `change the policy at its source, or stop that daemon first; --force ${command === 'apply' ? 'applies' : 'detaches'} anyway`,
  );
}

/**
 * Throws `foreign-xdp` (exit 6) naming every interface of `ifnames` whose
 * XDP hook another tool's program holds; interfaces that do not exist are
 * left to the caller.
 */
export function refuseIfForeign(ifnames: string[]): void {
  const held = ifnames.flatMap((ifname) => {
    let holders;
    try {
      holders = blockingPrograms(ifname);
    } catch {
      return []; // gone, or not there yet
    }
    return holders.length > 0 ? [foreignXdpError(ifname, holders)] : [];
  });
  if (held.length === 0) return;
  throw new UserError('foreign-xdp', held.map((e) => e.message).join('\n  '), ExitCode.foreign, held.map((e) => e.hint).join('\n  '));
}
