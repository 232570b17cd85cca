import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SourceHost } from '../policy/source-host.js';

/**
 * The file system as the policy loader sees it. Records every text it reads
 * so diagnostics can quote source lines from included and set files too.
 */
export class FileSourceHost implements SourceHost {
  readonly texts = new Map<string, string>();

  readFile(path: string): string {
    const text = readFileSync(path, 'utf8');
    this.texts.set(path, text);
    return text;
  }

  resolve(fromFile: string, path: string): string {
    return resolve(dirname(fromFile), path);
  }
}
