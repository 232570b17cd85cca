/**
 * `ban @S [D]`: `ban-set` (S is a static set: only a dynamic one takes
 * entries at run time; an unknown S is unknown-set's), `ban-duration` (no
 * D and S has no timeout, so the entry would have no end), `bad-duration`
 * (D is zero, has an unknown unit or exceeds 30 days).
 */
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic, location } from '../codes.js';
import type { Check } from '../context.js';
import { dynamicSetSettings } from '../rate-limits.js';
import { DURATION_HINT, durationSeconds } from '../syntax/duration.js';

export const checkBans: Check = (context) => {
  const out: Diagnostic[] = [];
  for (const { rule } of context.rules()) {
    const ban = rule.ban;
    if (!ban) continue;
    const name = ban.set.name;
    const declaration = context.sets.get(name);
    if (declaration && declaration.source.kind !== 'dynamic') {
      out.push(
        diagnostic(
          'ban-set',
          ban.set.span,
          `'ban' adds to a dynamic set, but '@${name}' is a static set (${location(declaration.name.span)})`,
          `declare one for bans: set ${name}-bans dynamic timeout 10m`,
        ),
      );
    }
    if (ban.duration) {
      const seconds = durationSeconds(ban.duration);
      if (typeof seconds !== 'number') out.push(diagnostic('bad-duration', ban.duration.span, `ban: ${seconds.error}`, DURATION_HINT));
    } else if (declaration?.source.kind === 'dynamic' && dynamicSetSettings(declaration.source).timeout === null) {
      out.push(
        diagnostic(
          'ban-duration',
          ban.span,
          `'ban @${name}' needs a duration: set '@${name}' has no timeout`,
          `write 'ban @${name} 10m', or give the set one: set ${name} dynamic timeout 10m`,
        ),
      );
    }
  }
  return out;
};
