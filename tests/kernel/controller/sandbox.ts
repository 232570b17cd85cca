/**
 * The restrictions deploy/xdpfw.service declares, applied to a process by
 * hand, for a test machine whose PID 1 is not systemd (no systemd-run):
 * a mount namespace laid out as ProtectSystem=, ProtectHome=, PrivateTmp=,
 * PrivateDevices=, ProtectProc= and ProcSubset= make it; the capability
 * bounding set and no_new_privs by setpriv; the system call filter,
 * RestrictAddressFamilies=, RestrictNamespaces=, LockPersonality= and
 * RestrictRealtime= by a seccomp filter (seccomp-exec.py). Every value comes
 * from the unit file, so the test runs what ships.
 */

import { constants } from 'node:os';
import path from 'node:path';

import { REPO } from '../xdp/helpers/env.js';
import { type UnitFile, allowedSyscalls, serviceFlag, serviceList, serviceValue } from '../../support/systemd-unit.js';

const SECCOMP_EXEC = path.join(REPO, 'tests/kernel/controller/seccomp-exec.py');
/** Debian's python3-seccomp installs into the system python, not into one a PATH may put first. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** The [Service] settings the launcher reproduces. */
export const REPRODUCED = new Set([
  'User', // root, as the test runs
  'CapabilityBoundingSet',
  'AmbientCapabilities',
  'NoNewPrivileges',
  'LimitMEMLOCK',
  'ProtectSystem',
  'ReadWritePaths',
  'ProtectHome',
  'PrivateTmp',
  'PrivateDevices',
  'UMask',
  'ProtectProc',
  'ProcSubset',
  'ProtectKernelTunables',
  'ProtectControlGroups', // /sys read-only covers /sys/fs/cgroup
  'ProtectHostname',
  'PrivateIPC',
  'PrivateMounts',
  'RestrictNamespaces',
  'LockPersonality',
  'RestrictRealtime',
  'RestrictAddressFamilies',
  'SystemCallArchitectures', // libseccomp filters answer only the native architecture
  'SystemCallFilter',
  'SystemCallErrorNumber',
]);

/** Settings the launcher leaves out, each with why that does not weaken the test. */
export const NOT_REPRODUCED: Record<string, string> = {
  Type: 'how systemd waits for the start',
  ExecStart: 'the test starts the daemon itself',
  ExecReload: 'the test sends SIGHUP itself',
  KillSignal: 'the test stops it with SIGTERM',
  TimeoutStopSec: 'the test waits for the exit',
  Restart: 'no restarts in a test',
  RestartSec: 'no restarts in a test',
  RestartPreventExitStatus: 'no restarts in a test',
  StandardOutput: 'the test reads stdout',
  StandardError: 'the test reads stderr',
  CacheDirectory: 'a file source clones nothing: /var/cache/xdpfw stays read-only',
  CacheDirectoryMode: 'the cache is not made',
  DevicePolicy: 'a cgroup device filter; PrivateDevices= already leaves no other device node',
  ProtectKernelModules: 'the bounding set has no CAP_SYS_MODULE; the module directories stay visible',
  ProtectKernelLogs: 'ProcSubset=pid hides /proc/kmsg and PrivateDevices= /dev/kmsg; CAP_SYSLOG is not bound',
  ProtectClock: 'the clock-setting system calls are outside the allow list; no CAP_SYS_TIME',
  RestrictSUIDSGID: 'needs mode-bit argument filters on chmod and open; no file is made set-uid by xdpfw',
  KeyringMode: 'a session keyring of its own; xdpfw uses no keys',
};

const FAMILIES: Record<string, number> = { AF_UNIX: 1, AF_INET: 2, AF_INET6: 10, AF_NETLINK: 16, AF_PACKET: 17 };
const NAMESPACES: Record<string, number> = {
  cgroup: 0x02000000,
  ipc: 0x08000000,
  net: 0x40000000,
  mnt: 0x00020000,
  pid: 0x20000000,
  user: 0x10000000,
  uts: 0x04000000,
};

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

export interface SandboxOptions {
  /** Directories the daemon reads that systemd would not hide on a real host (its checkout, node, the policy): kept visible read-only. */
  visible: string[];
  /** Capabilities to take out of the unit's bounding set, to show each one is needed. */
  withoutCapabilities?: string[];
}

/** A bash script making the unit's mount namespace, then `exec "$@"`. */
function mountScript(unit: UnitFile, o: SandboxOptions): string {
  const lines = ['set -eu'];
  const writable = serviceList(unit, 'ReadWritePaths').map((p) => p.replace(/^-/, ''));
  for (const p of writable) lines.push(`mount --rbind ${quote(p)} ${quote(p)}`);
  if (serviceValue(unit, 'ProtectSystem') === 'strict') {
    // Every mount read-only but the API filesystems (other settings guard those) and ReadWritePaths=.
    const keep = ['/proc', '/dev', ...(serviceFlag(unit, 'ProtectKernelTunables') ? [] : ['/sys']), ...writable];
    lines.push(
      `awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r at; do`,
      `  case "$at" in ${keep.map((k) => `${quote(k)}|${quote(k)}/*`).join('|')}) continue;; esac`,
      '  mount -o remount,bind,ro "$at" 2>/dev/null || echo "sandbox: cannot make $at read-only" >&2',
      'done',
    );
  }
  // Holding the visible directories open, so they can be bound back over the tmpfs that hides them.
  o.visible.forEach((dir, i) => lines.push(`exec ${10 + i}<${quote(dir)}`));
  const hidden: string[] = [];
  if (serviceFlag(unit, 'ProtectHome')) {
    for (const home of ['/home', '/root', '/run/user']) {
      lines.push(`[ ! -d ${home} ] || mount -t tmpfs -o mode=000 tmpfs ${home}`);
      hidden.push(home);
    }
  }
  if (serviceFlag(unit, 'PrivateTmp')) {
    for (const tmp of ['/tmp', '/var/tmp']) lines.push(`mount -t tmpfs -o mode=1777 tmpfs ${tmp}`);
    hidden.push('/tmp', '/var/tmp');
  }
  o.visible.forEach((dir, i) => {
    if (!hidden.some((h) => under(dir, h))) return;
    // No canonicalizing: mount(8) would resolve the fd to its path, which now names the empty tmpfs.
    lines.push(`mkdir -p ${quote(dir)}`, `mount --no-canonicalize --bind /proc/self/fd/${10 + i} ${quote(dir)}`);
    lines.push(`mount -o remount,bind,ro ${quote(dir)}`, `exec ${10 + i}<&-`);
  });
  if (serviceFlag(unit, 'PrivateDevices')) {
    lines.push('mount -t tmpfs -o mode=755,nosuid tmpfs /dev');
    for (const [name, major, minor] of [
      ['null', 1, 3],
      ['zero', 1, 5],
      ['full', 1, 7],
      ['random', 1, 8],
      ['urandom', 1, 9],
      ['tty', 5, 0],
    ]) {
      lines.push(`mknod -m 666 /dev/${name} c ${major} ${minor}`);
    }
    lines.push('mkdir /dev/shm && mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm');
    lines.push('ln -s /proc/self/fd /dev/fd', 'ln -s /proc/self/fd/0 /dev/stdin');
    lines.push('ln -s /proc/self/fd/1 /dev/stdout', 'ln -s /proc/self/fd/2 /dev/stderr');
  }
  const hidepid = serviceValue(unit, 'ProtectProc');
  const subset = serviceValue(unit, 'ProcSubset');
  if ((hidepid && hidepid !== 'default') || subset === 'pid') {
    const options = [hidepid && hidepid !== 'default' ? `hidepid=${hidepid}` : '', subset === 'pid' ? 'subset=pid' : ''];
    lines.push(`mount -t proc -o ${options.filter(Boolean).join(',')},nosuid,nodev,noexec proc /proc`);
  }
  // Best effort: a test machine's own hard limit may be lower, and Linux >= 5.11 charges BPF maps to the memory cgroup.
  if (serviceValue(unit, 'LimitMEMLOCK') === 'infinity') lines.push('ulimit -l unlimited 2>/dev/null || true');
  const umask = serviceValue(unit, 'UMask');
  if (umask) lines.push(`umask ${umask}`);
  lines.push('exec "$@"');
  return lines.join('\n');
}

/** The seccomp-exec.py spec of the unit's system call and socket restrictions. */
export function seccompSpec(unit: UnitFile): Record<string, unknown> {
  const errnoName = serviceValue(unit, 'SystemCallErrorNumber') ?? 'EPERM';
  const errno = (constants.errno as Record<string, number>)[errnoName];
  if (errno === undefined) throw new Error(`unknown errno ${errnoName}`);
  const families = serviceList(unit, 'RestrictAddressFamilies').map((f) => {
    if (!(f in FAMILIES)) throw new Error(`add ${f} to the sandbox's address families`);
    return FAMILIES[f];
  });
  const restrict = serviceValue(unit, 'RestrictNamespaces') ?? 'no';
  const namespaces = /^(no|false)$/.test(restrict)
    ? Object.values(NAMESPACES)
    : /^(yes|true)$/.test(restrict)
      ? []
      : restrict.split(/\s+/).map((n) => NAMESPACES[n]);
  return {
    allow: [...allowedSyscalls(unit)],
    errno,
    families,
    namespaces,
    lockPersonality: serviceFlag(unit, 'LockPersonality'),
    restrictRealtime: serviceFlag(unit, 'RestrictRealtime'),
  };
}

/** The unit's bounding set as setpriv takes it, less `without`. */
export function boundingSet(unit: UnitFile, without: string[] = []): string[] {
  return serviceList(unit, 'CapabilityBoundingSet').filter((c) => !without.includes(c));
}

/** The command words that put what follows them (a node process) in the unit's sandbox. */
export function sandboxLauncher(unit: UnitFile, o: SandboxOptions): string[] {
  const unshare = ['unshare', '--mount', '--propagation', 'slave'];
  if (serviceFlag(unit, 'PrivateIPC')) unshare.push('--ipc');
  if (serviceFlag(unit, 'ProtectHostname')) unshare.push('--uts');
  const caps = boundingSet(unit, o.withoutCapabilities).map((c) => `+${c.replace(/^CAP_/, '').toLowerCase()}`);
  const setpriv = ['setpriv', '--bounding-set', ['-all', ...caps].join(','), '--inh-caps', '-all', '--ambient-caps', '-all'];
  if (serviceFlag(unit, 'NoNewPrivileges')) setpriv.push('--no-new-privs');
  return [
    ...unshare,
    '--',
    'bash',
    '-c',
    mountScript(unit, o),
    'xdpfw-sandbox',
    ...setpriv,
    '--',
    SYSTEM_PYTHON,
    SECCOMP_EXEC,
    JSON.stringify(seccompSpec(unit)),
    '--',
  ];
}
