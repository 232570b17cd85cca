/** `unknown-ct-state`: a `ct state` name that is not one of the four states. */
import { suggest } from '../../policy/format.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { CT_STATE_NAMES, ctStateBit } from '../syntax/names.js';

export const checkCtStateNames: Check = (context) => {
  const out = [];
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind !== 'ct-state-match') continue;
      for (const state of match.states) {
        if (ctStateBit(state.name) !== undefined) continue;
        const guess = suggest(state.name, [...CT_STATE_NAMES]);
        out.push(
          diagnostic(
            'unknown-ct-state',
            state.span,
            `unknown connection state '${state.name}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
            `connection states: ${CT_STATE_NAMES.join(', ')}`,
          ),
        );
      }
    }
  }
  return out;
};
