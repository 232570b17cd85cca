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
