/** `invalid-protocol`: `proto N` with N outside 0–255. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';

export const checkProtocolNumbers: Check = (context) => {
  const out = [];
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind !== 'protocol-match' || typeof match.protocol === 'string') continue;
      const { value, span } = match.protocol;
      if (Number.isInteger(value) && value >= 0 && value <= 255) continue;
      out.push(diagnostic('invalid-protocol', span, `protocol number ${value} is out of range (0–255)`));
    }
  }
  return out;
};
