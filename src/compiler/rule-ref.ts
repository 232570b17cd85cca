/**
 * A rule as every `--json` output names it: an object a script can use
 * without parsing prose, or null where no rule decided (the default).
 */

import type { CompiledRule } from './output.js';

export interface RuleRef {
  index: number;
  id: string;
  name: string | null;
  file: string;
  line: number;
  col: number;
}

/** `file:line:col`, split from the right, so a file name with colons stays whole. */
export function splitLocation(location: string): { file: string; line: number; col: number } {
  const m = /^(.*):(\d+):(\d+)$/.exec(location);
  if (!m) throw new Error(`not a file:line:col location: ${JSON.stringify(location)}`);
  return { file: m[1], line: Number(m[2]), col: Number(m[3]) };
}

export function ruleRef(rule: Pick<CompiledRule, 'index' | 'id' | 'name' | 'location'>): RuleRef {
  return { index: rule.index, id: rule.id, name: rule.name ?? null, ...splitLocation(rule.location) };
}
