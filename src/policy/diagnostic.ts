import type { Span } from './ast.js';

export type Severity = 'error' | 'warning';

/**
 * A located message about the user's policy. `code` is stable (documented in
 * docs/language.md, tested): tools and people can search for it. Codes are listed in
 * src/policy/codes.ts (parse/load stage) and src/compiler/codes.ts (checks).
 */
export interface Diagnostic {
  code: string;
  severity: Severity;
  message: string;
  span: Span;
  /** A suggestion that helps fix it, e.g. "did you mean '@blocklist'?" lives in message; hint is extra advice. */
  hint?: string;
}

/** Thrown nowhere: stages return diagnostics; callers decide. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
