/**
 * How the policy front end reaches files. `src/policy` is pure (no `fs`), so
 * the CLI passes a host backed by the file system and tests pass an
 * in-memory one; the same policy text then always gives the same AST.
 */
export interface SourceHost {
  /**
   * The file's text. Throws (any error; its message is shown) when it cannot
   * be read; throws FileTooLargeError, before reading it, when the file holds
   * more than `maxBytes` (a host that cannot tell beforehand may return the
   * text: the loader measures it again).
   */
  readFile(path: string, maxBytes?: number): string;
  /**
   * The path of `path` as written in `fromFile` (an `include` or a
   * `set … from`), usually relative to `fromFile`'s directory. The result is
   * what `readFile` receives and what diagnostics' spans name.
   */
  resolve(fromFile: string, path: string): string;
}

/**
 * How much one policy may read, so that no input exhausts memory or hangs
 * `check`. A policy or included file is text a person writes: 16 MiB is
 * hundreds of thousands of lines, and its AST takes many times the text.
 * A set file is generated: a million prefixes take ~20 MB, so 256 MiB holds
 * ten million. Every file of the include tree is counted together.
 */
export const SOURCE_LIMITS = {
  policyFileBytes: 16 * 1024 * 1024,
  setFileBytes: 256 * 1024 * 1024,
  files: 256,
  totalBytes: 1024 * 1024 * 1024,
} as const;

/** A host's refusal to read a file larger than the loader asked for. */
export class FileTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly maxBytes: number,
  ) {
    super(`the file holds ${formatBytes(size)}, more than the ${formatBytes(maxBytes)} allowed`);
    this.name = 'FileTooLargeError';
  }
}

/** "16 MiB" when exact, else "16,777,217 bytes": a limit and what passed it by one byte must read differently. */
export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) && mib > 0 ? `${mib} MiB` : `${bytes.toLocaleString('en-US')} bytes`;
}
