/**
 * A policy file (or a directory of them) on the local file system. A load
 * records what it read (fingerprint.ts); inotify watches on the directories
 * involved (directory-watches.ts) say when to look again, and a look reloads
 * only when the files' content differs from what was loaded. Watches are
 * re-armed after every event and load, and every few seconds, so a policy
 * path replaced in any way (a directory removed and made again, a file
 * renamed over, a symlink or a ConfigMap's `..data` swapped, the path briefly
 * a directory) keeps being followed; a look also follows every re-arm and the
 * start, so an edit made while no watch was in place is not lost.
 */

import fs from 'node:fs';
import path from 'node:path';

import { FileSourceHost } from '../../app/source-host.js';
import type { Logger } from '../logger.js';
import { Debouncer, realTimers, type Timers } from '../timers.js';
import { DEFAULT_COMPILE_LIMITS, READ_INCOMPLETE, loadBounded, type BoundedLoadError, type CompileLimits } from './bounded-load.js';
import { DirectoryWatches } from './directory-watches.js';
import { firstChange, type Fingerprint } from './fingerprint.js';
import type { PolicyRevision, PolicySource, SourceReading } from './source.js';

/** How often the watches are checked against the directories' identities, in case a replacement's events were missed. */
export const REARM_MS = 2000;

/**
 * A directory policy: every `*.xdpfw` file directly in it, in name order, as
 * if one file included them all (files that are only included belong in a
 * subdirectory).
 */
export class DirectorySourceHost extends FileSourceHost {
  constructor(private readonly dir: string) {
    super();
  }

  override readFile(p: string): string {
    if (path.resolve(p) !== this.dir) return super.readFile(p);
    const files = fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.xdpfw'))
      .sort();
    const text = files.map((f) => `include ${JSON.stringify(f)}`).join('\n') + '\n';
    this.texts.set(p, text);
    return text;
  }

  override resolve(fromFile: string, p: string): string {
    return path.resolve(path.resolve(fromFile) === this.dir ? this.dir : path.dirname(fromFile), p);
  }
}

export class FileSource implements PolicySource {
  readonly description: string;
  private readonly file: string;
  private watches: DirectoryWatches | undefined;
  private debouncer: Debouncer | undefined;
  private onChange: (() => void) | undefined;
  private loaded: Fingerprint | undefined;
  private loading = 0;
  private lookAfterLoad = false;
  private rearmTimer: unknown;
  private closed = false;

  constructor(
    file: string,
    private readonly debounceMs: number,
    private readonly log: Logger,
    private readonly timers: Timers = realTimers,
    private readonly rearmMs = REARM_MS,
    private readonly limits: CompileLimits = DEFAULT_COMPILE_LIMITS,
  ) {
    this.file = path.resolve(file);
    this.description = `file ${file}`;
  }

  start(onChange: () => void): void {
    this.onChange = onChange;
    this.debouncer = new Debouncer(() => this.look(), this.debounceMs, this.timers);
    this.watches = new DirectoryWatches((dir, name) => {
      this.log.trace({ dir, name }, 'file event');
      this.debouncer?.trigger();
    }, this.log);
    // The first load ran before any watch existed: compare now, as after every re-arm.
    this.look();
    this.scheduleRearm();
  }

  /** Re-arms the watches, then asks for a reload when what is on disk differs from what was loaded. */
  private look(): void {
    if (this.closed) return;
    this.rearm();
    // Nothing loaded yet: the owner's first read will see what is on disk.
    if (!this.loaded) return;
    // A load under way may have read the new content already: compare with what it read, once it ends.
    if (this.loading > 0) {
      this.lookAfterLoad = true;
      return;
    }
    const changed = firstChange(this.loaded, hostFor(this.file));
    if (changed === undefined) return;
    this.log.debug({ path: changed }, 'policy source changed');
    this.onChange?.();
  }

  private rearm(): boolean {
    return this.watches?.arm(this.directoriesToWatch()) ?? false;
  }

  private scheduleRearm(): void {
    if (this.closed) return;
    this.rearmTimer = this.timers.setTimeout(() => {
      // A watch opened anew may have missed events: look (debounced, as for an event).
      if (this.rearm()) this.debouncer?.trigger();
      this.scheduleRearm();
    }, this.rearmMs);
  }

  /**
   * The policy path's parent (to see the path itself replaced), the path when
   * it is a directory, and the directory of every file the last load read,
   * both as named and as its symlinks resolve (an edit of a symlink's target).
   */
  private directoriesToWatch(): Set<string> {
    const dirs = new Set([path.dirname(this.file)]);
    if (isDirectory(this.file)) dirs.add(this.file);
    const files = [...(this.loaded?.keys() ?? [])].filter((f) => f !== this.file);
    const real = realpathOrUndefined(this.file);
    if (real !== undefined && real !== this.file && !isDirectory(real)) files.push(this.file);
    for (const f of files) {
      dirs.add(path.dirname(f));
      const target = realpathOrUndefined(f);
      if (target !== undefined) dirs.add(path.dirname(target));
    }
    return dirs;
  }

  /** The directories watched now (for tests and debugging). */
  get watchedDirectories(): string[] {
    return this.watches?.directories ?? [];
  }

  async read(): Promise<SourceReading> {
    const revision: PolicyRevision = {
      policyFile: this.file,
      load: async () => {
        const file = this.file;
        this.loading++;
        try {
          const { loaded, fingerprint } = await loadBounded(
            isDirectory(file) ? { kind: 'directory', root: file } : { kind: 'file', file },
            this.limits,
          );
          this.loaded = fingerprint;
          return loaded;
        } catch (failure) {
          const { error, fingerprint } = failure as BoundedLoadError;
          // A worker ended before it read the policy itself: any look must count as a change, or no edit would reload.
          if (!fingerprint.has(file)) fingerprint.set(file, READ_INCOMPLETE);
          this.loaded = fingerprint;
          throw error;
        } finally {
          this.loading--;
          const again = this.lookAfterLoad && this.loading === 0;
          if (again) this.lookAfterLoad = false;
          if (this.rearm() || again) this.debouncer?.trigger();
        }
      },
    };
    return { revision };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.debouncer?.cancel();
    if (this.rearmTimer !== undefined) this.timers.clearTimeout(this.rearmTimer);
    this.watches?.close();
  }
}

function hostFor(file: string): FileSourceHost {
  return isDirectory(file) ? new DirectorySourceHost(file) : new FileSourceHost();
}

function realpathOrUndefined(p: string): string | undefined {
  try {
    return fs.realpathSync(p);
  } catch {
    return undefined;
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
