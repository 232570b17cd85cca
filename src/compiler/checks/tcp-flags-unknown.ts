/** `tcp-flags-unknown`: a TCP flag name that does not exist, with a did-you-mean. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { suggest } from '../../policy/format.js';
import { TCP_FLAG_NAMES, tcpFlagBit } from '../syntax/names.js';

export const checkTcpFlagNames: Check = (context) => {
  const out = [];
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind !== 'tcp-flags-match') continue;
      for (const flag of [...match.flags, ...(match.mask ?? [])]) {
        if (tcpFlagBit(flag.name) !== undefined) continue;
        const guess = suggest(flag.name, TCP_FLAG_NAMES);
        out.push(
          diagnostic(
            'tcp-flags-unknown',
            flag.span,
            `unknown TCP flag '${flag.name}'${guess ? ` (did you mean '${guess}'?)` : ''}`,
            `TCP flags are ${TCP_FLAG_NAMES.join(', ')}`,
          ),
        );
      }
    }
  }
  return out;
};
