/**
 * Non-recursive inotify watches (fs.watch) on a set of directories, keyed by
 * path and remembered with the directory's identity (device and inode). A
 * watch follows an inode, not a path: once a directory is removed and made
 * again, or a symlink to it is swapped, the old watch hears nothing more.
 * `arm` compares each path's identity now with the one watched and watches
 * anew where they differ, so the owner re-arms after every event and load.
 */

import fs from 'node:fs';

import type { Logger } from '../logger.js';

interface Watch {
  identity: string;
  watcher: fs.FSWatcher;
}

function identityOf(dir: string): string | undefined {
  try {
    const s = fs.statSync(dir);
    return s.isDirectory() ? `${s.dev}:${s.ino}` : undefined;
  } catch {
    return undefined;
  }
}

export class DirectoryWatches {
  private readonly watches = new Map<string, Watch>();

  constructor(
    private readonly onEvent: (dir: string, name: string | null) => void,
    private readonly log: Logger,
  ) {}

  /** Watches exactly `dirs` (those that exist); returns whether any watch was opened, so the caller looks at what it may have missed. */
  arm(dirs: Iterable<string>): boolean {
    const wanted = new Set(dirs);
    for (const [dir, w] of this.watches) {
      if (!wanted.has(dir)) this.drop(dir, w);
    }
    let opened = false;
    for (const dir of wanted) {
      // The identity is read before the watch is opened: a replacement in between then looks like a change at the next arm.
      const identity = identityOf(dir);
      const current = this.watches.get(dir);
      if (current && current.identity === identity) continue;
      if (current) this.drop(dir, current);
      if (identity === undefined) continue;
      try {
        const watcher = fs.watch(dir, { persistent: false }, (_event, name) => this.onEvent(dir, name));
        const watch = { identity, watcher };
        watcher.on('error', (error) => {
          this.log.debug({ dir, err: error }, 'directory watch ended');
          this.drop(dir, watch);
          this.onEvent(dir, null);
        });
        this.watches.set(dir, watch);
        this.log.debug({ dir }, 'watching directory');
        opened = true;
      } catch (error) {
        this.log.debug({ dir, err: error }, 'directory vanished before it could be watched');
      }
    }
    return opened;
  }

  get directories(): string[] {
    return [...this.watches.keys()];
  }

  close(): void {
    for (const [dir, w] of this.watches) this.drop(dir, w);
  }

  private drop(dir: string, w: Watch): void {
    w.watcher.close();
    if (this.watches.get(dir) === w) this.watches.delete(dir);
  }
}
