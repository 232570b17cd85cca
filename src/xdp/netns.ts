/**
 * Which network namespace pins and state belong to. A namespace's inode
 * number is reused by the kernel once it is gone, so it cannot name one
 * alone: a new namespace would find a dead one's policy, counters and pins.
 * The key is `net-<inode>-<cookie>`: the cookie (SO_NETNS_COOKIE) is never
 * given to another namespace, and the inode says where to look for the
 * namespace when asking whether it still exists (`xdpfw gc`).
 *
 * Directories of earlier versions are keyed `net-<inode>`; the first xdpfw
 * command run in a namespace with that inode renames them to its key (they
 * were made for the namespace that had the inode then, which is this one
 * unless that namespace died and the inode came back before the upgrade),
 * and `xdpfw gc` frees those whose inode no namespace has.
 */

import fs from 'node:fs';
import path from 'node:path';

import { KernelError } from './errors.js';
import * as bpf from './libbpf.js';
import { parseMountinfo } from './mount-visibility.js';

export interface NetnsIdentity {
  inode: number;
  cookie: bigint;
}

/** The calling thread's network namespace (a setns() moves only the thread). */
export function currentNetns(): NetnsIdentity {
  const inode = fs.statSync('/proc/thread-self/ns/net').ino;
  const cookie = bpf.netnsCookie();
  if (typeof cookie === 'number') throw new KernelError('reading the network namespace cookie (SO_NETNS_COOKIE)', -cookie);
  return { inode, cookie };
}

export const netnsKey = (ns: NetnsIdentity): string => `net-${ns.inode}-${ns.cookie}`;
export const legacyNetnsKey = (inode: number): string => `net-${inode}`;

/** The identity a directory name stands for: no cookie for an earlier version's `net-<inode>`; null for other names. */
export function parseNetnsKey(name: string): { inode: number; cookie: bigint | null } | null {
  const m = /^net-(\d+)(?:-(\d+))?$/.exec(name);
  if (!m) return null;
  return { inode: Number(m[1]), cookie: m[2] === undefined ? null : BigInt(m[2]) };
}

const inodeOf = (file: string): number | null => {
  try {
    return fs.statSync(file).ino;
  } catch {
    return null; // gone meanwhile, or not ours to read
  }
};

/** The inode of the host's initial PID namespace (PROC_PID_INIT_INO, a constant of the kernel's). */
const INITIAL_PID_NAMESPACE_INODE = 0xeffffffc;

/**
 * Whether this process sees every process of the host: whether it runs in
 * the initial PID namespace. A container's (a Kubernetes pod without
 * hostPID) sees only its own processes, and usually not the host's
 * /run/netns either, so a namespace it does not find may well exist.
 */
export function seesEveryProcess(): boolean {
  try {
    return fs.statSync('/proc/self/ns/pid').ino === INITIAL_PID_NAMESPACE_INODE;
  } catch {
    return false;
  }
}

/**
 * Where each network namespace that exists can be opened, by inode: every
 * process's /proc/PID/ns/net, the /run/netns names of `ip netns`, and any
 * other nsfs bind mount in this mount namespace. A namespace kept only by an
 * open descriptor, or by a mount this mount namespace cannot see, is not
 * found.
 */
export function existingNetns(): Map<number, string[]> {
  const found = new Map<number, string[]>();
  const add = (file: string) => {
    const inode = inodeOf(file);
    if (inode === null) return;
    const paths = found.get(inode) ?? [];
    paths.push(file);
    found.set(inode, paths);
  };
  for (const pid of fs.readdirSync('/proc')) if (/^\d+$/.test(pid)) add(`/proc/${pid}/ns/net`);
  try {
    for (const name of fs.readdirSync('/run/netns')) add(path.join('/run/netns', name));
  } catch {
    /* no named namespaces */
  }
  try {
    for (const m of parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'))) {
      if (m.fsType === 'nsfs' && !m.mountPoint.startsWith('/run/netns/')) add(m.mountPoint);
    }
  } catch {
    /* no mount table: the processes and names above still count */
  }
  return found;
}

/** The cookie of the network namespace at `nsPath`: this thread steps in to make a socket, and back. Null when it cannot. */
export function cookieOf(nsPath: string): bigint | null {
  let target: number;
  try {
    target = fs.openSync(nsPath, 'r');
  } catch {
    return null;
  }
  const home = fs.openSync('/proc/thread-self/ns/net', 'r');
  try {
    if (bpf.setNetns(target) !== 0) return null;
    const cookie = bpf.netnsCookie(); // returns -errno, never throws: the way back below is always taken
    const errno = bpf.setNetns(home);
    // Staying in the other namespace would point every later call of this process at the wrong interfaces.
    if (errno !== 0) throw new KernelError('returning to the network namespace xdpfw started in', errno);
    return typeof cookie === 'number' ? null : cookie;
  } finally {
    fs.closeSync(target);
    fs.closeSync(home);
  }
}

/** Whether the namespace a key names still exists (see existingNetns for what is found). */
export function netnsExists(key: { inode: number; cookie: bigint | null }, existing = existingNetns()): boolean {
  const paths = existing.get(key.inode);
  if (!paths) return false;
  if (key.cookie === null) return true; // an earlier version's key: the inode is all there is to go by
  // At one instant an inode names one namespace: the first path that answers speaks for all.
  for (const p of paths) {
    const cookie = cookieOf(p);
    if (cookie !== null) return cookie === key.cookie;
  }
  return true; // none could be entered: keep it rather than free a namespace's pins on a guess
}
