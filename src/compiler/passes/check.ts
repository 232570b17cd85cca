/**
 * The check passes: every check of checks/index.ts over the syntax tree
 * (AST_CHECKS) or over the lowered IR (IR_CHECKS), in its declared order.
 * Each check reports every finding of its concern; the caller stops once,
 * after the whole stage, so the user sees every error of a stage at once.
 */
import type { PolicyDocument } from '../../policy/ast.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { AST_CHECKS, IR_CHECKS } from '../checks/index.js';
import type { CheckContext } from '../context.js';
import type { IrPolicy } from '../ir.js';

/** What was written: unknown names, invalid literals, impossible matches, limits. */
export function checkSyntaxTree(context: CheckContext): Diagnostic[] {
  return AST_CHECKS.flatMap((check) => check(context));
}

/** What the checked policy means: shadowed rules, dropped neighbour discovery. */
export function checkIr(ir: IrPolicy, context: CheckContext): Diagnostic[] {
  return IR_CHECKS.flatMap((check) => check(ir, context));
}

/** By file (in the document's order), then position, then code. */
export function sortDiagnostics(document: PolicyDocument, diagnostics: Diagnostic[]): Diagnostic[] {
  const fileOrder = new Map(document.files.map((f, i) => [f.span.file, i]));
  const rank = (d: Diagnostic) => fileOrder.get(d.span.file) ?? document.files.length;
  return [...diagnostics].sort(
    (a, b) =>
      rank(a) - rank(b) ||
      (a.span.file < b.span.file ? -1 : a.span.file > b.span.file ? 1 : 0) ||
      a.span.start.offset - b.span.start.offset ||
      (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
  );
}
