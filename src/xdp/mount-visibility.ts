/**
 * Whether a mount made by this process, or found by it, is one that other
 * processes see: the question behind every bpffs xdpfw pins into. Pins in a
 * bpffs that only this process's mount namespace holds vanish with that
 * namespace (`ip netns exec`, a service with private mounts), and the XDP
 * program with them.
 *
 * The answer is read from the mount tables, never guessed from namespace
 * inodes: /proc/1/ns/mnt can be unreadable (sandboxes, containers) while
 * /proc/1/mountinfo is not, and a process whose parent is PID 1 (systemd,
 * setsid) has no other namespace to compare with. "Other processes" are
 * those of PID 1's mount namespace, the host's (or the container's).
 *
 * - A new mount under directory D is visible when the mount holding D is
 *   PID 1's own (mount IDs are unique system-wide and a mount belongs to one
 *   namespace: the same ID in both tables means the same namespace), or when
 *   that mount is in a shared peer group (`shared:N`) that also has a member,
 *   or a slave (`master:N`), in PID 1's table at the same mount point: the
 *   kernel then propagates the new mount there. A slave of the host's mounts
 *   (what `ip netns exec` makes of /) propagates nothing back: refused.
 * - An existing mount at path P is visible when PID 1's table has the same
 *   mount, or a mount at P of the same filesystem (same device number: the
 *   same superblock, so the same pins).
 * - When PID 1's table cannot be read, nothing is proven: a new mount is
 *   refused, and an existing one is taken as the operator made it.
 */

import fs from 'node:fs';
import path from 'node:path';

export interface MountEntry {
  id: number;
  parentId: number;
  /** `major:minor` of the filesystem (st_dev). */
  device: string;
  root: string;
  mountPoint: string;
  /** Peer group of a shared mount (`shared:N`). */
  shared?: number;
  /** Peer group this mount is a slave of (`master:N`). */
  master?: number;
  fsType: string;
}

/** Mount points escape space, tab, newline and backslash as octal (`\040`). */
const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));

/** Parses a /proc/PID/mountinfo table (proc(5)). */
export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (dash < 0) continue;
    const entry: MountEntry = {
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      device: fields[2],
      root: unescape(fields[3]),
      mountPoint: unescape(fields[4]),
      fsType: fields[dash + 1],
    };
    for (const tag of fields.slice(6, dash)) {
      const [name, value] = tag.split(':');
      if (name === 'shared') entry.shared = Number(value);
      if (name === 'master') entry.master = Number(value);
    }
    entries.push(entry);
  }
  return entries;
}

function readMountinfo(pid: 'self' | number): MountEntry[] | null {
  try {
    return parseMountinfo(fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
  } catch {
    return null;
  }
}

const within = (file: string, mountPoint: string): boolean =>
  mountPoint === '/' || file === mountPoint || file.startsWith(`${mountPoint}/`);

/** The mount `file` is on: the deepest mount point above it, the last mounted when several are stacked there. */
export function mountHolding(entries: readonly MountEntry[], file: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const entry of entries) {
    if (within(file, entry.mountPoint) && (!best || entry.mountPoint.length >= best.mountPoint.length)) best = entry;
  }
  return best;
}

/** `dir` with symlinks resolved, from its deepest existing ancestor (mkdir -p creates the rest on that mount). */
function existingAncestor(dir: string): string {
  let at = path.resolve(dir);
  for (;;) {
    try {
      return fs.realpathSync(at);
    } catch {
      const up = path.dirname(at);
      if (up === at) return at;
      at = up;
    }
  }
}

/** Whether a filesystem mounted at `target` now would be seen by PID 1's mount namespace (see the top of this file). */
export function newMountVisible(target: string, tables = { self: readMountinfo('self'), init: readMountinfo(1) }): boolean {
  if (!tables.self || !tables.init) return false;
  const parent = mountHolding(tables.self, existingAncestor(target));
  if (!parent) return false;
  return tables.init.some(
    (m) =>
      m.id === parent.id ||
      (parent.shared !== undefined &&
        (m.shared === parent.shared || m.master === parent.shared) &&
        m.mountPoint === parent.mountPoint &&
        m.root === parent.root),
  );
}

/** Whether the filesystem mounted at `mountPoint` is one PID 1's mount namespace has there too. */
export function existingMountVisible(mountPoint: string, tables = { self: readMountinfo('self'), init: readMountinfo(1) }): boolean {
  if (!tables.init) return true;
  const resolved = existingAncestor(mountPoint);
  const mine = tables.self?.filter((m) => m.mountPoint === resolved).at(-1);
  if (!mine) return false;
  return tables.init.some((m) => m.id === mine.id || (m.mountPoint === resolved && m.device === mine.device && m.root === mine.root));
}
