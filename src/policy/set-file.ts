/** Reading a set file's entries (ast.ts SetFileEntries) one at a time. */
import type { AddressLiteral, Position, SetFileEntries } from './ast.js';
import { LineIndex } from './lines.js';

export function setEntryCount(entries: SetFileEntries): number {
  return entries.start.length;
}

export function setEntryText(entries: SetFileEntries, i: number): string {
  return entries.text.slice(entries.start[i], entries.end[i]);
}

/** Entry i as the AST node an inline set would have: for diagnostics and tests. */
export function setEntryLiteral(entries: SetFileEntries, i: number): AddressLiteral {
  const { file, start, end } = entries;
  return {
    kind: 'address',
    text: setEntryText(entries, i),
    span: { file, start: positionOf(entries, start[i]), end: positionOf(entries, end[i]) },
  };
}

/** Each set file's line index, built when a diagnostic first needs a position (a million entries need none). */
const lineIndexes = new WeakMap<SetFileEntries, LineIndex>();

function positionOf(entries: SetFileEntries, offset: number): Position {
  let index = lineIndexes.get(entries);
  if (!index) lineIndexes.set(entries, (index = new LineIndex(entries.text, true)));
  return index.position(offset);
}
