/**
 * Durations as the language writes them: `30s`, `10m`, `6h`, `2d`, or a
 * plain number of seconds. Any feature that takes a time (conntrack
 * timeouts today) converts through here, so every duration reads the same
 * and fails with the same `bad-duration` wording.
 */
import type { DurationLiteral, NumberLiteral } from '../../policy/ast.js';

/** Seconds per unit. */
export const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** The longest duration the language takes: 30 days. */
export const MAX_DURATION_SECONDS = 30 * 86400;

/** Seconds, or why the literal is not a duration (a sentence for `bad-duration`). */
export function durationSeconds(literal: DurationLiteral | NumberLiteral, max = MAX_DURATION_SECONDS): number | { error: string } {
  const unit = literal.kind === 'duration' ? literal.unit : 's';
  const text = literal.kind === 'duration' ? `${literal.value}${literal.unit}` : String(literal.value);
  const perUnit = Object.hasOwn(DURATION_UNITS, unit) ? DURATION_UNITS[unit] : undefined;
  if (perUnit === undefined) return { error: `'${text}' has an unknown unit '${unit}'` };
  const seconds = literal.value * perUnit;
  if (seconds === 0) return { error: `'${text}' is zero: a duration is at least 1s` };
  if (seconds > max) return { error: `'${text}' is longer than ${formatDuration(max)}` };
  return seconds;
}

/** Seconds in the largest unit that divides them: 21600 → `6h`, 90 → `90s`. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of Object.entries(DURATION_UNITS).reverse()) {
    if (seconds % size === 0 && seconds >= size) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** For hints: `s, m, h or d (30s, 10m, 6h, 2d)`. */
export const DURATION_HINT = 'a duration is a number with a unit: s, m, h or d (30s, 10m, 6h, 2d), or plain seconds';
