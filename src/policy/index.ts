/** The policy front end: text → AST (+ located diagnostics). Pure: files come through a SourceHost. */
export type * from './ast.js';
export { hasErrors, type Diagnostic, type Severity } from './diagnostic.js';
export { POLICY_CODES, isPolicyCode, type PolicyCode } from './codes.js';
export { formatDiagnostic, suggest } from './format.js';
export { loadPolicy, parsePolicyFile, type LoadResult, type ParseResult } from './parse.js';
export type { SourceHost } from './source-host.js';
export { FileTooLargeError, SOURCE_LIMITS } from './source-host.js';
export { setEntryCount, setEntryLiteral, setEntryText } from './set-file.js';
