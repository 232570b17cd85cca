/**
 * The controller's logs: pino JSON lines on stdout (one event per line, for
 * journald and log shippers), or, when stdout is a terminal, a compact line
 * per event for people. Components log through child loggers
 * (`{component, interface}`).
 */

import { Writable } from 'node:stream';

import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'component', 'interface']);

/** One JSON log line as a human line: `12:00:01 WARN  git eth0  message key=value`. */
export function humanLine(json: string): string {
  let e: Record<string, unknown>;
  try {
    e = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof e.time === 'string' ? e.time.slice(11, 19) : new Date(Number(e.time)).toISOString().slice(11, 19);
  const where = [e.component, e.interface].filter((x) => x !== undefined).join(' ');
  const extra = Object.entries(e)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => {
      if (k === 'diagnostics' && Array.isArray(v)) return `\n    ${v.join('\n').replace(/\n/g, '\n    ')}`;
      if (k === 'err' && typeof v === 'object' && v !== null) return `err=${JSON.stringify((v as { message?: string }).message)}`;
      return `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`;
    });
  const level = (LEVEL_NAMES[Number(e.level)] ?? String(e.level)).padEnd(5);
  return `${time} ${level} ${where ? `${where}  ` : ''}${String(e.msg ?? '')}${extra.length ? ` ${extra.join(' ')}` : ''}\n`;
}

function humanStream(out: NodeJS.WritableStream): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        out.write(humanLine(pending.slice(0, nl)));
        pending = pending.slice(nl + 1);
      }
      done();
    },
  });
}

export interface LoggerOptions {
  level?: string;
  /** Default: process.stdout. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Default: human lines when the stream is a TTY. */
  human?: boolean;
}

export function createLogger(o: LoggerOptions = {}): Logger {
  const stream = o.stream ?? process.stdout;
  const human = o.human ?? stream.isTTY === true;
  return pino(
    {
      level: o.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: pino.stdSerializers.err },
    },
    human ? humanStream(stream) : stream,
  );
}
