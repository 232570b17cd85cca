/**
 * `duplicate-conntrack` and `duplicate-limits`: a second `conntrack { … }`
 * or `limits { … }` block, in the policy or a file it includes. Each block
 * sets a table the host has once.
 */
import type { ConntrackBlock, LimitsBlock } from '../../policy/ast.js';
import { diagnostic, location } from '../codes.js';
import type { Check } from '../context.js';

function duplicateBlocks(kind: 'conntrack' | 'limits', hint: string): Check {
  return (context) => {
    const blocks = context.document.items.filter((item): item is ConntrackBlock | LimitsBlock => item.kind === kind);
    const [first, ...others] = blocks;
    return others.map((block) =>
      diagnostic(`duplicate-${kind}`, block.span, `the policy already has a ${kind} block (${location(first!.span)})`, hint),
    );
  };
}

export const checkDuplicateConntrack = duplicateBlocks(
  'conntrack',
  'connection tracking is set once for the host: merge the blocks into one',
);
export const checkDuplicateLimits = duplicateBlocks('limits', "the meter table is the host's, set once: merge the blocks into one");
