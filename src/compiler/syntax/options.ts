/**
 * `name value` options of a settings block (`limits { … }`) or a dynamic
 * set's declaration: the unknown and repeated ones, reported under the
 * caller's code with the same wording everywhere.
 */
import type { SettingOption } from '../../policy/ast.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { suggest } from '../../policy/format.js';
import { diagnostic, type CompilerCode } from '../codes.js';

/** The findings about names, and the first occurrence of each known option (to check values). */
export function checkOptionNames(
  options: readonly SettingOption[],
  known: readonly string[],
  code: CompilerCode,
  what: string,
): { diagnostics: Diagnostic[]; valid: SettingOption[] } {
  const diagnostics: Diagnostic[] = [];
  const valid: SettingOption[] = [];
  const seen = new Map<string, SettingOption>();
  for (const option of options) {
    const name = option.name.name;
    if (!known.includes(name)) {
      const guess = suggest(name, known);
      const message = `unknown ${what} option '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}`;
      diagnostics.push(diagnostic(code, option.name.span, message, `${what} options: ${known.join(', ')}`));
      continue;
    }
    const first = seen.get(name);
    if (first) {
      const message = `'${name}' is set twice (first at line ${first.span.start.line}, column ${first.span.start.column})`;
      diagnostics.push(diagnostic(code, option.name.span, message, 'keep one of them'));
      continue;
    }
    seen.set(name, option);
    valid.push(option);
  }
  return { diagnostics, valid };
}

/** A count option's value: out of range, or written as a duration. */
export function checkCount(
  option: SettingOption,
  range: { min: number; max: number },
  code: CompilerCode,
  what: string,
  hint: string,
): Diagnostic | undefined {
  const name = option.name.name;
  const bounds = `${range.min.toLocaleString('en-US')} … ${range.max.toLocaleString('en-US')}`;
  const value = option.value;
  if (value.kind === 'duration')
    return diagnostic(code, value.span, `${name} is a number of ${what}, not a duration`, `write a number ${bounds}`);
  if (value.value < range.min || value.value > range.max) {
    return diagnostic(code, value.span, `${name} ${value.value} is out of range (${bounds})`, hint);
  }
  return undefined;
}
