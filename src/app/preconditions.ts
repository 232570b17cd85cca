import { readFileSync } from 'node:fs';
import { ifindexOf } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import { UserError } from './user-error.js';

/** Capability bits (linux/capability.h). */
const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;
const CAP_BPF = 39n;

/**
 * The effective capabilities in /proc/self/status's `CapEff:` line (64 hex
 * digits' worth of bits), or undefined when the text has no such line.
 */
export function effectiveCapabilities(status: string): bigint | undefined {
  const hex = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(status)?.[1];
  return hex === undefined ? undefined : BigInt(`0x${hex}`);
}

/** Whether the capabilities attach XDP and use BPF maps: CAP_NET_ADMIN and CAP_BPF (CAP_SYS_ADMIN grants BPF on older kernels too). */
export function canManageXdp(capabilities: bigint): boolean {
  const has = (bit: bigint) => (capabilities >> bit) & 1n;
  return has(CAP_NET_ADMIN) === 1n && (has(CAP_BPF) === 1n || has(CAP_SYS_ADMIN) === 1n);
}

/** Where the process's status comes from; an object so tests can stand in for /proc. */
export const processStatus = {
  read(): string {
    try {
      return readFileSync('/proc/self/status', 'utf8');
    } catch {
      return '';
    }
  },
};

/** Attaching and reading pinned maps need CAP_BPF + CAP_NET_ADMIN; say so before the kernel does. */
export function requireRoot(command: string): void {
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    const capabilities = effectiveCapabilities(processStatus.read());
    if (capabilities !== undefined && canManageXdp(capabilities)) return;
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
