import type { Diagnostic } from './diagnostic.js';
import { lineStarts } from './lines.js';

/**
 * Renders a diagnostic for people, rustc-style:
 *
 *     edge.xdpfw:12:13: error[unknown-set]: unknown set '@blocklst' (did you mean '@blocklist'?)
 *        |
 *     12 |   drop  src @blocklst
 *        |             ^^^^^^^^^
 *       hint: …
 *
 * `sourceOf` returns a file's text, or undefined when it is not at hand (the
 * excerpt is then left out, the located first line still says where).
 */
export function formatDiagnostic(d: Diagnostic, sourceOf: (file: string) => string | undefined): string {
  const { file, start } = d.span;
  const out = [`${file}:${start.line}:${start.column}: ${d.severity}[${d.code}]: ${d.message}`];
  const text = sourceOf(file);
  if (text !== undefined) out.push(...excerpt(d, text));
  if (d.hint !== undefined) out.push(`  hint: ${d.hint}`);
  return out.join('\n');
}

function excerpt(d: Diagnostic, text: string): string[] {
  const { start, end } = d.span;
  const line = lineOf(text, start.line);
  if (line === undefined) return [];
  const gutter = String(start.line).length;
  const pad = ' '.repeat(gutter);
  // A span running onto later lines is underlined to the end of its first line;
  // an empty span (end of line, end of file) still gets one caret.
  const lastColumn = end.line === start.line ? end.column : line.length + 1;
  const width = Math.max(1, lastColumn - start.column);
  // Keep the line's tabs in the indent so the carets line up in a terminal.
  const indent = line.slice(0, start.column - 1).replace(/[^\t]/g, ' ');
  return [`${pad} |`, `${start.line} | ${line}`, `${pad} | ${indent}${'^'.repeat(width)}`];
}

/** Where each line of the last text starts: a policy can have hundreds of diagnostics, each would split it. */
let lineIndex: { text: string; starts: Uint32Array } | undefined;

/** Line `n` (1-based) of `text` without its line end (lines.ts), or undefined past the end. */
function lineOf(text: string, n: number): string | undefined {
  if (lineIndex?.text !== text) lineIndex = { text, starts: lineStarts(text) };
  const { starts } = lineIndex;
  if (n < 1 || n > starts.length) return undefined;
  const line = text.slice(starts[n - 1], n < starts.length ? starts[n] : text.length);
  return line.replace(/(?:\r\n|[\n\r\v\f\u0085\u2028\u2029])$/, '');
}

/**
 * The candidate closest to `name` when it is a plausible typo (edit distance
 * at most 2, and less than the name's length so that `ab` does not suggest
 * `xy`); ties go to the earlier candidate. For "did you mean" messages.
 */
export function suggest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(2, name.length - 1);
  for (const candidate of candidates) {
    if (candidate === name) continue;
    const distance = levenshtein(name, candidate, bestDistance);
    if (distance < bestDistance || (distance === bestDistance && best === undefined)) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Edit distance, giving up (returning limit + 1) once it must exceed `limit`. */
function levenshtein(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length]!;
}
