/**
 * A policy file (or a directory of them) on the local file system, watched
 * with chokidar. The watch covers the directories of every file the last
 * load read (the policy, its includes and set files), so an editor's
 * write-and-rename, a deleted include or a `git pull` in place are all seen;
 * events are debounced into one reload.
 */

import fs from 'node:fs';
import path from 'node:path';

import { watch, type FSWatcher } from 'chokidar';

import { loadAndCompile } from '../../app/policy-loader.js';
import { FileSourceHost } from '../../app/source-host.js';
import type { Logger } from '../logger.js';
import { Debouncer, realTimers, type Timers } from '../timers.js';
import type { PolicyRevision, PolicySource, SourceReading } from './source.js';

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
  private watcher: FSWatcher | undefined;
  private debouncer: Debouncer | undefined;
  private watchedDirs = new Set<string>();
  private files = new Set<string>();
  private lastLoadFailed = false;

  constructor(
    private readonly file: string,
    private readonly debounceMs: number,
    private readonly log: Logger,
    private readonly timers: Timers = realTimers,
  ) {
    this.description = `file ${file}`;
  }

  start(onChange: () => void): void {
    this.debouncer = new Debouncer(onChange, this.debounceMs, this.timers);
    this.watcher = watch([], { ignoreInitial: true, depth: 0, atomic: true });
    const seen = (event: string) => (p: string) => {
      const changed = path.resolve(p);
      // After a failed load a missing include may be what appears: any new file in the watched directories counts.
      const relevant = this.files.has(changed) || this.isDirectoryPolicy(changed) || (this.lastLoadFailed && event === 'add');
      if (!relevant) return;
      this.log.debug({ event, path: changed }, 'policy source changed');
      this.debouncer?.trigger();
    };
    for (const event of ['add', 'change', 'unlink'] as const) this.watcher.on(event, seen(event));
    this.watcher.on('error', (error) => this.log.warn({ err: error }, 'file watcher error'));
    this.watchFiles([this.file]);
  }

  private isDirectoryPolicy(changed: string): boolean {
    return path.dirname(changed) === this.file && changed.endsWith('.xdpfw');
  }

  private watchFiles(files: string[]): void {
    this.files = new Set(files.map((f) => path.resolve(f)));
    this.files.add(this.file);
    const dirs = new Set([...this.files].map((f) => (f === this.file && isDirectory(f) ? f : path.dirname(f))));
    if (!this.watcher) return;
    const gone = [...this.watchedDirs].filter((d) => !dirs.has(d));
    const added = [...dirs].filter((d) => !this.watchedDirs.has(d));
    if (gone.length) this.watcher.unwatch(gone);
    if (added.length) this.watcher.add(added);
    this.watchedDirs = dirs;
  }

  async read(): Promise<SourceReading> {
    const revision: PolicyRevision = {
      policyFile: this.file,
      load: () => {
        const host = isDirectory(this.file) ? new DirectorySourceHost(this.file) : new FileSourceHost();
        const loaded = loadAndCompile(this.file, host);
        this.lastLoadFailed = !loaded.compiled;
        this.watchFiles(loaded.sources);
        return loaded;
      },
    };
    return { revision };
  }

  async close(): Promise<void> {
    this.debouncer?.cancel();
    await this.watcher?.close();
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
