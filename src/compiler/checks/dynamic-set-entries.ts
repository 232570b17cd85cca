/** `dynamic-set-entries`: a dynamic set given entries in the policy; its entries come at run time. */
import { diagnostic } from '../codes.js';
import type { Check } from '../context.js';

export const checkDynamicSetEntries: Check = (context) => {
  const out = [];
  for (const item of context.document.items) {
    if (item.kind !== 'set' || item.source.kind !== 'dynamic' || item.source.entries === null) continue;
    out.push(
      diagnostic(
        'dynamic-set-entries',
        item.source.entries.span,
        `set '@${item.name.name}' is dynamic: its entries are added at run time, not written in the policy`,
        "remove the entries, or declare a static set (without 'dynamic') for addresses that are always there",
      ),
    );
  }
  return out;
};
