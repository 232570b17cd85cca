/**
 * Diagnostic codes of the parse/load stage. Codes are stable: users search for
 * them and docs/language.md lists this table. A test fails if the stage emits a code
 * missing here; the compiler's check codes live in src/compiler/codes.ts.
 */
export const POLICY_CODES = {
  syntax: 'the text does not follow the policy grammar; the message says what was expected and what was found',
  'file-not-found': 'the policy file itself cannot be read',
  'include-not-found': 'an `include "file"` names a file that cannot be read',
  'include-cycle': 'files include each other in a loop (a file includes itself, directly or through others)',
  'set-file-not-found': 'a `set NAME from "file"` names a file that cannot be read',
  'file-too-large': 'a file is larger than the loader reads: 16 MiB for a policy or included file, 256 MiB for a set file',
  'too-many-files': "a policy's include tree reads more than 256 files, or more than 1 GiB in all",
  'set-file-syntax': 'a line of a set file is not a single address or CIDR (one a line, `#` comments)',
} as const satisfies Record<string, string>;

export type PolicyCode = keyof typeof POLICY_CODES;

export function isPolicyCode(code: string): code is PolicyCode {
  return Object.hasOwn(POLICY_CODES, code);
}
