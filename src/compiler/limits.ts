/**
 * How far defines and sets may expand. A define is copied wherever it is
 * named, so ten lines of `define dN = { $dN-1, $dN-1 }` stand for a thousand
 * values and twenty-six for a hundred million. Counting duplicates, a define,
 * a set or the value of a match may stand for at most this many elements: a
 * set of a million prefixes and another of a hundred thousand (bench/) fit
 * four times over, and the count is known before anything is expanded.
 */
export const MAX_EXPANDED_ELEMENTS = 4 * 1024 * 1024;

/** The data plane's bound on rules with a tail, for the importers, which must not write a policy the compiler refuses. */
export { MAX_TAIL_RULES } from '../contract/kernel.js';
