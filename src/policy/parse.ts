import type { FileSetSource, Include, PolicyDocument, PolicyFile, SetFileEntries, Span, TopLevelItem } from './ast.js';
import type { PolicyCode } from './codes.js';
import { hasErrors, type Diagnostic } from './diagnostic.js';
import { suggest } from './format.js';
import { parse, SyntaxError as PeggySyntaxError, type Expectation } from './generated/parser.js';
import { countLines, isLineEnd, LineIndex } from './lines.js';
import { FileTooLargeError, formatBytes, SOURCE_LIMITS, type SourceHost } from './source-host.js';

export interface ParseResult {
  /** Undefined when the text has a syntax error (peggy stops at the first). */
  file?: PolicyFile;
  diagnostics: Diagnostic[];
}

export interface LoadResult {
  /** Undefined when any file of the policy had an error: nothing half-read goes on. */
  document?: PolicyDocument;
  /** Errors of every file (root, includes, set files), in load order. */
  diagnostics: Diagnostic[];
  /** The text of every file read, by the name spans use: ready for formatDiagnostic. */
  sources: ReadonlyMap<string, string>;
}

/** Parses one policy file's text; `file` is the name its spans carry. */
export function parsePolicyFile(text: string, file: string): ParseResult {
  try {
    return { file: parse(text, { grammarSource: file, suggest, lines: new LineIndex(text) }) as PolicyFile, diagnostics: [] };
  } catch (error) {
    // Anything but a syntax error is a bug in the grammar: let it surface with its stack.
    if (!(error instanceof PeggySyntaxError)) throw error;
    return { diagnostics: [syntaxDiagnostic(error, text, file)] };
  }
}

/**
 * Reads the policy at `rootPath` and everything it pulls in: `include`d files
 * (resolved against the including file; each file is read once, so a shared
 * file may be included from several places) and `set … from` files. Keeps
 * going after an error so that one run reports the errors of every file.
 */
export function loadPolicy(rootPath: string, host: SourceHost): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const sources = new Map<string, string>();
  const files: PolicyFile[] = [];
  const items: Exclude<TopLevelItem, Include>[] = [];
  const expanded = new Set<string>();

  // Every file is counted and measured against SOURCE_LIMITS before it is
  // parsed; a refusal is a located diagnostic, and the file is left out.
  let bytesRead = 0;
  const read = (path: string, maxBytes: number, at: Span): string | Error | undefined => {
    if (sources.size >= SOURCE_LIMITS.files) {
      diagnostics.push(
        diagnostic(
          'too-many-files',
          `'${path}' would be file ${sources.size + 1} of this policy: at most ${SOURCE_LIMITS.files} files are read`,
          at,
          'a policy reads its files, includes and set files together; merge some of them',
        ),
      );
      return undefined;
    }
    const room = Math.min(maxBytes, SOURCE_LIMITS.totalBytes - bytesRead);
    try {
      const text = host.readFile(path, room);
      if (text.length > room) throw new FileTooLargeError(text.length, room);
      bytesRead += text.length;
      sources.set(path, text);
      return text;
    } catch (error) {
      if (error instanceof FileTooLargeError) {
        diagnostics.push(tooLarge(path, error, maxBytes, bytesRead, at));
        return undefined;
      }
      return error instanceof Error ? error : new Error(String(error));
    }
  };
  const setFiles = new Map<string, SetFileEntries | undefined>();

  // The files being expanded, the root first: the include path to the file
  // on top, to tell a cycle from a file that is merely included twice. A
  // stack of its own, not recursion: a chain of thousands of includes would
  // overflow the call stack. Files are known by the host's resolved name;
  // the root's spans keep the name the caller gave.
  const open: { path: string; items: readonly TopLevelItem[]; next: number }[] = [];
  const openAt = new Map<string, number>();
  const expand = (path: string, text: string): void => {
    expanded.add(path);
    const parsed = parsePolicyFile(text, path === rootKey ? rootPath : path);
    diagnostics.push(...parsed.diagnostics);
    if (parsed.file === undefined) return;
    files.push(parsed.file);
    openAt.set(path, open.length);
    open.push({ path, items: parsed.file.items, next: 0 });
  };

  const followInclude = (include: Include, from: string): void => {
    const written = include.path.value;
    const resolved = resolve(host, from, written);
    if (resolved instanceof Error) {
      diagnostics.push(notFound('include-not-found', 'included file', written, written, resolved, include.path.span));
      return;
    }
    const at = openAt.get(resolved);
    if (at !== undefined) {
      include.resolvedPath = resolved;
      const shown = (key: string): string => (key === rootKey ? rootPath : key);
      const loop = [...open.slice(at).map((file) => file.path), resolved].map(shown).join(' → ');
      diagnostics.push(
        diagnostic(
          'include-cycle',
          `include cycle: ${loop}`,
          include.path.span,
          'a file cannot include itself, directly or through other files',
        ),
      );
      return;
    }
    if (expanded.has(resolved)) {
      include.resolvedPath = resolved; // already expanded where it was first included
      return;
    }
    const text = read(resolved, SOURCE_LIMITS.policyFileBytes, include.path.span);
    if (text === undefined) return;
    if (text instanceof Error) {
      diagnostics.push(notFound('include-not-found', 'included file', written, resolved, text, include.path.span));
      return;
    }
    include.resolvedPath = resolved;
    expand(resolved, text);
  };

  const loadSetFile = (source: FileSetSource, from: string): void => {
    const written = source.path.value;
    const resolved = resolve(host, from, written);
    if (resolved instanceof Error) {
      diagnostics.push(notFound('set-file-not-found', 'set file', written, written, resolved, source.path.span));
      return;
    }
    // A set file named by several sets is read and parsed once.
    if (setFiles.has(resolved)) {
      const entries = setFiles.get(resolved);
      if (entries === undefined) return;
      source.resolvedPath = resolved;
      source.entries = entries;
      return;
    }
    const text = read(resolved, SOURCE_LIMITS.setFileBytes, source.path.span);
    if (text === undefined) return;
    if (text instanceof Error) {
      diagnostics.push(notFound('set-file-not-found', 'set file', written, resolved, text, source.path.span));
      return;
    }
    source.resolvedPath = resolved;
    source.entries = parseSetFile(text, resolved, diagnostics);
    setFiles.set(resolved, source.entries);
  };

  const rootText = read(rootPath, SOURCE_LIMITS.policyFileBytes, spanAt(rootPath, '', 0, 0));
  if (rootText === undefined) return { diagnostics, sources };
  if (rootText instanceof Error) {
    const span = spanAt(rootPath, '', 0, 0);
    diagnostics.push(diagnostic('file-not-found', `cannot read policy file '${rootPath}': ${rootText.message}`, span));
    return { diagnostics, sources };
  }
  // The root as an include would name it (`./a` and `/abs/a` are one file),
  // so an include back to the root is seen as a cycle.
  const canonicalRoot = resolve(host, rootPath, rootPath.slice(rootPath.lastIndexOf('/') + 1));
  const rootKey = canonicalRoot instanceof Error ? rootPath : canonicalRoot;
  expand(rootKey, rootText);
  // Each file's items in order, an included file's in place of its include.
  while (open.length > 0) {
    const file = open[open.length - 1]!;
    const item = file.items[file.next++];
    if (item === undefined) {
      open.pop();
      openAt.delete(file.path);
    } else if (item.kind === 'include') {
      followInclude(item, file.path);
    } else {
      if (item.kind === 'set' && item.source.kind === 'file') loadSetFile(item.source, file.path);
      items.push(item);
    }
  }
  const document = hasErrors(diagnostics) ? undefined : { root: rootPath, files, items };
  return { document, diagnostics, sources };
}

// ---- set files --------------------------------------------------------------

/** More malformed lines than this are summed up in one last diagnostic (a wrong file can have millions). */
const MAX_SET_FILE_ERRORS = 10;

/**
 * One address or CIDR a line, `#` comments, blank lines. Most lines are one
 * plain token (digits, hex, `.`, `:`, `/`) and take a character loop;
 * anything else takes the general path, which also words the errors.
 */
function parseSetFile(text: string, file: string, diagnostics: Diagnostic[]): SetFileEntries {
  const entries = new EntryColumns(countLines(text));
  let malformed = 0;
  let lineStart = 0;
  for (let line = 1; lineStart <= text.length; line++) {
    const newline = text.indexOf('\n', lineStart);
    const lineEnd = newline === -1 ? text.length : newline;
    if (plainLine(text, lineStart, lineEnd)) {
      entries.push(plain.start, plain.end);
    } else {
      const raw = text.slice(lineStart, lineEnd);
      const hash = raw.indexOf('#');
      const content = /\S+(?:\s+\S+)*/.exec(hash === -1 ? raw : raw.slice(0, hash));
      if (content !== null) {
        const start = lineStart + content.index;
        const found = content[0];
        if (isAddressToken(found)) {
          entries.push(start, start + found.length);
        } else if (++malformed <= MAX_SET_FILE_ERRORS) {
          diagnostics.push(
            diagnostic(
              'set-file-syntax',
              `malformed line in set file: expected one address or CIDR, found '${clip(found)}'`,
              lineSpan(file, start, line, content.index + 1, found.length),
              "a set file holds one address or CIDR a line; '#' starts a comment",
            ),
          );
        } else if (malformed === MAX_SET_FILE_ERRORS + 1) {
          const span = lineSpan(file, start, line, content.index + 1, found.length);
          diagnostics.push(
            diagnostic(
              'set-file-syntax',
              `more malformed lines in set file '${file}' (only the first ${MAX_SET_FILE_ERRORS} are listed)`,
              span,
            ),
          );
        }
      }
    }
    if (newline === -1) break;
    lineStart = newline + 1;
  }
  return entries.finish(file, text);
}

/** Character classes of a set file's plain lines, by char code below 128. */
const PLAIN = 1; // digits, a-f, A-F, '.', '/', ':'
const BLANK = 2; // space, tab, CR
const COMMENT = 3; // '#'
const CHAR_CLASS = new Uint8Array(128);
for (const c of '0123456789abcdefABCDEF./:') CHAR_CLASS[c.charCodeAt(0)] = PLAIN;
for (const c of ' \t\r') CHAR_CLASS[c.charCodeAt(0)] = BLANK;
CHAR_CLASS['#'.charCodeAt(0)] = COMMENT;
const classOf = (c: number) => (c < 128 ? CHAR_CLASS[c] : 0);

/** Where plainLine found the token. */
const plain = { start: 0, end: 0 };

/**
 * Whether text[from, to) is blanks, one plain token that starts like an
 * address (a digit, or holding ':'), blanks and perhaps a comment; the token
 * is then at plain.start..plain.end. Anything else (a blank line too) is the
 * general path's.
 */
function plainLine(text: string, from: number, to: number): boolean {
  let i = from;
  while (i < to && classOf(text.charCodeAt(i)) === BLANK) i++;
  const start = i;
  let colon = false;
  for (; i < to; i++) {
    const c = text.charCodeAt(i);
    if (classOf(c) !== PLAIN) break;
    if (c === 58) colon = true;
  }
  const first = text.charCodeAt(start);
  if (i === start || (!colon && !(first >= 48 && first <= 57)) || first === 46 || first === 47) return false;
  plain.start = start;
  plain.end = i;
  for (; i < to; i++) {
    const cls = classOf(text.charCodeAt(i));
    if (cls === COMMENT) return true;
    if (cls !== BLANK) return false;
  }
  return true;
}

function lineSpan(file: string, offset: number, line: number, column: number, length: number): Span {
  return { file, start: { offset, line, column }, end: { offset: offset + length, line, column: column + length } };
}

/**
 * The columns of SetFileEntries, sized once for every line of the file (at
 * most one entry a line): growing them by doubling touched ~4 times the
 * memory, which a machine with slow page faults pays for (measured with process.resourceUsage()).
 * Lines and columns are not kept: set-file.ts finds them when a diagnostic
 * needs one.
 */
class EntryColumns {
  private n = 0;
  private readonly start: Uint32Array;
  private readonly end: Uint32Array;

  constructor(capacity: number) {
    this.start = new Uint32Array(capacity);
    this.end = new Uint32Array(capacity);
  }

  push(start: number, end: number): void {
    this.start[this.n] = start;
    this.end[this.n] = end;
    this.n++;
  }

  /** The entries: views when the lines that held none (comments, blanks) waste at most an eighth, else copies. */
  finish(file: string, text: string): SetFileEntries {
    const cut = (a: Uint32Array) => (this.n >= a.length - a.length / 8 ? a.subarray(0, this.n) : a.slice(0, this.n));
    return { file, text, start: cut(this.start), end: cut(this.end) };
  }
}

/** The grammar's Address token, so a set file accepts what `set x { … }` accepts. */
function isAddressToken(token: string): boolean {
  return /^[0-9A-Fa-f:][^\s,{}#;!@$"]*$/.test(token) && (/^[0-9]/.test(token) || token.includes(':'));
}

// ---- syntax errors ------------------------------------------------------------

/**
 * Turns peggy's error into a sentence. Errors thrown by the grammar's own
 * `error()` already are one (peggy leaves `expected` null for them); for the
 * others we name what was expected, the token before and the token found.
 */
function syntaxDiagnostic(error: PeggySyntaxError, text: string, file: string): Diagnostic {
  const expected = error.expected as readonly Expectation[] | null;
  if (expected === null) {
    const { start, end } = error.location;
    return diagnostic('syntax', error.message, spanAt(file, text, start.offset, end.offset));
  }
  let start = error.location.start.offset;
  while (text[start] === ' ' || text[start] === '\t') start++;
  const found = tokenAt(text, start);
  const before = tokenBefore(text, start);
  const after = before === undefined ? '' : ` after '${clip(before)}'`;
  const message = `expected ${describeExpected(expected)}${after}, found ${found.description}`;
  const hint = syntaxHint(expected, text, start);
  return diagnostic('syntax', message, spanAt(file, text, start, start + found.length), hint);
}

/** Advice for the two mistakes whose bare "expected" list does not explain them. */
function syntaxHint(expected: readonly Expectation[], text: string, offset: number): string | undefined {
  const wanted = (what: string): boolean =>
    expected.some((e) => (e.type === 'literal' && e.text === what) || (e.type === 'other' && e.description === what));
  if (offset >= text.length && wanted('}')) return "a '{' above is never closed";
  if (text[offset] === ',' && wanted('a match')) return 'a list is written in braces: dport { 80, 443 }';
  return undefined;
}

/** Descriptions before literals, "a newline" and "end of file" last: reads best. */
function describeExpected(expected: readonly Expectation[]): string {
  const rank = (e: Expectation): number =>
    e.type === 'end' ? 3 : e.type === 'other' && e.description === 'a newline' ? 2 : e.type === 'literal' ? 1 : 0;
  const words: string[] = [];
  for (const e of [...expected].sort((a, b) => rank(a) - rank(b))) {
    const word =
      e.type === 'literal' ? `'${e.text}'` : e.type === 'other' ? e.description : e.type === 'end' ? 'end of file' : 'another character'; // an unnamed character class: name the grammar rule instead
    // Comments and whitespace may go anywhere, and the byte-order mark a file
    // may start with is invisible: listing them helps no one.
    if (word === 'comment' || word === 'whitespace' || word === "'\uFEFF'" || words.includes(word)) continue;
    words.push(word);
  }
  if (words.length <= 1) return words[0] ?? 'something else';
  return `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
}

const TOKEN = /^(?:"[^"\r\n\v\f\u0085\u2028\u2029]*"?|[^\s\u0085,{}#;"]+)/;

function tokenAt(text: string, offset: number): { description: string; length: number } {
  if (offset >= text.length) return { description: 'end of file', length: 0 };
  if (isLineEnd(text.charCodeAt(offset))) return { description: 'end of line', length: 0 };
  const token = TOKEN.exec(text.slice(offset, offset + 200))?.[0] ?? text[offset]!;
  return { description: `'${clip(token)}'`, length: token.length };
}

/** The token just before `offset` on the same line, if any. */
function tokenBefore(text: string, offset: number): string | undefined {
  let end = offset;
  while (end > 0 && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  const last = text[end - 1];
  if (last === undefined || isLineEnd(last.charCodeAt(0))) return undefined;
  let lineStart = end - 1;
  while (lineStart > 0 && !isLineEnd(text.charCodeAt(lineStart - 1))) lineStart--;
  if (last === '"') {
    const open = text.lastIndexOf('"', end - 2);
    if (open >= lineStart) return text.slice(open, end);
  }
  if (!/[^\s,{}#;"]/.test(last)) return last;
  let start = end - 1;
  while (start > lineStart && /[^\s,{}#;"]/.test(text[start - 1]!)) start--;
  return text.slice(start, end);
}

// ---- helpers ------------------------------------------------------------------

function resolve(host: SourceHost, from: string, path: string): string | Error {
  try {
    return host.resolve(from, path);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

function notFound(code: PolicyCode, what: string, written: string, resolved: string, error: Error, span: Span): Diagnostic {
  const where = resolved === written ? '' : ` (${resolved})`;
  const hint = `'${written}' is read relative to the file that names it`;
  return diagnostic(code, `cannot read ${what} '${written}'${where}: ${error.message}`, span, hint);
}

/** A file over its own limit is `file-too-large`; one that would take the policy over its total is `too-many-files`. */
function tooLarge(path: string, error: FileTooLargeError, maxBytes: number, bytesRead: number, at: Span): Diagnostic {
  if (error.maxBytes < maxBytes) {
    const message = `'${path}' (${formatBytes(error.size)}) would take this policy's files past ${formatBytes(SOURCE_LIMITS.totalBytes)} (${formatBytes(bytesRead)} read before it)`;
    return diagnostic('too-many-files', message, at, 'a policy reads its files, includes and set files together; make them smaller');
  }
  const what = maxBytes === SOURCE_LIMITS.setFileBytes ? 'a set file' : 'a policy or included file';
  const message = `'${path}' is too large: ${error.message} for ${what}`;
  return diagnostic('file-too-large', message, at, 'a policy file is text a person writes; put long address lists in set files');
}

function diagnostic(code: PolicyCode, message: string, span: Span, hint?: string): Diagnostic {
  return hint === undefined ? { code, severity: 'error', message, span } : { code, severity: 'error', message, span, hint };
}

function spanAt(file: string, text: string, start: number, end: number): Span {
  const lines = new LineIndex(text);
  return { file, start: lines.position(start), end: lines.position(end) };
}

function clip(token: string): string {
  return token.length > 40 ? `${token.slice(0, 39)}…` : token;
}
