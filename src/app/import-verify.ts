/**
 * `import … --verify [POLICY]`: the proof (src/import/verify.ts) that a
 * policy decides every packet as the imported rules do — the translation
 * import just made, or a policy file the user keeps (edited since, say),
 * compiled from disk with its includes.
 */
import type { IrPolicy } from '../compiler/index.js';
import type { SourceProgram } from '../import/program.js';
import { verifyTranslation, type VerifyOutcome } from '../import/verify.js';
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
  policy: { file: string; ir: IrPolicy } | { path: string },
  onDiagnostic: (text: string) => void,
): VerifyReport {
  const file = 'path' in policy ? policy.path : policy.file;
  const ir = 'path' in policy ? compileOrThrow(policy.path, onDiagnostic).ir! : policy.ir;
  const started = performance.now();
  const outcome = verifyTranslation(program, ir);
  return { outcome, policyFile: file, milliseconds: performance.now() - started };
}
