/**
 * A policy in a git repository (GitOps): a bare clone in the cache directory
 * is fetched every poll and on SIGHUP; the policy is read from the branch
 * head's commit, blob by blob (`git cat-file`), so includes and set files
 * come from the same commit and no working tree can be half-updated. File
 * names in diagnostics are relative to the repository root.
 *
 * git runs as a child process (no library): simple-git's environment guard
 * refuses variables an operator may need (GIT_SSL_CAINFO, GIT_SSH_COMMAND).
 */

import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import type { SourceHost } from '../../policy/source-host.js';
import type { Logger } from '../logger.js';
import { realTimers, type Timers } from '../timers.js';
import { DEFAULT_COMPILE_LIMITS, loadBounded, type BoundedLoadError, type CompileLimits } from './bounded-load.js';
import { verifyCommitSignature, type SignatureRequirement } from './commit-signature.js';
import type { PolicyRevision, PolicySource, SourceReading } from './source.js';

const READ_LIMIT = 1 << 30; // a set file of millions of addresses is still well below

/** The files of one commit, as the policy loader reads them. */
export class GitCommitHost implements SourceHost {
  constructor(
    private readonly gitDir: string,
    private readonly commit: string,
  ) {}

  readFile(p: string): string {
    try {
      return execFileSync('git', ['--git-dir', this.gitDir, 'cat-file', 'blob', `${this.commit}:${p}`], {
        encoding: 'utf8',
        maxBuffer: READ_LIMIT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch {
      throw new Error(`no such file in commit ${this.commit.slice(0, 12)}`);
    }
  }

  resolve(fromFile: string, p: string): string {
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), p));
    if (path.posix.isAbsolute(p) || resolved === '..' || resolved.startsWith('../')) {
      throw new Error(`'${p}' is outside the repository`);
    }
    return resolved;
  }
}

export interface GitSourceOptions {
  repo: string;
  branch: string;
  path: string;
  pollSeconds: number;
  cacheDir: string;
  /** Longest a git command may stay silent before it is ended. */
  timeoutMs?: number;
  compileLimits?: CompileLimits;
  /** Deploy only commits signed by these keys (commit-signature.ts); checked before the policy is read. */
  requireSigned?: SignatureRequirement;
}

export class GitSource implements PolicySource {
  readonly description: string;
  readonly gitDir: string;
  private prepared = false;
  private timer: unknown;
  private closed = false;

  constructor(
    private readonly o: GitSourceOptions,
    private readonly log: Logger,
    private readonly timers: Timers = realTimers,
  ) {
    this.description = `git ${o.repo} ${o.branch}:${o.path}`;
    const id = createHash('sha256').update(`${o.repo}\0${o.branch}`).digest('hex').slice(0, 16);
    this.gitDir = path.join(o.cacheDir, 'git', `${id}.git`);
  }

  start(onChange: () => void): void {
    const schedule = () => {
      if (this.closed) return;
      this.timer = this.timers.setTimeout(() => {
        onChange();
        schedule();
      }, this.o.pollSeconds * 1000);
    };
    schedule();
  }

  /** Runs git on the clone; rejects with git's own message. */
  private git(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        'git',
        ['--git-dir', this.gitDir, ...args],
        { env: { ...daemonEnv(), ...env }, timeout: this.o.timeoutMs ?? 60_000, maxBuffer: 16 << 20, encoding: 'utf8' },
        (error, stdout, stderr) => {
          if (error) reject(new Error(stderr.trim() || error.message));
          else resolve(stdout);
        },
      );
    });
  }

  /** The bare clone, created on first use; its origin follows the configured URL. */
  private async prepare(): Promise<void> {
    if (this.prepared) return;
    fs.mkdirSync(this.gitDir, { recursive: true, mode: 0o700 });
    if (!fs.existsSync(path.join(this.gitDir, 'HEAD'))) await this.git(['init', '--bare', '--quiet']);
    const url = await this.git(['config', '--get', 'remote.origin.url']).catch(() => undefined);
    if (url === undefined) await this.git(['remote', 'add', 'origin', this.o.repo]);
    else if (url.trim() !== this.o.repo) await this.git(['remote', 'set-url', 'origin', this.o.repo]);
    this.prepared = true;
  }

  private get ref(): string {
    return `refs/remotes/origin/${this.o.branch}`;
  }

  /** The commit the branch points to in the clone, if it was ever fetched. */
  private async head(): Promise<string | undefined> {
    try {
      return (await this.git(['rev-parse', '--verify', '--quiet', `${this.ref}^{commit}`])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async read(): Promise<SourceReading> {
    try {
      await this.prepare();
    } catch (error) {
      return { error: asError(error, `preparing the clone at ${this.gitDir}`) };
    }
    let fetchError: Error | undefined;
    try {
      await this.git(['fetch', '--quiet', '--no-tags', 'origin', `+refs/heads/${this.o.branch}:${this.ref}`]);
    } catch (error) {
      fetchError = asError(error, `fetching ${this.o.branch} from ${this.o.repo}`);
    }
    const commit = await this.head();
    if (commit === undefined) return { error: fetchError ?? new Error(`branch ${this.o.branch} not found in ${this.o.repo}`) };
    this.log.debug({ commit, fetched: !fetchError }, 'branch head');
    return { revision: this.revision(commit), error: fetchError };
  }

  revision(commit: string): PolicyRevision {
    return {
      policyFile: this.o.path,
      commit,
      load: async () => {
        if (this.o.requireSigned) {
          const gnupgHome = `${this.gitDir.replace(/\.git$/, '')}.gnupg`;
          await verifyCommitSignature((args, env) => this.git(args, env), commit, this.o.requireSigned, gnupgHome);
        }
        const host = { kind: 'git', gitDir: this.gitDir, commit, file: this.o.path } as const;
        try {
          return (await loadBounded(host, this.o.compileLimits ?? DEFAULT_COMPILE_LIMITS)).loaded;
        } catch (failure) {
          throw (failure as BoundedLoadError).error;
        }
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
  }
}

/** A daemon cannot answer a prompt: git must fail rather than wait for a password. */
function daemonEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GIT_TERMINAL_PROMPT: '0' };
}

function asError(error: unknown, doing: string): Error {
  const message = (error instanceof Error ? error.message : String(error)).trim().split('\n').filter(Boolean).slice(-3).join(' / ');
  return new Error(`${doing}: ${message}`, { cause: error });
}
