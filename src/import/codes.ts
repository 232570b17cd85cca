/**
 * Diagnostic codes of the importers. Codes are stable: docs/language.md lists
 * this table, and tests/unit/docs.test.ts fails when a code has no row there.
 */
export const IMPORT_CODES = {
  'import-syntax':
    'a line of an iptables-save dump does not follow the format iptables-restore reads; the message names the line, the rule and what was expected',
} as const satisfies Record<string, string>;

export type ImportCode = keyof typeof IMPORT_CODES;

/** A located problem in an imported file: 1-based line and column, and a message that starts with "line N:". */
export interface ImportDiagnostic {
  line: number;
  column: number;
  code: ImportCode;
  message: string;
}
