/** Reading a set file's entries (ast.ts SetFileEntries) one at a time. */
import type { AddressLiteral, SetFileEntries } from './ast.js';

export function setEntryCount(entries: SetFileEntries): number {
  return entries.start.length;
}

export function setEntryText(entries: SetFileEntries, i: number): string {
  return entries.text.slice(entries.start[i], entries.end[i]);
}

/** Entry i as the AST node an inline set would have: for diagnostics and tests. */
export function setEntryLiteral(entries: SetFileEntries, i: number): AddressLiteral {
  const { file, start, end, line, column } = entries;
  const length = end[i] - start[i];
  return {
    kind: 'address',
    text: setEntryText(entries, i),
    span: {
      file,
      start: { offset: start[i], line: line[i], column: column[i] },
      end: { offset: end[i], line: line[i], column: column[i] + length },
    },
  };
}
