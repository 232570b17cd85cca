/** Reading a set file's entries (ast.ts SetFileEntries) one at a time. */
import type { AddressLiteral, Position, SetFileEntries } from './ast.js';

export function setEntryCount(entries: SetFileEntries): number {
  return entries.start.length;
}

export function setEntryText(entries: SetFileEntries, i: number): string {
  return entries.text.slice(entries.start[i], entries.end[i]);
}

/** Entry i as the AST node an inline set would have: for diagnostics and tests. */
export function setEntryLiteral(entries: SetFileEntries, i: number): AddressLiteral {
  const { file, start, end } = entries;
  return { kind: 'address', text: setEntryText(entries, i), span: { file, start: positionOf(entries, start[i]), end: positionOf(entries, end[i]) } };
}

/** Line starts of a set file's text, found when a diagnostic first needs a position (a million entries need none). */
const lineStarts = new WeakMap<SetFileEntries, Uint32Array>();

function positionOf(entries: SetFileEntries, offset: number): Position {
  let starts = lineStarts.get(entries);
  if (!starts) {
    const { text } = entries;
    let lines = 1;
    for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
    starts = new Uint32Array(lines);
    for (let at = text.indexOf('\n'), n = 1; at !== -1; at = text.indexOf('\n', at + 1)) starts[n++] = at + 1;
    lineStarts.set(entries, starts);
  }
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (starts[mid] <= offset) low = mid;
    else high = mid - 1;
  }
  return { offset, line: low + 1, column: offset - starts[low] + 1 };
}
