/**
 * How the policy front end reaches files. `src/policy` is pure (no `fs`), so
 * the CLI passes a host backed by the file system and tests pass an
 * in-memory one; the same policy text then always gives the same AST.
 */
export interface SourceHost {
  /** The file's text. Throws (any error; its message is shown) when it cannot be read. */
  readFile(path: string): string;
  /**
   * The path of `path` as written in `fromFile` (an `include` or a
   * `set … from`), usually relative to `fromFile`'s directory. The result is
   * what `readFile` receives and what diagnostics' spans name.
   */
  resolve(fromFile: string, path: string): string;
}
