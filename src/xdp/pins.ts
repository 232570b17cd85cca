/**
 * Where xdpfw keeps things between processes: a bpffs at /run/xdpfw/bpffs
 * (not under /sys, which `ip netns exec` remounts) with one directory per
 * network namespace and interface holding the pinned link and maps, and the
 * state JSON under /run/xdpfw/state. Both are keyed by `net-<inode of the
 * network namespace>`, so the same interface name in two namespaces never
 * collides.
 */

import fs from 'node:fs';
import path from 'node:path';

import { EnvironmentError, KernelError, check } from './errors.js';
import * as bpf from './libbpf.js';
import { BPF_FS_MAGIC } from './uapi.js';

export const DEFAULT_RUN_DIR = '/run/xdpfw';

export interface PinOptions {
  /** Default /run/xdpfw. */
  runDir?: string;
  /** Default: the calling thread's network namespace. */
  netnsId?: string;
}

/** Names of the pins in an interface directory. */
export const PIN = { link: 'link', ruleCounters: 'rule_counters', counters: 'counters' } as const;

/** `net-<inode>` of the calling thread's network namespace (a setns() moves only the thread). */
export function netnsId(): string {
  return `net-${fs.statSync('/proc/thread-self/ns/net').ino}`;
}

export const bpffsRoot = (o: PinOptions = {}): string => path.join(o.runDir ?? DEFAULT_RUN_DIR, 'bpffs');
export const stateRoot = (o: PinOptions = {}): string => path.join(o.runDir ?? DEFAULT_RUN_DIR, 'state');

function checkIfname(ifname: string): void {
  if (!/^[^/\s\0]{1,15}$/.test(ifname) || ifname === '.' || ifname === '..') {
    throw new Error(`invalid interface name ${JSON.stringify(ifname)}`);
  }
}

/**
 * bpffs refuses names with a dot (reserved by the kernel: EPERM), and VLAN
 * interfaces are named like `eth0.100`: percent-encode `%` and `.`.
 */
export function pinName(ifname: string): string {
  checkIfname(ifname);
  return ifname.replace(/[%.]/g, (ch) => `%${ch.charCodeAt(0).toString(16)}`);
}

/** /run/xdpfw/bpffs/net-<inode>/<ifname, dots encoded> */
export function interfacePinDir(ifname: string, o: PinOptions = {}): string {
  return path.join(bpffsRoot(o), o.netnsId ?? netnsId(), pinName(ifname));
}

export function pinPaths(ifname: string, o: PinOptions = {}): Record<keyof typeof PIN, string> & { dir: string } {
  const dir = interfacePinDir(ifname, o);
  return {
    dir,
    link: path.join(dir, PIN.link),
    ruleCounters: path.join(dir, PIN.ruleCounters),
    counters: path.join(dir, PIN.counters),
  };
}

function nsInode(which: string): number | null {
  try {
    return fs.statSync(which).ino;
  } catch {
    return null;
  }
}

/**
 * Whether this process runs in a mount namespace of its own, unlike init's
 * or, when init's cannot be read (containers, sandboxes), its parent's: the
 * case under `ip netns exec`, `unshare -m`, or a service with private mounts.
 */
function inPrivateMountNamespace(): boolean {
  const mine = nsInode('/proc/thread-self/ns/mnt');
  const reference = nsInode('/proc/1/ns/mnt') ?? nsInode(`/proc/${process.ppid}/ns/mnt`);
  return mine !== null && reference !== null && mine !== reference;
}

/**
 * Makes sure a bpffs is mounted at <runDir>/bpffs; mounts one if not.
 * Refuses to mount from a private mount namespace (as `ip netns exec`
 * creates): that mount, and every pin in it, would vanish with the process,
 * detaching the program.
 */
export function ensureBpffs(o: PinOptions = {}): { mounted: boolean; path: string } {
  const root = bpffsRoot(o);
  const magic = bpf.statfsMagic(root);
  if (magic === BPF_FS_MAGIC) return { mounted: false, path: root };
  if (magic < 0 && -magic !== 2 /* ENOENT */) check(magic, `checking the filesystem at ${root}`);
  if (inPrivateMountNamespace()) {
    throw new EnvironmentError(
      'bpffs-private-mount',
      `no bpffs is mounted at ${root}, and this process runs in a private mount namespace ` +
        `(ip netns exec?): pins made there would vanish with it, detaching the program`,
      `mount it in the host first: mkdir -p ${root} && mount -t bpf bpf ${root}`,
    );
  }
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const errno = bpf.mount('bpf', root, 'bpf', 0, 'mode=0700');
  if (errno !== 0) throw new KernelError(`mounting a bpffs at ${root}`, errno);
  return { mounted: true, path: root };
}

/** Pins `fd` at `file`, replacing an existing pin atomically (pin aside, then rename). */
export function pinFd(fd: number, file: string, what: string): void {
  if (path.basename(file).includes('.')) {
    throw new Error(`cannot pin ${what} at ${file}: bpffs refuses names with dots (EPERM)`);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const aside = `${file}-new`; // no dot: bpffs reserves names with dots
  fs.rmSync(aside, { force: true });
  check(bpf.objPin(fd, aside), `pinning ${what} at ${aside}`);
  try {
    fs.renameSync(aside, file);
  } catch (err) {
    fs.rmSync(aside, { force: true });
    throw err;
  }
}

/** Opens a pinned object; null when there is no pin. */
export function openPinned(file: string, what: string): number | null {
  const fd = bpf.objGet(file);
  if (fd === -2 /* ENOENT */) return null;
  return check(fd, `opening pinned ${what} ${file}`);
}

export function unpin(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Removes an interface's pin directory; the objects live on while fds to them are open. */
export function removeInterfacePins(ifname: string, o: PinOptions = {}): void {
  const dir = interfacePinDir(ifname, o);
  fs.rmSync(dir, { recursive: true, force: true });
  try {
    fs.rmdirSync(path.dirname(dir)); // the namespace's directory, once empty
  } catch {
    /* not empty, or gone */
  }
}

/** Interfaces of this network namespace that have a pin directory. */
export function pinnedInterfaces(o: PinOptions = {}): string[] {
  const dir = path.join(bpffsRoot(o), o.netnsId ?? netnsId());
  try {
    return fs
      .readdirSync(dir)
      .map((name) => decodeURIComponent(name))
      .sort();
  } catch {
    return [];
  }
}

/* ---- state JSON (its content is the CLI's business) ----------------------- */

/** /run/xdpfw/state/net-<inode>/<ifname>.json */
export function statePath(ifname: string, o: PinOptions = {}): string {
  checkIfname(ifname);
  return path.join(stateRoot(o), o.netnsId ?? netnsId(), `${ifname}.json`);
}

/** Writes the state atomically (temp file + rename). */
export function writeState(ifname: string, state: unknown, o: PinOptions = {}): void {
  const file = statePath(ifname, o);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

/** The parsed state, or undefined when there is none. */
export function readState(ifname: string, o: PinOptions = {}): unknown {
  const file = statePath(ifname, o);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`state file ${file} is not valid JSON`, { cause: err });
  }
}

export function removeState(ifname: string, o: PinOptions = {}): void {
  const file = statePath(ifname, o);
  fs.rmSync(file, { force: true });
  try {
    fs.rmdirSync(path.dirname(file)); // the namespace's directory, once it is empty
  } catch {
    // not empty, or already gone
  }
}
