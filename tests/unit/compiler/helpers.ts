/**
 * Test helpers: policy text → PolicyDocument through the real front end
 * (src/policy), with an in-memory SourceHost for includes and set files.
 */
import type { PolicyDocument } from '../../../src/policy/index.js';
import type { Diagnostic } from '../../../src/policy/diagnostic.js';
import { compileSource, type SourceCompilation } from '../../../src/compiler/index.js';
import { MemoryHost } from '../../support/memory-host.js';

export const FILE = 'test.xdpfw';

/** A policy whose root is `text` (named test.xdpfw) and whose other files are `files`. */
export function documentOf(text: string, files: Record<string, string> = {}): PolicyDocument {
  const result = compileText(text, files);
  if (!result.document) {
    throw new Error(`the front end rejected the test policy:\n${result.diagnostics.map((d) => d.message).join('\n')}`);
  }
  return result.document;
}

/** The policy through the one entry point users take (compileSource), its files in memory. */
export function compileText(text: string, files: Record<string, string> = {}): SourceCompilation {
  return compileSource(FILE, new MemoryHost({ [FILE]: text, ...files }));
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

/** An expected error of a check case. */
export const err = (code: string, at: string, message: string, hint?: string): Found => ({
  code,
  severity: 'error',
  message,
  at,
  ...(hint === undefined ? {} : { hint }),
});

/** An expected warning of a check case. */
export const warn = (code: string, at: string, message: string, hint?: string): Found => ({
  ...err(code, at, message, hint),
  severity: 'warning',
});
