import type { Diagnostic } from '../policy/index.js';

/** The streams a command writes to; injected so tests can drive commands. */
export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

/** Data to stdout. */
export function out(io: CliIo, text: string): void {
  io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Diagnostics and progress to stderr. */
export function err(io: CliIo, text: string): void {
  io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function json(io: CliIo, value: unknown): void {
  out(io, JSON.stringify(value, null, 2));
}

/** A diagnostic as `--json` prints it: its span flattened to where it starts and ends. */
export function diagnosticJson(d: Diagnostic) {
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    hint: d.hint ?? null,
    file: d.span.file,
    line: d.span.start.line,
    col: d.span.start.column,
    endLine: d.span.end.line,
    endCol: d.span.end.column,
  };
}
