/**
 * `define-type`: a define used where its values do not fit — ports in `src`
 * or in a set, addresses or sets in `dport`. Checked at each use, since a
 * define has no declared type.
 */
import { diagnostic, location } from '../codes.js';
import type { Check } from '../context.js';

export const checkDefineTypes: Check = (context) => {
  const out = [];
  // What each define holds, found once: a define of millions of leaves may be named in thousands of places.
  const holdings = new Map<string, { ports: boolean; addresses: boolean }>();
  for (const { reference, needs, place } of context.references()) {
    if (reference.kind !== 'define-ref' || needs === 'define') continue;
    const define = context.defines.get(reference.name);
    if (!define) continue; // unknown-define reports it
    let holding = holdings.get(reference.name);
    if (!holding) {
      const leaves = context.defineLeaves(reference.name) ?? [];
      holding = {
        ports: leaves.some((l) => l.kind === 'port' || l.kind === 'port-range'),
        addresses: leaves.some((l) => l.kind === 'address' || l.kind === 'set-ref'),
      };
      holdings.set(reference.name, holding);
    }
    const { ports, addresses } = holding;
    const misfit = needs === 'addresses' ? ports : addresses;
    if (!misfit) continue;
    const holds = ports && addresses ? 'both addresses and ports' : ports ? 'ports' : 'addresses';
    out.push(
      diagnostic(
        'define-type',
        reference.span,
        `define '$${reference.name}' holds ${holds}, but ${place} needs ${needs}`,
        `'$${reference.name}' is defined at ${location(define.name.span)}`,
      ),
    );
  }
  return out;
};
