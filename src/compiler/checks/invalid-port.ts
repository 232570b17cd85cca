/** `invalid-port`: ports outside 0–65535 and empty ranges. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { portLiterals } from '../syntax/walks.js';

const valid = (port: number) => Number.isInteger(port) && port >= 0 && port <= 65535;

export const checkPorts: Check = (context) => {
  const out = [];
  for (const literal of portLiterals(context.document)) {
    const ends = literal.kind === 'port' ? [literal.value] : [literal.low, literal.high];
    const bad = ends.find((p) => !valid(p));
    if (bad !== undefined) {
      out.push(diagnostic('invalid-port', literal.span, `port ${bad} is out of range (0–65535)`));
    } else if (literal.kind === 'port-range' && literal.low > literal.high) {
      out.push(
        diagnostic(
          'invalid-port',
          literal.span,
          `port range ${literal.low}-${literal.high} is empty: ${literal.low} is above ${literal.high}`,
          `write ${literal.high}-${literal.low}`,
        ),
      );
    }
  }
  return out;
};
