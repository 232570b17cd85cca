/**
 * What a load read, so that the file source can tell whether the files on
 * disk still say the same. Content is compared, not mtime and size: a rewrite
 * of the same length within one timestamp tick keeps both.
 */

import { createHash } from 'node:crypto';
import path from 'node:path';

import type { SourceHost } from '../../policy/source-host.js';

/** Every path a load asked for, with a digest of its text or `unreadable` (a missing include counts: its appearing is a change). */
export type Fingerprint = Map<string, string>;

const UNREADABLE = 'unreadable';

const digest = (text: string): string => createHash('sha256').update(text).digest('base64');

/** A host that passes reads through and remembers what each path gave. */
export class RecordingHost implements SourceHost {
  readonly fingerprint: Fingerprint = new Map();

  constructor(private readonly inner: SourceHost) {}

  readFile(p: string): string {
    const key = path.resolve(p);
    try {
      const text = this.inner.readFile(p);
      this.fingerprint.set(key, digest(text));
      return text;
    } catch (error) {
      this.fingerprint.set(key, UNREADABLE);
      throw error;
    }
  }

  resolve(fromFile: string, p: string): string {
    return this.inner.resolve(fromFile, p);
  }
}

/** The first path whose text differs now from what `fingerprint` recorded (read through `host`), or undefined. */
export function firstChange(fingerprint: Fingerprint, host: SourceHost): string | undefined {
  for (const [file, recorded] of fingerprint) {
    let now: string;
    try {
      now = digest(host.readFile(file));
    } catch {
      now = UNREADABLE;
    }
    if (now !== recorded) return file;
  }
  return undefined;
}
