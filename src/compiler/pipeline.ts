/**
 * The compiler's passes, in the order they run — the one place that order
 * is written (peggy's lib/compiler/index.js). Every caller comes through
 * these functions, so no one runs a pipeline users do not.
 *
 *   policy file  → parse (src/policy: includes, set files)
 *   AST          → passes/check.ts   checkSyntaxTree: checks/ AST_CHECKS; errors stop here
 *                → passes/lower.ts   lowerPolicy: the IR (ir.ts)
 *   IR           → passes/check.ts   checkIr: checks/ IR_CHECKS (warnings; lockout, an error, stops here)
 *   per interface:
 *                → passes/classify.ts        classify: bit vectors, classes, LPM entries
 *                → passes/linear.ts          linearRules: the linear path, or null
 *                → passes/address-tables.ts  addressLookups: trie or table per slot, the tables
 *                → passes/emit.ts            emitInterface: the CompiledInterface (tails: emit-tail.ts), hashed
 *
 * On the linear path, the loader and `xdpfw compile` then ask
 * passes/fast-path-plan.ts which rules its fast path tests.
 */
import type { PolicyDocument } from '../policy/ast.js';
import { hasErrors, type Diagnostic } from '../policy/diagnostic.js';
import { formatDiagnostic } from '../policy/format.js';
import { loadPolicy } from '../policy/parse.js';
import type { SourceHost } from '../policy/source-host.js';
import { CheckContext } from './context.js';
import type { IrInterface, IrPolicy } from './ir.js';
import type { CompiledInterface, CompiledPolicy } from './output.js';
import { addressLookups, type AddressLookupChoice } from './passes/address-tables.js';
import { checkIr, checkSyntaxTree, sortDiagnostics } from './passes/check.js';
import { classify } from './passes/classify.js';
import { emitInterface } from './passes/emit.js';
import { linearRules, type ClassifyChoice } from './passes/linear.js';
import { lowerPolicy } from './passes/lower.js';

export interface CompileOptions {
  /** How address fields are looked up: the compiler's choice ('auto'), or forced, e.g. to test one path. */
  addressLookup?: AddressLookupChoice;
  /** The linear path or the bit vectors: the compiler's choice ('auto'), or forced. */
  classify?: ClassifyChoice;
}

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

/** Checks, lowers and compiles every interface; nothing is compiled when any error exists. */
export function compilePolicy(document: PolicyDocument, options: CompileOptions = {}): CompileResult {
  const { ir, diagnostics } = checkPolicy(document);
  if (!ir) return { diagnostics };
  const interfaces = ir.interfaces.map((i) => compileInterfaceWith(i, options));
  const conntrack = ir.interfaces.some((i) => i.conntrack !== null) ? ir.conntrack : null;
  const limits = ir.interfaces.some((i) => i.limits !== null) ? { ...ir.limits } : null;
  const protects = ir.protects.map(({ text, span }) => ({ text, span }));
  return { ir, compiled: { interfaces, protects, conntrack, limits }, diagnostics };
}

/** Checks and lowers, without building map entries (what `xdpfw check` needs). */
export function checkPolicy(document: PolicyDocument): CheckResult {
  const context = new CheckContext(document);
  const diagnostics = checkSyntaxTree(context);
  if (hasErrors(diagnostics)) return { diagnostics: sortDiagnostics(document, diagnostics) };
  const ir = lowerPolicy(context);
  diagnostics.push(...checkIr(ir, context));
  // A lockout is an error of what the policy means: nothing is compiled.
  if (hasErrors(diagnostics)) return { diagnostics: sortDiagnostics(document, diagnostics) };
  return { ir, diagnostics: sortDiagnostics(document, diagnostics) };
}

export function compileInterface(ir: IrInterface): CompiledInterface {
  return compileInterfaceWith(ir, {});
}

/** compileInterface with options (tests and benches force an address lookup or a classification path). */
export function compileInterfaceWith(ir: IrInterface, options: CompileOptions): CompiledInterface {
  const classes = classify(ir);
  const linear = linearRules(ir, options.classify);
  // The linear path reads no address map: a few trie entries are the least to load.
  const addresses = addressLookups(classes, options.addressLookup ?? (linear ? 'trie' : 'auto'));
  return emitInterface(ir, classes, linear, addresses);
}
