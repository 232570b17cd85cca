/**
 * `tcp-flags-mask`: `tcp flags A / M` where a flag of A is not in M. The
 * match means "of M, exactly A are set", so it could never hold. And
 * `tcp flags none` without a mask: "all of no flags are set" holds for every
 * TCP packet, which is surely not what was meant.
 */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { tcpFlagBit } from '../syntax/names.js';

export const checkTcpFlagMasks: Check = (context) => {
  const out = [];
  for (const { rule } of context.rules()) {
    for (const match of rule.matches) {
      if (match.kind === 'tcp-flags-match' && match.flags.length === 0 && !match.mask) {
        out.push(
          diagnostic(
            'tcp-flags-mask',
            match.span,
            `'tcp flags none' needs a mask: it would hold for every TCP packet`,
            `'tcp flags none / M' means: none of the flags M is set (/ fin,syn,rst,psh,ack,urg for a null scan)`,
          ),
        );
      }
      if (match.kind !== 'tcp-flags-match' || !match.mask) continue;
      const mask = match.mask.reduce((acc, f) => acc | (tcpFlagBit(f.name) ?? 0), 0);
      for (const flag of match.flags) {
        const bit = tcpFlagBit(flag.name);
        if (bit === undefined || (mask & bit) !== 0) continue;
        const fixed = [...match.mask.map((f) => f.name), flag.name].join(',');
        out.push(
          diagnostic(
            'tcp-flags-mask',
            flag.span,
            `TCP flag '${flag.name}' is not in the mask after '/': this match can never hold`,
            `'tcp flags A / M' means: of the flags M, exactly A are set; add it to the mask (/ ${fixed})`,
          ),
        );
      }
    }
  }
  return out;
};
