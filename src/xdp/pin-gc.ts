/**
 * `xdpfw gc`: frees the pins and state nobody can reach any more. A pin
 * keeps its object (the link, and through it the program; the maps) in
 * kernel memory until it is removed, and nothing removes the pins of a
 * namespace that was deleted, or of an interface that went away: only
 * `detach`, run in that namespace, for that interface, did.
 *
 * Freed: every directory of a namespace that no longer exists (netns.ts
 * says how that is known; only a process that sees every process of the
 * host can know it, so in a container other namespaces are kept), and in the namespaces that exist, every
 * interface whose link outlived its interface (the kernel reports it on
 * interface 0); in the caller's own namespace also the pins and state of
 * an interface that no longer exists there.
 */

import fs from 'node:fs';
import path from 'node:path';

import * as bpf from './libbpf.js';
import { linkInfo } from './link.js';
import { conntrackDir } from './conntrack.js';
import { setsDir } from './dynsets.js';
import { limitsDir } from './limits.js';
import { existingNetns, netnsExists, parseNetnsKey, seesEveryProcess } from './netns.js';
import { PIN, bpffsRoot, netnsId, openPinned, pinName, stateRoot, type PinOptions } from './pins.js';

export interface FreedPins {
  /** The namespace's key, `net-<inode>-<cookie>` (or an earlier version's `net-<inode>`). */
  netns: string;
  /** The interface, or null when a namespace's directory held none. */
  interface: string | null;
  reason: 'netns-gone' | 'interface-gone';
  /** The program the pinned link held, when there was a link. */
  progId: number | null;
}

const listDir = (dir: string): string[] => {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
};

/** Interfaces with a state file in `dir` (a writer's temporary files are not). */
const stateFiles = (dir: string): string[] =>
  listDir(dir)
    .filter((file) => file.endsWith('.json'))
    .map((file) => file.slice(0, -'.json'.length));

/** What the interface directory's link says: the program, and whether its interface still exists. */
function pinnedLink(dir: string): { progId: number; ifindex: number } | null {
  const fd = openPinned(path.join(dir, PIN.link), 'link');
  if (fd === null) return null;
  try {
    const info = linkInfo(fd);
    return { progId: info.progId, ifindex: info.ifindex };
  } finally {
    bpf.closeFd(fd);
  }
}

/**
 * Removes what is unreachable under `o.runDir`; what it freed, namespace by
 * namespace. Interfaces of the caller's namespace named in `keep` are left
 * alone even when gone (a daemon's own: it attaches them again when they return).
 */
export function collectGarbage(o: PinOptions = {}, keep: readonly string[] = []): FreedPins[] {
  const pinsRoot = bpffsRoot(o);
  const statesRoot = stateRoot(o);
  const here = netnsId();
  const existing = existingNetns();
  // Where not every process is in sight, a namespace not found is not known to be gone: only this one's interfaces are looked at.
  const mayFreeNamespaces = seesEveryProcess();
  const freed: FreedPins[] = [];
  // Host-wide tables, each kind under its own root with a directory per namespace.
  const tableRoots = [conntrackDir, limitsDir, setsDir].map((dir) => path.dirname(dir({ ...o, netnsId: here })));
  const keys = new Set(
    [...listDir(pinsRoot), ...listDir(statesRoot), ...tableRoots.flatMap(listDir)].filter((name) => parseNetnsKey(name) !== null),
  );
  for (const key of [...keys].sort()) {
    const identity = parseNetnsKey(key)!;
    const pinsDir = path.join(pinsRoot, key);
    const statesDir = path.join(statesRoot, key);
    const pinned = listDir(pinsDir);
    if (key !== here && mayFreeNamespaces && !netnsExists(identity, existing)) {
      const stated = stateFiles(statesDir).map((ifname) => pinName(ifname));
      const names = [...new Set([...pinned, ...stated])].sort();
      for (const name of names) {
        freed.push({
          netns: key,
          interface: decodeURIComponent(name),
          reason: 'netns-gone',
          progId: pinnedLink(path.join(pinsDir, name))?.progId ?? null,
        });
      }
      if (names.length === 0) freed.push({ netns: key, interface: null, reason: 'netns-gone', progId: null });
      fs.rmSync(pinsDir, { recursive: true, force: true });
      fs.rmSync(statesDir, { recursive: true, force: true });
      for (const root of tableRoots) fs.rmSync(path.join(root, key), { recursive: true, force: true }); // its tables and sets
      continue;
    }
    for (const name of pinned) {
      const ifname = decodeURIComponent(name);
      if (key === here && keep.includes(ifname)) continue;
      const link = pinnedLink(path.join(pinsDir, name));
      // Only in its own namespace can xdpfw look an interface up by name.
      const gone = link ? link.ifindex === 0 : key === here && bpf.ifNameToIndex(ifname) === 0;
      if (!gone) continue;
      freed.push({ netns: key, interface: ifname, reason: 'interface-gone', progId: link?.progId ?? null });
      fs.rmSync(path.join(pinsDir, name), { recursive: true, force: true });
      fs.rmSync(path.join(statesDir, `${ifname}.json`), { force: true });
    }
    if (key === here) {
      for (const ifname of stateFiles(statesDir)) {
        if (keep.includes(ifname) || pinned.includes(pinName(ifname)) || bpf.ifNameToIndex(ifname) !== 0) continue;
        freed.push({ netns: key, interface: ifname, reason: 'interface-gone', progId: null });
        fs.rmSync(path.join(statesDir, `${ifname}.json`), { force: true });
      }
    }
    for (const dir of [pinsDir, statesDir]) {
      try {
        fs.rmdirSync(dir); // once empty
      } catch {
        /* not empty, or gone */
      }
    }
  }
  return freed;
}
