import { randomBytes } from 'node:crypto';

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
  out(io, jsonText(value, 2));
}

/**
 * JSON in which a bigint is written as its exact digits: a JSON number, which
 * has no size limit, where JSON.stringify refuses bigints and Number() would
 * round a counter above 2^53. Each bigint goes through as a string carrying
 * a random marker, and the quoted markers become bare digits afterwards (a
 * user's string cannot hold a marker it never saw).
 */
export function jsonText(value: unknown, indent?: number): string {
  const marker = `bigint-${randomBytes(12).toString('hex')}:`;
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${marker}${v}` : v), indent);
  return text.replaceAll(new RegExp(`"${marker}(-?\\d+)"`, 'g'), '$1');
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
