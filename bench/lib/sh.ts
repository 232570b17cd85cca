/** Running the system's tools (ip, ethtool, iptables, nft, ipset, taskset) from the benches. */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly status: number | null,
    readonly stderr: string,
  ) {
    super(`${command} failed (exit ${status}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
}

/** Runs `cmd args…`, returns stdout; throws with stderr when it fails. */
export function run(cmd: string, args: readonly string[], options: SpawnSyncOptions & { input?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...options });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new CommandError([cmd, ...args].join(' ').slice(0, 200), r.status, String(r.stderr ?? ''));
  return String(r.stdout ?? '');
}

/** Like run, but a failure is only returned, for cleanup paths. */
export function tryRun(cmd: string, args: readonly string[], options: SpawnSyncOptions & { input?: string } = {}): boolean {
  try {
    run(cmd, args, options);
    return true;
  } catch {
    return false;
  }
}

/** Runs a command inside network namespace `ns` (with its own /sys, as `ip netns exec` mounts it). */
export function inNetns(ns: string, cmd: string, args: readonly string[], options: SpawnSyncOptions & { input?: string } = {}): string {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], options);
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

/** Installs missing Debian packages (the bench's only system dependencies beyond the test suite's). */
export function ensurePackages(wanted: Record<string, string>): void {
  const missing = Object.entries(wanted)
    .filter(([command]) => !hasCommand(command))
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  process.stderr.write(`bench: installing ${missing.join(' ')} (apt-get)\n`);
  run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}
