/**
 * Line and column of offsets in a text (1-based). A line ends at LF, CRLF, a
 * lone CR, VT, FF, NEL (U+0085), LS (U+2028) or PS (U+2029): the grammar's
 * NL, so a position and the token the parser stopped at agree.
 */
import type { Position } from './ast.js';

/** An upper bound of the lines of a set file, which splits at '\n' only: one entry at most a line. */
export function countLines(text: string): number {
  let lines = 1;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/** Whether the character code ends a line (CR does unless LF follows it). */
export function isLineEnd(c: number): boolean {
  return c === 10 || c === 11 || c === 12 || c === 13 || c === 0x85 || c === 0x2028 || c === 0x2029;
}

/** Where each line of `text` starts; a set file's lines end at '\n' only (its parser splits there). */
export function lineStarts(text: string, newlineOnly = false): Uint32Array {
  if (newlineOnly) {
    const starts = new Uint32Array(countLines(text));
    for (let at = text.indexOf('\n'), n = 1; at !== -1; at = text.indexOf('\n', at + 1)) starts[n++] = at + 1;
    return starts;
  }
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isLineEnd(c) && !(c === 13 && text.charCodeAt(i + 1) === 10)) starts.push(i + 1);
  }
  return Uint32Array.from(starts);
}

/** The text's line starts, found once: each position is then a binary search. */
export class LineIndex {
  private readonly starts: Uint32Array;

  constructor(text: string, newlineOnly = false) {
    this.starts = lineStarts(text, newlineOnly);
  }

  position(offset: number): Position {
    const { starts } = this;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (starts[mid] <= offset) low = mid;
      else high = mid - 1;
    }
    return { offset, line: low + 1, column: offset - starts[low] + 1 };
  }
}
