import { posix } from 'node:path';
import type { SourceHost } from '../../src/policy/index.js';

/**
 * A SourceHost over a map of path → text, resolving like the CLI's file host
 * (relative to the including file's directory) but with POSIX paths that stay
 * relative, so golden files do not depend on where the repo is checked out.
 */
export class MemoryHost implements SourceHost {
  readonly reads: string[] = [];
  private readonly files: Map<string, string>;

  constructor(files: Record<string, string> | Map<string, string>) {
    this.files = files instanceof Map ? files : new Map(Object.entries(files));
  }

  readFile(path: string): string {
    this.reads.push(path);
    const text = this.files.get(path);
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  }

  resolve(fromFile: string, path: string): string {
    return posix.isAbsolute(path) ? posix.normalize(path) : posix.join(posix.dirname(fromFile), path);
  }

  /** For formatDiagnostic. */
  readonly sourceOf = (path: string): string | undefined => this.files.get(path);
}
