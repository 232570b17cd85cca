/**
 * A limit's rate and burst: `limit-rate` (no rate, a rate of 0 or past
 * 1,000,000,000 a unit), `limit-unit` (a unit that is not second, minute or
 * hour), `limit-burst` (a burst of 0 or past 1,000,000). Ranges:
 * src/compiler/rate-limits.ts.
 */
import type { LimitMatch } from '../../policy/ast.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { suggest } from '../../policy/format.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { BURST, isRateUnit, RATE, RATE_UNIT_NAMES } from '../rate-limits.js';

const count = (n: number) => n.toLocaleString('en-US');

export const checkLimitRates: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) if (match.kind === 'limit-match') out.push(...checkLimit(match));
  }
  return out;
};

function checkLimit(match: LimitMatch): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { rate, burst } = match;
  if (!rate) {
    out.push(
      diagnostic(
        'limit-rate',
        match.span,
        "'limit' needs a rate",
        `write it first, as in 'limit rate 10/second${burst ? ` burst ${burst.value}` : ''}'`,
      ),
    );
  } else {
    const unit = rate.unit.name;
    if (!isRateUnit(unit)) {
      const guess = suggest(unit, RATE_UNIT_NAMES);
      const message = `unknown rate unit '${unit}'${guess ? ` (did you mean '${guess}'?)` : ''}`;
      out.push(diagnostic('limit-unit', rate.unit.span, message, `rate units: ${RATE_UNIT_NAMES.join(', ')} (as in 10/second)`));
    }
    const n = rate.value.value;
    if (n === 0) {
      out.push(
        diagnostic(
          'limit-rate',
          rate.value.span,
          'a rate of 0 never has a token',
          "to match every packet, leave 'limit' out; the rate is at least 1",
        ),
      );
    } else if (n > RATE.max) {
      const message = `rate ${n} is out of range (${count(RATE.min)} … ${count(RATE.max)} a unit)`;
      out.push(diagnostic('limit-rate', rate.value.span, message, 'a packet costs at least one nanosecond of tokens'));
    }
  }
  if (burst && (burst.value < BURST.min || burst.value > BURST.max)) {
    const message = `burst ${burst.value} is out of range (${count(BURST.min)} … ${count(BURST.max)} packets)`;
    out.push(
      diagnostic(
        'limit-burst',
        burst.span,
        message,
        `burst is how many packets pass at once after a quiet spell (default ${BURST.default})`,
      ),
    );
  }
  return out;
}
