import { ifindexOf } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import { UserError } from './user-error.js';

/** Attaching and reading pinned maps need CAP_BPF + CAP_NET_ADMIN; say so before the kernel does. */
export function requireRoot(command: string): void {
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    throw new UserError(
      'not-root',
      `'xdpfw ${command}' needs root (CAP_BPF and CAP_NET_ADMIN)`,
      ExitCode.system,
      'run it as root (or with CAP_BPF and CAP_NET_ADMIN)',
    );
  }
}

export function requireInterface(name: string): number {
  try {
    return ifindexOf(name);
  } catch {
    throw new UserError(
      'interface-not-found',
      `interface '${name}' does not exist in this network namespace`,
      ExitCode.system,
      "list interfaces with 'ip link'; inside a namespace run xdpfw with 'ip netns exec NAME xdpfw …'",
    );
  }
}
