/**
 * The worker side of bounded-load.ts: builds the SourceHost its workerData
 * describes, loads and compiles the policy, and posts the result. Each file
 * is announced before and after it is read, so the daemon knows what to
 * watch even when this worker is ended halfway.
 */

import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';

import { loadAndCompile, type LoadedPolicy } from '../../app/policy-loader.js';
import { FileSourceHost } from '../../app/source-host.js';
import type { SourceHost } from '../../policy/source-host.js';
import type { HostDescription, WorkerMessage } from './bounded-load.js';
import { DirectorySourceHost } from './file-source.js';
import { RecordingHost } from './fingerprint.js';
import { GitCommitHost } from './git-source.js';

const port = parentPort!;
const post = (m: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

/** A recording host that tells the daemon about every read as it happens. */
class AnnouncingHost extends RecordingHost {
  override readFile(p: string): string {
    const key = path.resolve(p);
    post({ kind: 'reading', path: key });
    try {
      return super.readFile(p);
    } finally {
      post({ kind: 'read', path: key, digest: this.fingerprint.get(key)! });
    }
  }
}

function hostFor(d: HostDescription): { file: string; host: SourceHost } {
  if (d.kind === 'git') return { file: d.file, host: new GitCommitHost(d.gitDir, d.commit) };
  if (d.kind === 'directory') return { file: d.root, host: new AnnouncingHost(new DirectorySourceHost(d.root)) };
  return { file: d.file, host: new AnnouncingHost(new FileSourceHost()) };
}

/** The buffers under the compiled policy's typed arrays: handed over, not copied (this worker ends next). */
function buffersOf(value: unknown, found = new Set<ArrayBuffer>()): Set<ArrayBuffer> {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) found.add(value.buffer);
  } else if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) buffersOf(v, found);
  }
  return found;
}

try {
  const { file, host } = hostFor(workerData as HostDescription);
  const full = loadAndCompile(file, host);
  // The document and the IR hold the parse tree: large, and unused by the daemon.
  const loaded: LoadedPolicy = {
    file: full.file,
    diagnostics: full.diagnostics,
    rendered: full.rendered,
    sources: full.sources,
    compiled: full.compiled,
  };
  try {
    post({ kind: 'done', loaded }, [...buffersOf(full.compiled)]);
  } catch {
    post({ kind: 'done', loaded }); // a buffer that may not be transferred (one of Node's pools): copied instead
  }
} catch (error) {
  post({ kind: 'failed', message: error instanceof Error ? error.message : String(error) });
}
