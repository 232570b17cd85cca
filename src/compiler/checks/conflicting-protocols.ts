/** `conflicting-protocols`: a rule asking for two different protocols (`tcp … udp`), which no packet has. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { impliedProtocols } from '../syntax/walks.js';

export const checkConflictingProtocols: Check = (context) => {
  const out = [];
  for (const { rule } of context.rules()) {
    const [first, ...rest] = impliedProtocols(rule);
    if (!first) continue;
    const other = rest.find((p) => p.protocol !== first.protocol);
    if (!other) continue;
    out.push(
      diagnostic(
        'conflicting-protocols',
        other.match.span,
        `conflicting protocols: '${other.label}' here, but '${first.label}' earlier in this rule`,
        'a packet has one protocol; write one rule per protocol',
      ),
    );
  }
  return out;
};
