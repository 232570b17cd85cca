/**
 * `ban-within-rate` (warning): a rule that bans and whose limit has no
 * `over` decides, and so bans, the packets that find a token — the sources
 * that stay within the rate, which is rarely what a ban is for.
 */
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';

export const checkBansWithinRate: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const { rule } of context.rules()) {
    const limit = rule.matches.find((m) => m.kind === 'limit-match');
    if (!rule.ban || !limit || limit.over || !limit.rate) continue;
    out.push(
      diagnostic(
        'ban-within-rate',
        rule.ban.span,
        `this rule bans what stays within its rate: its limit holds while tokens last`,
        "to ban what exceeds the rate, write 'limit rate over …'",
      ),
    );
  }
  return out;
};
