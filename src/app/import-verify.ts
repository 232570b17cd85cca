/**
 * `import … --verify [POLICY]`: the proof (src/import/verify.ts) that a
 * policy decides every packet as the imported rules do — the translation
 * import just made, or a policy file the user keeps (edited since, say),
 * compiled from disk with its includes.
 */
import { readFileSync } from 'node:fs';

import type { IrPolicy } from '../compiler/index.js';
import type { SourceProgram } from '../import/program.js';
import { sourceKeysFromText, verifyTranslation, type VerifyOutcome } from '../import/verify.js';
import { compileOrThrow } from './policy-loader.js';

export interface VerifyReport {
  outcome: VerifyOutcome;
  /** The policy proved: the translation's name, or the file given. */
  policyFile: string;
  milliseconds: number;
}

/** Proves `policy` (compiled) against `program`; a policy file with errors is a UserError, its diagnostics passed to `onDiagnostic`. */
export function verifyImport(
  program: SourceProgram | readonly SourceProgram[],
  policy: { file: string; text: string; ir: IrPolicy; shown: string } | { path: string },
  onDiagnostic: (text: string) => void,
): VerifyReport {
  const compiled = 'path' in policy ? fromDisk(policy.path, onDiagnostic) : policy;
  const started = performance.now();
  // A rule with a limit or a dynamic set is paired with its source rule by the comment above it.
  const outcome = verifyTranslation(program, compiled.ir, sourceKeysFromText(compiled.text, compiled.file));
  return { outcome, policyFile: compiled.shown, milliseconds: performance.now() - started };
}

/** A policy file compiled (a UserError when it has errors or cannot be read), with its text. */
function fromDisk(path: string, onDiagnostic: (text: string) => void) {
  const ir = compileOrThrow(path, onDiagnostic).ir!;
  return { file: path, text: readFileSync(path, 'utf8'), ir, shown: path };
}
