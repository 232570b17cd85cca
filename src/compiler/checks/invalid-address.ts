/** `invalid-address`: malformed addresses and CIDRs, prefix lengths out of range, host bits set. */
import { isAddressError } from '../structures/address.js';
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';
import { addressLiteralsOutsideSets } from '../syntax/walks.js';

export const checkAddresses: Check = (context) => {
  const out = [];
  for (const item of context.document.items) {
    if (item.kind !== 'set') continue;
    for (const { literal, error } of context.parsedLiterals(item.source).errors) {
      out.push(diagnostic('invalid-address', literal.span, error.message, error.hint));
    }
  }
  for (const literal of addressLiteralsOutsideSets(context.document)) {
    const parsed = context.address(literal);
    if (isAddressError(parsed)) out.push(diagnostic('invalid-address', literal.span, parsed.message, parsed.hint));
  }
  return out;
};
