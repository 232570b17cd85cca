/**
 * The options of a `conntrack { … }` block: `conntrack-option` (an unknown
 * or repeated option), `bad-duration` (a timeout that is zero, has an
 * unknown unit or exceeds 30 days), `conntrack-size` and `flood-threshold`
 * (a count out of range, or written as a duration). Ranges and defaults:
 * src/compiler/conntrack.ts.
 */
import type { ConntrackBlock, ConntrackOption } from '../../policy/ast.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { suggest } from '../../policy/format.js';
import { diagnostic } from '../codes.js';
import { CONNTRACK_OPTION_NAMES, CONNTRACK_OPTIONS, CONNTRACK_SIZE, FLOOD_THRESHOLD, isConntrackOption } from '../conntrack.js';
import type { Check } from '../context.js';
import { DURATION_HINT, durationSeconds } from '../syntax/duration.js';

export const checkConntrackOptions: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const item of context.document.items) {
    if (item.kind === 'conntrack') out.push(...checkBlock(item));
  }
  return out;
};

function checkBlock(block: ConntrackBlock): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<string, ConntrackOption>();
  for (const option of block.options) {
    const name = option.name.name;
    if (!isConntrackOption(name)) {
      const guess = suggest(name, CONNTRACK_OPTION_NAMES);
      const message = `unknown conntrack option '${name}'${guess ? ` (did you mean '${guess}'?)` : ''}`;
      out.push(diagnostic('conntrack-option', option.name.span, message, `conntrack options: ${CONNTRACK_OPTION_NAMES.join(', ')}`));
      continue;
    }
    const first = seen.get(name);
    if (first) {
      const message = `'${name}' is set twice in this block (first at line ${first.span.start.line})`;
      out.push(diagnostic('conntrack-option', option.name.span, message, 'keep one of them'));
      continue;
    }
    seen.set(name, option);
    const spec = CONNTRACK_OPTIONS[name];
    if (spec.kind === 'timeout') {
      const seconds = durationSeconds(option.value);
      if (typeof seconds !== 'number') out.push(diagnostic('bad-duration', option.value.span, `${name}: ${seconds.error}`, DURATION_HINT));
      continue;
    }
    const [code, range, what] =
      name === 'size'
        ? (['conntrack-size', CONNTRACK_SIZE, 'entries'] as const)
        : (['flood-threshold', FLOOD_THRESHOLD, 'half-open connections a second'] as const);
    const value = option.value;
    const bounds = `${range.min.toLocaleString('en-US')} … ${range.max.toLocaleString('en-US')}`;
    if (value.kind === 'duration') {
      out.push(diagnostic(code, value.span, `${name} is a number of ${what}, not a duration`, `write a number ${bounds}`));
    } else if (value.value < range.min || value.value > range.max) {
      out.push(diagnostic(code, value.span, `${name} ${value.value} is out of range (${bounds})`, rangeHint(code)));
    }
  }
  return out;
}

function rangeHint(code: 'conntrack-size' | 'flood-threshold'): string {
  return code === 'conntrack-size'
    ? "size is the TCP table's entries; the UDP and ICMP tables get a quarter of it"
    : 'flood-threshold is half-open connections a second for the host, shared among its CPUs';
}
