/**
 * The compiler: AST → checks → IR → bit vectors → map entries. Pure and
 * deterministic: no fs, no logger, no kernel; the same document gives the
 * same output, byte for byte.
 */
import type { PolicyDocument } from '../policy/ast.js';
import { hasErrors, type Diagnostic } from '../policy/diagnostic.js';
import { formatDiagnostic } from '../policy/format.js';
import { loadPolicy } from '../policy/parse.js';
import type { SourceHost } from '../policy/source-host.js';
import { AST_CHECKS, IR_CHECKS } from './checks/index.js';
import { CheckContext } from './context.js';
import { compileInterfaceWith, type CompileOptions } from './passes/emit.js';
import type { IrPolicy } from './ir.js';
import { lowerPolicy } from './passes/lower.js';
import type { CompiledPolicy } from './output.js';

export interface CheckResult {
  /** Present when no check reported an error. */
  ir?: IrPolicy;
  /** Every diagnostic, errors and warnings, in source order. */
  diagnostics: Diagnostic[];
}

export interface CompileResult extends CheckResult {
  /** Present when no check reported an error. */
  compiled?: CompiledPolicy;
}

/** Checks and lowers, without building map entries (what `xdpfw check` needs). */
export function checkPolicy(document: PolicyDocument): CheckResult {
  const context = new CheckContext(document);
  const diagnostics = AST_CHECKS.flatMap((check) => check(context));
  if (hasErrors(diagnostics)) return { diagnostics: sortDiagnostics(document, diagnostics) };
  const ir = lowerPolicy(context);
  diagnostics.push(...IR_CHECKS.flatMap((check) => check(ir, context)));
  return { ir, diagnostics: sortDiagnostics(document, diagnostics) };
}

/** Checks, lowers and compiles every interface; nothing is compiled when any error exists. */
export function compilePolicy(document: PolicyDocument, options: CompileOptions = {}): CompileResult {
  const { ir, diagnostics } = checkPolicy(document);
  if (!ir) return { diagnostics };
  return { ir, compiled: { interfaces: ir.interfaces.map((i) => compileInterfaceWith(i, options)) }, diagnostics };
}

export interface SourceCompilation extends CompileResult {
  /** The root file, as the caller named it. */
  file: string;
  /** Present when the front end produced one (even with check errors). */
  document?: PolicyDocument;
  /** Every diagnostic rendered with its source excerpt and caret. */
  rendered: string[];
  /** Every file read: the policy, its includes and its set files (a watcher's list). */
  sources: string[];
}

/**
 * The one way into the pipeline (peggy's `generate()`): read `file` and its
 * includes and set files through `host`, parse, check and compile. The CLI,
 * the controller, the tests and the benches all come through here; every
 * diagnostic of every stage is returned, and nothing is compiled when any
 * error exists.
 */
export function compileSource(file: string, host: SourceHost, options: CompileOptions = {}): SourceCompilation {
  const loaded = loadPolicy(file, host);
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  let result: CompileResult = { diagnostics };
  if (loaded.document && !hasErrors(diagnostics)) {
    const compiled = compilePolicy(loaded.document, options);
    result = { ...compiled, diagnostics: [...diagnostics, ...compiled.diagnostics] };
  }
  const rendered = result.diagnostics.map((d) => formatDiagnostic(d, (f) => loaded.sources.get(f)));
  return { file, document: loaded.document, ...result, rendered, sources: [...loaded.sources.keys()] };
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

export { compileInterface, compileInterfaceWith, type CompileOptions } from './passes/emit.js';
export { compiledToJson, type JsonValue } from './json.js';
export { prefixCount, toEntries } from './structures/prefix-classes.js';
export { COMPILER_CODES, type CompilerCode } from './codes.js';
export { evaluate, ruleMatches, type FieldPacket, type IrVerdict } from './evaluate.js';
export type { IrPolicy, IrInterface, IrRule } from './ir.js';
export type { CompiledPolicy, CompiledInterface } from './output.js';
export type { ClassifyChoice } from './passes/linear.js';
