/** `duplicate-conntrack`: a second `conntrack { … }` block, in the policy or a file it includes. */
import type { ConntrackBlock } from '../../policy/ast.js';
import { diagnostic, location } from '../codes.js';
import type { Check } from '../context.js';

export const checkDuplicateConntrack: Check = (context) => {
  const blocks = context.document.items.filter((item): item is ConntrackBlock => item.kind === 'conntrack');
  const [first, ...others] = blocks;
  return others.map((block) =>
    diagnostic(
      'duplicate-conntrack',
      block.span,
      `the policy already has a conntrack block (${location(first!.span)})`,
      'connection tracking is set once for the host: merge the blocks into one',
    ),
  );
};
