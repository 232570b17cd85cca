import type { LoadedPolicy } from '../../app/policy-loader.js';

/** One version of a policy: a file's content now, or a git commit. */
export interface PolicyRevision {
  /** The policy file as diagnostics and the state name it (repo-relative for git). */
  policyFile: string;
  commit?: string;
  /**
   * Reads, parses, checks and compiles this revision, off the event loop and
   * within the compile limits (bounded-load.ts): a CompileLimitError when
   * one was exceeded, another error when the files could not be read.
   */
  load(): Promise<LoadedPolicy>;
}

export interface SourceReading {
  /** Undefined when there is nothing to read at all (a git branch that was never fetched). */
  revision?: PolicyRevision;
  /** Why the source could not be refreshed (an unreachable remote); `revision` is then the last one known. */
  error?: Error;
}

/** Where an interface's policy comes from, and how the controller learns that it changed. */
export interface PolicySource {
  /** `file PATH` or `git URL BRANCH:PATH`, for logs, metrics and the state. */
  readonly description: string;
  /** Starts watching or polling; `onChange` asks for a reload. */
  start(onChange: () => void): void;
  /** The current revision (fetching first, for git). Never throws: failures come back as `error`. */
  read(): Promise<SourceReading>;
  close(): Promise<void>;
}
