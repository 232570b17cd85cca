import {
  addToDynamicSet,
  deleteFromDynamicSet,
  flushDynamicSet,
  listDynamicSet,
  parseTimeout,
  type ListedEntry,
  type ListedSet,
} from '../../app/dynamic-sets.js';
import { ExitCode } from '../../app/exit-codes.js';
import { requireRoot } from '../../app/preconditions.js';
import { formatDuration } from '../../compiler/syntax/duration.js';
import type { CliIo } from '../io.js';
import { json, out } from '../io.js';

export interface SetOptions {
  json?: boolean;
}

export interface SetAddOptions extends SetOptions {
  timeout?: string;
}

/** Seconds left as a person reads them: `9m 58s`, `2h 0m`, `never`. */
export function timeLeft(seconds: number | null): string {
  if (seconds === null) return 'never';
  const s = Math.max(0, Math.ceil(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** Who added an entry: the rule (interface, name or text, file:line), or `xdpfw set add`. */
export function addedBy(e: ListedEntry): string {
  if (e.addedBy === 'user') return 'xdpfw set add';
  if (!e.rule) return `a rule no longer in force (origin ${e.origin.toString(16).padStart(8, '0')})`;
  const r = e.rule;
  return `${r.interface}: ${r.name ?? r.text} (${r.file}:${r.line})`;
}

/** The human listing: one line an entry, then a count. */
export function renderSet(listed: ListedSet): string {
  const width = Math.max(18, ...listed.entries.map((e) => e.prefix.length));
  const lines = listed.entries.map((e) => `${e.prefix.padEnd(width)}  ${timeLeft(e.secondsLeft).padEnd(8)}  ${addedBy(e)}`);
  const of = `${listed.entries.length} of ${listed.size.toLocaleString('en-US')}`;
  const timeout = listed.timeout === null ? 'no timeout' : `timeout ${formatDuration(listed.timeout)}`;
  lines.push(`${listed.set}: ${of} entries (${timeout}; used by ${listed.interfaces.join(', ')})`);
  return lines.join('\n');
}

/** `xdpfw set list NAME`: the live entries, the time each has left, and who added it. */
export function setListCommand(name: string, options: SetOptions, io: CliIo): number {
  requireRoot('set list');
  const listed = listDynamicSet(name);
  if (options.json) json(io, listed);
  else out(io, renderSet(listed));
  return ExitCode.ok;
}

/** `xdpfw set add NAME PREFIX… [--timeout T]`: into the live set, for the next packet. */
export function setAddCommand(name: string, prefixes: string[], options: SetAddOptions, io: CliIo): number {
  const seconds = options.timeout === undefined ? undefined : parseTimeout(options.timeout);
  requireRoot('set add');
  const { added, seconds: lasts } = addToDynamicSet(name, prefixes, seconds);
  if (options.json) json(io, { set: name, added, seconds: lasts });
  else
    out(
      io,
      `${name}: added ${added} entr${added === 1 ? 'y' : 'ies'} (${lasts === null ? 'until deleted' : `for ${formatDuration(lasts)}`})`,
    );
  return ExitCode.ok;
}

/** `xdpfw set del NAME PREFIX…`: exactly those prefixes. */
export function setDelCommand(name: string, prefixes: string[], options: SetOptions, io: CliIo): number {
  requireRoot('set del');
  const deleted = deleteFromDynamicSet(name, prefixes);
  if (options.json) json(io, { set: name, deleted, absent: prefixes.length - deleted });
  else
    out(
      io,
      `${name}: deleted ${deleted} of ${prefixes.length}${deleted < prefixes.length ? ` (${prefixes.length - deleted} not in the set)` : ''}`,
    );
  return ExitCode.ok;
}

/** `xdpfw set flush NAME`: every entry, whoever added it. */
export function setFlushCommand(name: string, options: SetOptions, io: CliIo): number {
  requireRoot('set flush');
  const deleted = flushDynamicSet(name);
  if (options.json) json(io, { set: name, deleted });
  else out(io, `${name}: flushed ${deleted} entr${deleted === 1 ? 'y' : 'ies'}`);
  return ExitCode.ok;
}
