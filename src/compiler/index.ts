/**
 * The compiler: AST → checks → IR → bit vectors → map entries, in the
 * passes pipeline.ts runs. Pure and deterministic: no fs, no logger, no
 * kernel; the same document gives the same output, byte for byte.
 *
 * Layout: pipeline.ts (the order of the passes), passes/ (one stage a
 * file), checks/ (one check a file), structures/ (what the passes build
 * on: bit vectors, prefix lists, LPM entries, address intervals), syntax/
 * (walks and names of the syntax tree), and the data the stages hand on:
 * ir.ts, output.ts, context.ts.
 */
export {
  checkPolicy,
  compileInterface,
  compileInterfaceWith,
  compilePolicy,
  compileSource,
  type CheckResult,
  type CompileOptions,
  type CompileResult,
  type SourceCompilation,
} from './pipeline.js';
export { sortDiagnostics } from './passes/check.js';
export type { AddressLookupChoice } from './passes/address-tables.js';
export type { ClassifyChoice } from './passes/linear.js';
export { compiledToJson, type JsonValue } from './json.js';
export { prefixCount, toEntries } from './structures/prefix-classes.js';
export { COMPILER_CODES, type CompilerCode } from './codes.js';
export { dependsOnState, evaluate, ruleMatches, type FieldPacket, type IrVerdict, type TailOracle } from './evaluate.js';
export type { IrPolicy, IrInterface, IrRule } from './ir.js';
export { proveAllowed, sessionTraffic, type ProofOutcome, type TcpSession } from './lockout.js';
export { droppedBy } from './checks/lockout.js';
export type { CompiledPolicy, CompiledInterface } from './output.js';
