/**
 * Where xdpfw keeps things between processes: a bpffs at /run/xdpfw/bpffs
 * (not under /sys, which `ip netns exec` remounts) with one directory per
 * network namespace and interface holding the pinned link and maps, and the
 * state JSON under /run/xdpfw/state. Both are keyed by the network
 * namespace, `net-<inode>-<cookie>` (netns.ts), so the same interface name
 * in two namespaces never collides, and a new namespace never meets a dead
 * one's pins.
 */

import fs from 'node:fs';
import path from 'node:path';

import { EnvironmentError, KernelError, check } from './errors.js';
import * as bpf from './libbpf.js';
import { existingMountVisible, newMountVisible } from './mount-visibility.js';
import { currentNetns, legacyNetnsKey, netnsKey } from './netns.js';
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

/** The key of the calling thread's network namespace, `net-<inode>-<cookie>` (netns.ts says why both). */
export function netnsId(): string {
  return netnsKey(currentNetns());
}

const adopted = new Set<string>();

/**
 * The calling thread's key for the pins and state under `o.runDir`; the
 * first time, an earlier version's `net-<inode>` directories with this
 * namespace's inode are renamed to it (netns.ts).
 */
export function namespaceKey(o: PinOptions): string {
  if (o.netnsId) return o.netnsId;
  const ns = currentNetns();
  const key = netnsKey(ns);
  const once = `${o.runDir ?? DEFAULT_RUN_DIR}\0${key}`;
  if (!adopted.has(once)) {
    adopted.add(once);
    for (const root of [bpffsRoot(o), stateRoot(o)]) {
      const legacy = path.join(root, legacyNetnsKey(ns.inode));
      if (!fs.existsSync(legacy) || fs.existsSync(path.join(root, key))) continue;
      try {
        fs.renameSync(legacy, path.join(root, key));
      } catch {
        /* another xdpfw process renamed it first */
      }
    }
  }
  return key;
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
  return path.join(bpffsRoot(o), namespaceKey(o), pinName(ifname));
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

/**
 * Each bpffs this process has pinned into, by its path: a later look must
 * find the same one. Neither the device number nor the root's inode tells
 * (an unmounted bpffs frees its device number and the next mount gets it
 * again; every bpffs root is inode 1), but a directory made in it does: its
 * inode number comes from a counter that moves on with every inode made.
 * Every xdpfw process uses the same directory, `identity`, made by the
 * first one to see the bpffs.
 */
const bpffsSeen = new Map<string, number>();
const IDENTITY_DIR = 'identity';

/** The inode of the bpffs's identity directory; made when `make`, else null when there is none. */
function bpffsIdentity(root: string, make: boolean): number | null {
  const marker = path.join(root, IDENTITY_DIR);
  if (make) fs.mkdirSync(marker, { recursive: true, mode: 0o700 });
  try {
    return fs.statSync(marker).ino;
  } catch {
    return null;
  }
}

const mountHint = (root: string): string => `mount it on the host: mkdir -p ${root} && mount -t bpf bpf ${root}`;

function bpffsMissing(root: string, why: string): EnvironmentError {
  return new EnvironmentError('bpffs-missing', `no bpffs that other processes see is mounted at ${root}: ${why}`, mountHint(root));
}

/** The bpffs at `root` is still the one first seen there; throws bpffs-missing or bpffs-replaced. */
function verifySameBpffs(root: string, identity: number): void {
  const magic = bpf.statfsMagic(root);
  if (magic !== BPF_FS_MAGIC) throw bpffsMissing(root, 'it was unmounted while xdpfw ran, and the pins of the policies in force with it');
  if (bpffsIdentity(root, false) !== identity) {
    throw new EnvironmentError(
      'bpffs-replaced',
      `the bpffs at ${root} is not the one xdpfw found there at start: the pins of the policies in force went with the old one`,
      `restart xdpfw run (or apply again) to attach the policies anew; keep one bpffs mounted at ${root} on the host`,
    );
  }
}

/**
 * Makes sure the bpffs at <runDir>/bpffs is one other processes see, and
 * mounts one if there is none and a mount made here would be seen (see
 * mount-visibility.ts); otherwise throws `bpffs-missing`: pins in a mount
 * only this mount namespace has would vanish with it, detaching the program.
 * Once a bpffs has been seen, it is never mounted again by this process: a
 * later call only checks it is the same one (`bpffs-missing`, `bpffs-replaced`).
 * XDPFW_PRIVATE_BPFFS=1 accepts an existing bpffs private to this mount
 * namespace, for sandboxes that live and die in one.
 */
export function ensureBpffs(o: PinOptions = {}): { mounted: boolean; path: string } {
  const root = bpffsRoot(o);
  const seen = bpffsSeen.get(root);
  if (seen !== undefined) {
    verifySameBpffs(root, seen);
    return { mounted: false, path: root };
  }
  const magic = bpf.statfsMagic(root);
  if (magic === BPF_FS_MAGIC) {
    // A sandbox whose whole world lives in one private mount namespace (the traffic tests,
    // scripts/sandbox.sh) says so: its pins are meant to vanish with it.
    if (process.env.XDPFW_PRIVATE_BPFFS !== '1' && !existingMountVisible(root)) {
      throw bpffsMissing(root, 'the one there is private to this mount namespace (ip netns exec?) and would vanish with it');
    }
    bpffsSeen.set(root, bpffsIdentity(root, true) ?? 0);
    return { mounted: false, path: root };
  }
  if (magic < 0 && -magic !== 2 /* ENOENT */) check(magic, `checking the filesystem at ${root}`);
  if (!newMountVisible(root)) {
    throw bpffsMissing(
      root,
      'this process runs in a mount namespace the host does not share (ip netns exec, a private service?): ' +
        'pins mounted here would vanish with it, detaching the program',
    );
  }
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const errno = bpf.mount('bpf', root, 'bpf', 0, 'mode=0700');
  if (errno !== 0) throw new KernelError(`mounting a bpffs at ${root}`, errno);
  bpffsSeen.set(root, bpffsIdentity(root, true) ?? 0);
  return { mounted: true, path: root };
}

/**
 * For every change of what is enforced (each reload of the daemon): the bpffs
 * is there and is the one pinned into before, or this throws `bpffs-missing`
 * or `bpffs-replaced` instead of pinning into a new one while the old pins,
 * and the programs they held, are gone. Mounts one, like ensureBpffs, only
 * when this process has seen none yet.
 */
export function checkBpffs(o: PinOptions = {}): void {
  ensureBpffs(o);
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
  const dir = path.join(bpffsRoot(o), namespaceKey(o));
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
  return path.join(stateRoot(o), namespaceKey(o), `${ifname}.json`);
}

/** /run/xdpfw/state/net-<inode>/: this namespace's state directory, for what is kept per namespace, not per interface. */
export function namespaceStateDir(o: PinOptions = {}): string {
  return path.join(stateRoot(o), namespaceKey(o));
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
