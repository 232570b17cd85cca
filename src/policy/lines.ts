/** Line and column of offsets in a text, as peggy counts them (1-based; a line ends at '\n'). */
import type { Position } from './ast.js';

export function countLines(text: string): number {
  let lines = 1;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) lines++;
  return lines;
}

/** The text's line starts, found once: each position is then a binary search. */
export class LineIndex {
  private readonly starts: Uint32Array;

  constructor(text: string) {
    this.starts = new Uint32Array(countLines(text));
    for (let at = text.indexOf('\n'), n = 1; at !== -1; at = text.indexOf('\n', at + 1)) this.starts[n++] = at + 1;
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
