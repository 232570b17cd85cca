/**
 * `unprotectable-match`: a `protect` with a match that depends on state —
 * `ct state`, `limit`, a dynamic set. The lockout proof holds for every
 * packet the protect names whatever the state, so a protect can only name
 * packets by their headers; one that named "established SSH" or "SSH within
 * its rate" would ask for a proof about run-time state no check can see.
 */
import type { Match } from '../../policy/ast.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic } from '../codes.js';
import type { Check, CheckContext } from '../context.js';

export const checkUnprotectableMatches: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const item of context.document.items) {
    if (item.kind !== 'protect') continue;
    for (const match of item.matches) {
      const why = whyUnprotectable(match, context);
      if (why) out.push(diagnostic('unprotectable-match', match.span, why, 'remove it: a protect names packets by their headers alone'));
    }
  }
  return out;
};

function whyUnprotectable(match: Match, context: CheckContext): string | undefined {
  switch (match.kind) {
    case 'ct-state-match':
      return "'ct state' cannot be protected: a packet's connection state is known only at run time, and the protected traffic must be allowed in every state";
    case 'limit-match':
      return "'limit' cannot be protected: whether it holds depends on how fast packets arrive, and the protected traffic must be allowed at any rate";
    case 'address-match': {
      const set = context.dynamicSetOf(match.value);
      return set === undefined
        ? undefined
        : `'@${set}' cannot be protected: it is a dynamic set, whose entries exist only at run time, and the protected traffic must be allowed whatever it holds`;
    }
    default:
      return undefined;
  }
}
