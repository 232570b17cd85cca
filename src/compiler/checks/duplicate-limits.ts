/** `duplicate-limits`: a second `limits { … }` block, in the policy or a file it includes. */
import type { LimitsBlock } from '../../policy/ast.js';
import { diagnostic, location } from '../codes.js';
import type { Check } from '../context.js';

export const checkDuplicateLimits: Check = (context) => {
  const blocks = context.document.items.filter((item): item is LimitsBlock => item.kind === 'limits');
  const [first, ...others] = blocks;
  return others.map((block) =>
    diagnostic(
      'duplicate-limits',
      block.span,
      `the policy already has a limits block (${location(first!.span)})`,
      "the meter table is the host's, set once: merge the blocks into one",
    ),
  );
};
