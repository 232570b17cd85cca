/**
 * The options of `set NAME dynamic …`: `dynamic-set-option` (an unknown or
 * repeated option, a size out of range or written as a duration) and
 * `bad-duration` (a timeout that is zero, has an unknown unit or exceeds
 * 30 days). Ranges and defaults: src/compiler/rate-limits.ts.
 */
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { DYNAMIC_SET_OPTION_NAMES, DYNAMIC_SET_SIZE } from '../rate-limits.js';
import { DURATION_HINT, durationSeconds } from '../syntax/duration.js';
import { checkCount, checkOptionNames } from '../syntax/options.js';

const SIZE_HINT = `size is the entries the set holds at most; a full set refuses new ones (default ${DYNAMIC_SET_SIZE.default.toLocaleString('en-US')})`;

export const checkDynamicSetOptions: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const item of context.document.items) {
    if (item.kind !== 'set' || item.source.kind !== 'dynamic') continue;
    const { diagnostics, valid } = checkOptionNames(item.source.options, DYNAMIC_SET_OPTION_NAMES, 'dynamic-set-option', 'dynamic set');
    out.push(...diagnostics);
    for (const option of valid) {
      if (option.name.name === 'timeout') {
        const seconds = durationSeconds(option.value);
        if (typeof seconds !== 'number')
          out.push(diagnostic('bad-duration', option.value.span, `timeout: ${seconds.error}`, DURATION_HINT));
        continue;
      }
      const finding = checkCount(option, DYNAMIC_SET_SIZE, 'dynamic-set-option', 'entries', SIZE_HINT);
      if (finding) out.push(finding);
    }
  }
  return out;
};
