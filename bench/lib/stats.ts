/** Medians, spreads and plain-text tables for the bench reports. */

export interface Sample {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median, as a fraction. */
  spread: number;
  runs: number[];
}

export function sample(runs: number[]): Sample {
  if (runs.length === 0) throw new RangeError('no runs');
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const min = sorted[0];
  const max = sorted[sorted.length - 1];
  return { median, min, max, spread: median === 0 ? 0 : (max - min) / median, runs };
}

export function fixed(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '—';
}

/** 1234567 → "1,234,567". */
export function grouped(x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—';
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`;
}

export function ratio(x: number, digits = 2): string {
  return Number.isFinite(x) ? `${x.toFixed(digits)}×` : '—';
}

/** A Markdown table (readable as plain text too), columns padded; numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const right = header.map((_, i) => rows.every((r) => /^[-+\d.,×%—≤≥ ()–~]+$/.test(String(r[i] ?? ''))));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (right[i] ? (c ?? '').padStart(widths[i]) : (c ?? '').padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}
