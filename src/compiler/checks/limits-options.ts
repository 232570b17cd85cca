/**
 * The options of a `limits { … }` block: `limits-option` (an unknown or
 * repeated option, a size out of range or written as a duration). Ranges
 * and defaults: src/compiler/rate-limits.ts.
 */
import type { Diagnostic } from '../../policy/diagnostic.js';
import type { Check } from '../context.js';
import { LIMITS_OPTION_NAMES, LIMITS_SIZE } from '../rate-limits.js';
import { checkCount, checkOptionNames } from '../syntax/options.js';

const SIZE_HINT = `size is the buckets of the host's meter table, which every interface shares (default ${LIMITS_SIZE.default.toLocaleString('en-US')})`;

export const checkLimitsOptions: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const item of context.document.items) {
    if (item.kind !== 'limits') continue;
    const { diagnostics, valid } = checkOptionNames(item.options, LIMITS_OPTION_NAMES, 'limits-option', 'limits');
    out.push(...diagnostics);
    for (const option of valid) {
      const finding = checkCount(option, LIMITS_SIZE, 'limits-option', 'buckets', SIZE_HINT);
      if (finding) out.push(finding);
    }
  }
  return out;
};
