/**
 * Test helpers: policy text → PolicyDocument through the real front end
 * (src/policy), with an in-memory SourceHost for includes and set files.
 */
import { loadPolicy, type PolicyDocument, type SourceHost } from '../../../src/policy/index.js';
import type { Diagnostic } from '../../../src/policy/diagnostic.js';
import { compilePolicy, type CompileResult } from '../../../src/compiler/index.js';

export const FILE = 'test.xdpfw';

/** A policy whose root is `text` (named test.xdpfw) and whose other files are `files`. */
export function documentOf(text: string, files: Record<string, string> = {}): PolicyDocument {
  const all: Record<string, string> = { [FILE]: text, ...files };
  const host: SourceHost = {
    readFile(path) {
      const content = all[path];
      if (content === undefined) throw new Error(`no such file: ${path}`);
      return content;
    },
    resolve: (_from, path) => path,
  };
  const loaded = loadPolicy(FILE, host);
  if (!loaded.document) {
    throw new Error(`the front end rejected the test policy:\n${loaded.diagnostics.map((d) => d.message).join('\n')}`);
  }
  return loaded.document;
}

export function compileText(text: string, files: Record<string, string> = {}): CompileResult {
  return compilePolicy(documentOf(text, files));
}

/** Diagnostics in the shape tests assert: code, message, `line:col` and hint. */
export interface Found {
  code: string;
  severity: string;
  message: string;
  at: string;
  hint?: string;
}

export function found(d: Diagnostic): Found {
  const out: Found = {
    code: d.code,
    severity: d.severity,
    message: d.message,
    at: `${d.span.file === FILE ? '' : `${d.span.file}:`}${d.span.start.line}:${d.span.start.column}`,
  };
  if (d.hint !== undefined) out.hint = d.hint;
  return out;
}

export function diagnosticsOf(text: string, files: Record<string, string> = {}): Found[] {
  return compileText(text, files).diagnostics.map(found);
}
