/**
 * The matches of a rule that read or keep state, → the Condition's fields
 * for them: `-m set` (an ipset: static, resolved into the address match's
 * prefixes, its name kept for `src @NAME`), `-m limit` and `-m hashlimit`
 * (a token bucket: `limit rate …`), `-m recent` (a dynamic set: `--rcheck`
 * is membership, `--set` a ban).
 *
 * **xt_limit against xdpfw's bucket** (net/netfilter/xt_limit.c,
 * docs/DESIGN.md "Rate limits and dynamic sets"): the same machine. Both
 * hold `burst` packets' worth of credit, start full, let a packet pass
 * when a whole packet's credit is there and take it, and change nothing
 * for a packet that finds none; an xt_limit's bucket is its rule's alone,
 * as an xdpfw rule's is. They differ in the rate's arithmetic: iptables
 * keeps the interval between packets as ⌊10,000 × unit seconds / N⌋ in
 * 1/10,000 s (libxt_limit.c), and the kernel turns it into credits that
 * accrue per jiffy (user2credits(): ⌊interval × HZ × CREDITS_PER_JIFFY /
 * 10,000⌋, dividing first for an interval above ~13 s; HZ × credits per
 * jiffy is 32,000 a second with HZ 250 or 1000). xdpfw keeps ⌊unit ns / N⌋
 * ns. Where the two intervals differ, `import-limit-rate` gives both rates.
 * xt_hashlimit's buckets work alike (its rates are not recomputed here);
 * its table forgets a source idle for --hashlimit-htable-expire (default:
 * the rate's unit), after which the source has a full bucket, as in xdpfw
 * once the bucket has refilled: `import-hashlimit-table` says when the
 * table forgets first.
 *
 * iptables tests a rule's matches in order: a limit (or a recent --set)
 * with other matches after it takes a token (adds the source) for packets
 * those then refuse, where xdpfw takes one only when everything else held;
 * so these must be a rule's last match.
 */
import type { ImportCode } from './codes.js';
import type { Cidr } from './iptables-addresses.js';
import type { Condition, Limit, Refusal } from './iptables-conditions.js';
import type { MatchBlock, RuleOption } from './iptables-save.js';
import { resolveIpset, type StatefulContext } from './iptables-sets.js';

export const STATEFUL_MODULES = new Set(['set', 'limit', 'hashlimit', 'recent']);

type Problem = (code: ImportCode, column: number, message: string) => void;

export interface StatefulBlock {
  block: MatchBlock;
  /** Whether a match other than a comment follows the block in the rule. */
  followed: boolean;
  context: StatefulContext;
  condition: Condition;
  refuse: Problem;
  warn: (refusal: Refusal) => void;
  /** The hashlimit table the rule names, for the check that no two rules share one. */
  hashlimitName?: string;
}

const shown = (o: RuleOption) => `'${o.negated ? '! ' : ''}${o.option} ${o.values.join(' ')}'`.replace(/ '$/, "'");
const key = (o: RuleOption) => o.option.replace(/^--?/, '');

export function statefulBlock(s: StatefulBlock): void {
  const { block, refuse } = s;
  if (block.module === 'set') setMatch(s);
  else if (block.module === 'limit' || block.module === 'hashlimit') limitMatch(s);
  else recentMatch(s);
  const keepsState = block.module === 'limit' || block.module === 'hashlimit' || block.options.some((o) => key(o) === 'set');
  if (s.followed && block.module !== 'set' && keepsState) {
    const code = block.module === 'recent' ? 'import-recent' : 'import-limit';
    refuse(
      code,
      block.column,
      `'-m ${block.module}' has matches after it: iptables ${block.module === 'recent' ? 'adds the source' : 'takes a token'} before testing them, xdpfw only once they hold; move it last`,
    );
  }
}

function setMatch({ block, context, condition, refuse, warn }: StatefulBlock): void {
  for (const option of block.options) {
    if (key(option) === 'return-nomatch') continue;
    if (key(option) !== 'match-set') {
      refuse('import-unsupported', option.column, `${shown(option)} of -m set is not translated`);
      continue;
    }
    const [name, flags] = option.values;
    if (flags !== 'src' && flags !== 'dst') {
      refuse(
        'import-set',
        option.column,
        `${shown(option)}: set '${name}' is matched by '${flags}'; xdpfw matches one address against a set (src or dst)`,
      );
      continue;
    }
    const resolved = resolveIpset(context, name, warn);
    if (typeof resolved === 'string') {
      refuse('import-set', option.column, `${shown(option)}: ${resolved}`);
      continue;
    }
    if (condition[flags]) {
      refuse('import-conjunction', option.column, `${shown(option)}: a rule with two ${flags} address matches is not translated`);
    }
    condition[flags] = { cidrs: resolved.cidrs as Cidr[], negated: option.negated, set: resolved.name };
  }
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { second: 1, minute: 60, hour: 3600, day: 86400 };

/** `N/UNIT` as libxt_limit's parse_rate() reads it: UNIT any prefix of second, minute, hour, day; none is per second. */
export function parseRate(text: string): { count: number; unit: string } | undefined {
  const m = /^(\d+)(?:\/([a-z]*))?$/i.exec(text);
  if (!m || Number(m[1]) === 0) return undefined;
  const unitText = (m[2] ?? '').toLowerCase();
  const unit = Object.keys(UNIT_SECONDS).find((u) => u.startsWith(unitText));
  return unit ? { count: Number(m[1]), unit } : undefined;
}

function limitMatch(s: StatefulBlock): void {
  const { block, condition, refuse } = s;
  const hashlimit = block.module === 'hashlimit';
  const prefix = hashlimit ? 'hashlimit-' : '';
  let rateText = hashlimit ? undefined : '3/hour';
  let over = false;
  let burst = 5;
  let mode: string | undefined;
  let mask: number | undefined;
  const table: string[] = [];
  let expireMs: number | undefined;
  for (const option of block.options) {
    const name = key(option).slice(prefix.length);
    const value = option.values[0] ?? '';
    if (option.negated || !key(option).startsWith(prefix)) {
      refuse('import-unsupported', option.column, `${shown(option)} of -m ${block.module} is not translated`);
    } else if ((!hashlimit && name === 'limit') || (hashlimit && (name === 'upto' || name === 'above'))) {
      rateText = value;
      over = name === 'above';
    } else if (name === 'limit-burst' || name === 'burst') burst = Number(value);
    else if (hashlimit && name === 'mode') mode = value;
    else if (hashlimit && (name === 'srcmask' || name === 'dstmask')) mask = Number(value);
    else if (hashlimit && name === 'name') s.hashlimitName = value;
    else if (hashlimit && name.startsWith('htable-')) {
      table.push(shown(option));
      if (name === 'htable-expire') expireMs = Number(value);
    } else refuse('import-unsupported', option.column, `${shown(option)} of -m ${block.module} is not translated`);
  }
  const rate = rateText === undefined ? undefined : parseRate(rateText);
  const where = `'-m ${block.module}'`;
  if (!rate) {
    const what = rateText === undefined ? 'has no rate' : `has the rate '${rateText}', which xdpfw cannot read (a byte rate?)`;
    return refuse('import-limit', block.column, `${where} ${what}`);
  }
  if (!Number.isInteger(burst) || burst < 1 || burst > 1_000_000) {
    return refuse('import-limit', block.column, `${where}: a burst of ${burst} (xdpfw takes 1 … 1,000,000)`);
  }
  let { count, unit } = rate;
  if (unit === 'day') {
    if (count % 24 !== 0) {
      return refuse(
        'import-limit',
        block.column,
        `${where}: ${count}/day is not a whole number an hour, and xdpfw's units are second, minute and hour`,
      );
    }
    count /= 24;
    unit = 'hour';
  }
  const limit: Limit = { over, rate: count, unit: unit as Limit['unit'], burst };
  if (hashlimit) {
    const modes = (mode ?? '').split(',').filter((m) => m !== '');
    if (modes.length > 1 || (modes.length === 1 && modes[0] !== 'srcip' && modes[0] !== 'dstip')) {
      return refuse(
        'import-limit',
        block.column,
        `${where}: --hashlimit-mode ${mode} keeps a bucket per ${modes.join(' and ')}; xdpfw keeps one per source or destination prefix (srcip or dstip)`,
      );
    }
    const full = s.context.family === 4 ? 32 : 128;
    if (modes.length === 1) {
      const length = mask ?? full;
      limit.per = { field: modes[0] === 'srcip' ? 'src' : 'dst', length, family: s.context.family };
    }
    const refillSeconds = (burst * UNIT_SECONDS[rate.unit]) / rate.count;
    const expireSeconds = (expireMs ?? UNIT_SECONDS[rate.unit] * 1000) / 1000;
    const forgets =
      expireSeconds < refillSeconds
        ? `${table.length > 0 ? ';' : ':'} its table forgets a source idle ${expireSeconds} s, which then gets a full burst, where xdpfw's bucket takes ${refillSeconds} s to refill`
        : '';
    if (table.length > 0 || forgets !== '') {
      const dropped = table.length > 0 ? `: ${table.join(', ')} not kept (xdpfw's buckets live in one table, limits { size N })` : '';
      s.warn({ code: 'import-hashlimit-table', column: block.column, message: `${where}${dropped}${forgets}` });
    }
  } else {
    const rounded = roundingNote(rate.count, rate.unit);
    if (rounded) s.warn({ code: 'import-limit-rate', column: block.column, message: `${where} ${rateText}: ${rounded}` });
  }
  if (condition.limit) return refuse('import-limit', block.column, `${where}: a rule has at most one limit`);
  condition.limit = limit;
}

/** The kernel's credits a second with HZ 250 or 1000 (HZ × CREDITS_PER_JIFFY). */
const CREDITS_PER_SECOND = 32_000;

/** How xt_limit's rate differs from xdpfw's for N a UNIT, or undefined when they agree. */
function roundingNote(count: number, unit: string): string | undefined {
  const unitSeconds = UNIT_SECONDS[unit];
  const interval = Math.floor((10_000 * unitSeconds) / count);
  const cost =
    interval > Math.floor(0xffffffff / CREDITS_PER_SECOND)
      ? Math.floor(interval / 10_000) * CREDITS_PER_SECOND
      : Math.floor((interval * CREDITS_PER_SECOND) / 10_000);
  const iptablesRate = (CREDITS_PER_SECOND / cost) * unitSeconds;
  const xdpfwRate = (1e9 / Math.floor((unitSeconds * 1e9) / count)) * unitSeconds;
  if (Math.abs(iptablesRate - xdpfwRate) <= xdpfwRate * 1e-9) return undefined;
  const fixed = (r: number) => r.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
  return (
    `the kernel keeps it as ${fixed(iptablesRate)}/${unit} (an interval of ${interval} × 1/10,000 s, credits per jiffy, with HZ 250 or 1000), ` +
    `xdpfw as ${fixed(xdpfwRate)}/${unit}`
  );
}

function recentMatch({ block, context, condition, refuse }: StatefulBlock): void {
  let list = 'DEFAULT';
  let action: RuleOption | undefined;
  let seconds = 0;
  let destination = false;
  const no = (option: RuleOption, why: string) => refuse('import-recent', option.column, `${shown(option)}: ${why}`);
  for (const option of block.options) {
    const name = key(option);
    if (name === 'name') list = option.values[0];
    else if (name === 'set' || name === 'rcheck') action = option;
    else if (name === 'seconds') seconds = Number(option.values[0]);
    else if (name === 'rdest') destination = true;
    else if (name === 'rsource' || name === 'reap') continue;
    else if (name === 'update') {
      no(option, 'it refreshes the entry on every packet it matches; translate it as a dynamic-set match with a ban by hand');
    } else if (name === 'remove') no(option, 'xdpfw rules cannot delete a dynamic set entry');
    else if (name === 'hitcount') {
      no(
        option,
        `it counts the packets within --seconds (a sliding window of the last 20); xdpfw's nearest is 'limit rate over N/UNIT per src ban @SET', a token bucket, not a window`,
      );
    } else if (name === 'rttl') no(option, "xdpfw's dynamic sets do not keep a TTL");
    else if (name === 'mask') no(option, 'a ban adds the whole source address');
    else refuse('import-unsupported', option.column, `${shown(option)} of -m recent is not translated`);
  }
  if (!action) return;
  const setName = context.recentList(list);
  if (key(action) === 'set') {
    if (action.negated) return no(action, 'a negated --set never matches');
    if (destination) return no(action, 'a ban adds the source address, not the destination');
    condition.ban = setName;
    return;
  }
  if (seconds <= 0) return no(action, "without --seconds its entries never expire, and xdpfw's bans last a duration");
  if (seconds > 30 * 86400) return no(action, `--seconds ${seconds} is beyond a dynamic set's longest timeout, 30 days`);
  if (condition.dynamicSet) return no(action, 'a rule with two dynamic-set matches is not translated');
  condition.dynamicSet = { name: setName, field: destination ? 'dst' : 'src', negated: action.negated, seconds };
}
