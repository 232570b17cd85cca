import type { Diagnostic } from '../policy/diagnostic.js';
import type { ExitCodeValue } from './exit-codes.js';

/**
 * An error the user can fix: printed as `error[code]: message` plus a hint,
 * without a stack trace. Anything else that reaches the top is a bug.
 */
export class UserError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCodeValue,
    readonly hint?: string,
    /** A policy's diagnostics (policy-invalid), for `--json`'s error document. */
    readonly diagnostics: readonly Diagnostic[] = [],
  ) {
    super(message);
    this.name = 'UserError';
  }
}
