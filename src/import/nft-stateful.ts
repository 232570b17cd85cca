/**
 * nft's statements that keep state → the Condition's stateful fields, the
 * ones the iptables front end fills for -m limit, -m hashlimit and -m
 * recent: `limit rate [over] N/UNIT [burst B packets]` is a `limit`; a
 * meter (`meter M { ip saddr limit rate over 10/second }`) or its newer
 * form on a named set (`add @S { ip saddr and 255.255.255.0 limit rate
 * over 10/second }`) a `limit … per src/24`; `update @S { ip saddr timeout
 * 10m }` in a rule that decides a `ban @S 10m`; and `ip saddr @S`, S a set
 * with timeouts, a dynamic-set match.
 *
 * **nft_limit against xdpfw's bucket** (net/netfilter/nft_limit.c,
 * docs/DESIGN.md "Rate limits and dynamic sets"): they agree exactly, as
 * xdpfw's bucket is modelled on it. A packet costs ⌊unit ns / N⌋; the
 * bucket holds burst × cost and starts full; a packet that finds a cost's
 * worth takes it, with or without `over`, and one that finds none takes
 * nothing. nft's default burst is 5 packets (nft writes `"burst": 5`; the
 * kernel turns 0 into NFT_LIMIT_PKT_BURST_DEFAULT, 5), xdpfw's too. So no
 * warning; the one difference is the clock (xdpfw's coarse clock for
 * buckets of 20 ms or more, a tick of a few ms). Byte rates (`10
 * kbytes/second`) have a bucket of bytes, which xdpfw does not keep.
 *
 * **Meters.** nft keeps a meter's buckets in its set, 65,535 by default,
 * and refuses new sources when it is full (the rule then does not match);
 * xdpfw keeps them in the host's LRU table (`limits { size N }`), which
 * forgets the least recently used bucket, so the new source gets a full
 * one. Under a flood of spoofed sources, then, nft stops limiting new
 * sources and xdpfw goes on. In an `inet` table a key of `ip saddr` makes
 * nft match IPv4 packets only (it adds `meta nfproto ipv4` before it), so
 * the translation says `ip4` and needs no IPv6 length; likewise `ip6`.
 *
 * **Bans.** `update` renews an entry's timeout, as xdpfw's ban does
 * (within a second); `add` keeps the first, so it is refused as a ban. A
 * full nft set refuses the address and the rule does not match; xdpfw's
 * rule still decides, without the ban.
 *
 * nft runs a rule's statements in order: a limit or a set update with a
 * match after it takes a token (adds the address) for packets the match
 * then refuses, where xdpfw does so only once every match held; so these
 * come last, and a ban after the limit.
 */
import type { ImportCode } from './codes.js';
import { parseCidr } from './iptables-addresses.js';
import type { Condition, Limit } from './iptables-conditions.js';
import type { NftExpr, NftSet } from './nft-json.js';
import { renderStatement, renderValue } from './nft-render.js';

export interface StatefulRefusal {
  code: ImportCode;
  message: string;
}

/** The stateful fields one rule's statements give, and its family when a key fixes it. */
export type StatefulPart = Pick<Condition, 'limit' | 'ban' | 'banSeconds' | 'family'>;

type Result<T> = { value: T } | { refusal: StatefulRefusal };

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const fail = <T>(code: ImportCode, message: string): Result<T> => ({ refusal: { code, message } });

const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** A dynamic set's longest timeout, and a ban's (bad-duration). */
const MAX_TIMEOUT_SECONDS = 30 * 86400;

const UNIT_HOURS: Readonly<Record<string, number>> = { day: 24, week: 168 };

/** `limit rate [over] N/UNIT [burst B packets]` → xdpfw's limit. */
export function nftLimit(body: NftExpr, shown: string): Result<Limit> {
  if (!isObject(body)) return fail('import-nft-limit', `${shown} is not a limit nft writes`);
  const rate = Number(body.rate);
  const per = String(body.per ?? 'second');
  const rateUnit = body.rate_unit === undefined ? 'packets' : String(body.rate_unit);
  if (rateUnit !== 'packets') {
    return fail('import-nft-limit', `${shown}: a rate of ${rate} ${rateUnit}/${per} counts bytes; xdpfw's limits count packets`);
  }
  const burst = body.burst === undefined || body.burst === 0 ? 5 : Number(body.burst);
  if (!Number.isInteger(burst) || burst < 1 || burst > 1_000_000) {
    return fail('import-nft-limit', `${shown}: a burst of ${String(body.burst)} packets (xdpfw takes 1 … 1,000,000)`);
  }
  if (!Number.isInteger(rate) || rate < 1) return fail('import-nft-limit', `${shown}: the rate '${String(body.rate)}' is not a count`);
  const over = body.inv === true;
  if (per === 'second' || per === 'minute' || per === 'hour') {
    if (rate > 1_000_000_000) return fail('import-nft-limit', `${shown}: ${rate}/${per} is above xdpfw's 1,000,000,000 a unit`);
    return { value: { over, rate, unit: per, burst } };
  }
  const hours = UNIT_HOURS[per];
  if (hours === undefined) return fail('import-nft-limit', `${shown}: the unit '${per}' is not known`);
  if (rate % hours !== 0) {
    return fail(
      'import-nft-limit',
      `${shown}: ${rate}/${per} is not a whole number an hour, and xdpfw's units are second, minute and hour`,
    );
  }
  return { value: { over, rate: rate / hours, unit: 'hour', burst } };
}

/** A meter's or set element's key: one address field, whole or under a prefix mask. */
function addressKey(key: NftExpr, shown: string): Result<NonNullable<Limit['per']>> {
  let field = key;
  let mask: NftExpr;
  if (isObject(key) && Array.isArray(key['&'])) [field, mask] = key['&'] as NftExpr[];
  const payload = isObject(field) && isObject(field.payload) ? field.payload : undefined;
  const protocol = payload?.protocol;
  const name = payload?.field;
  if ((protocol !== 'ip' && protocol !== 'ip6') || (name !== 'saddr' && name !== 'daddr')) {
    const what = isObject(key) && 'concat' in key ? 'several fields' : `'${renderValue(key)}'`;
    return fail(
      'import-nft-limit',
      `${shown} is keyed by ${what}; xdpfw keeps a bucket per source or destination prefix (ip saddr, ip6 daddr, …)`,
    );
  }
  const family = protocol === 'ip' ? 4 : 6;
  let length = family === 4 ? 32 : 128;
  if (mask !== undefined) {
    const parsed = typeof mask === 'string' ? parseCidr(`${family === 4 ? '0.0.0.0' : '::'}/${mask}`) : undefined;
    if (!parsed || 'kind' in parsed) {
      return fail('import-nft-limit', `${shown}: the mask '${renderValue(mask)}' is not a contiguous IPv${family} prefix mask`);
    }
    length = parsed.length;
  }
  return { value: { field: name === 'saddr' ? 'src' : 'dst', length, family } };
}

/** `meter M { KEY limit … }` or `add|update @S { KEY limit … }`: a limit per prefix of KEY. */
export function meterLimit(key: NftExpr, statements: NftExpr[], shown: string): Result<Limit> {
  const [only, ...more] = statements;
  const kind = isObject(only) ? Object.keys(only)[0] : undefined;
  if (kind !== 'limit' || more.length > 0 || !isObject(only)) {
    return fail('import-nft-limit', `${shown}: a meter keeps a limit in xdpfw, not '${statements.map(renderStatement).join(' ')}'`);
  }
  const per = addressKey(key, shown);
  if ('refusal' in per) return per;
  const limit = nftLimit(only.limit, shown);
  if ('refusal' in limit) return limit;
  return { value: { ...limit.value, per: per.value } };
}

/** Whether the set's elements expire or are added by rules: a dynamic set to xdpfw. */
export const isDynamic = (set: NftSet): boolean =>
  set.flags.includes('timeout') || set.flags.includes('dynamic') || set.timeout !== undefined;

/** Why a set cannot be one of the policy's dynamic sets, or undefined. */
export function dynamicSetProblem(set: NftSet): string | undefined {
  if (!VALID_NAME.test(set.name)) return `@${set.name} is not a valid xdpfw set name (a letter or _, then letters, digits, _ and -)`;
  if (Array.isArray(set.type) || (set.type !== 'ipv4_addr' && set.type !== 'ipv6_addr')) {
    return `@${set.name} holds ${Array.isArray(set.type) ? set.type.join(' . ') : set.type}; xdpfw's dynamic sets hold addresses`;
  }
  if (set.timeout !== undefined && set.timeout > MAX_TIMEOUT_SECONDS) {
    return `@${set.name}'s timeout of ${set.timeout} s is beyond a dynamic set's longest, 30 days`;
  }
  return undefined;
}

/**
 * `update @S { ip saddr [timeout T] }`: a ban into S, for T (else the
 * set's timeout). S must expire its entries (flags timeout), the key be
 * the source the rule's `per` (or its whole address) bans, and the op
 * `update`.
 */
export function banStatement(
  body: Record<string, NftExpr>,
  set: NftSet | undefined,
  limit: Limit | undefined,
  shown: string,
): Result<StatefulPart> {
  const refuse = (why: string) => fail<StatefulPart>('import-nft-set', `${shown}: ${why}`);
  if (!set) return refuse(`${String(body.set)} is not a set of the ruleset's table`);
  let key = body.elem;
  let seconds: number | undefined;
  if (isObject(key) && isObject(key.elem)) {
    seconds = typeof key.elem.timeout === 'number' ? key.elem.timeout : undefined;
    key = key.elem.val;
  }
  if (!set.flags.includes('timeout') && set.timeout === undefined) {
    return refuse(`@${set.name} has no flag timeout, so its entries never expire, while an xdpfw ban lasts a duration`);
  }
  const problem = dynamicSetProblem(set);
  if (problem) return refuse(problem);
  if (body.op === 'add') {
    return refuse(
      `'add' keeps the expiry an address already in @${set.name} has, while xdpfw's ban renews it as 'update' does; write 'update'`,
    );
  }
  const prefix = addressKey(key, shown);
  if ('refusal' in prefix) return { refusal: { code: 'import-nft-set', message: prefix.refusal.message } };
  const { field, family, length } = prefix.value;
  const whole = family === 4 ? 32 : 128;
  // A set without the interval flag keeps `ip saddr and MASK` as one address, which only that address then matches.
  if (field !== 'src' || length !== whole) return refuse(`xdpfw's ban adds the source address, not '${renderValue(key)}'`);
  const per = limit?.per;
  if (per && (per.field !== 'src' || per.length !== whole)) {
    return refuse(`xdpfw's ban adds the rule's 'per ${per.field}/${per.length}' prefix, where nft adds the source address`);
  }
  if (seconds !== undefined && seconds > MAX_TIMEOUT_SECONDS) return refuse(`a timeout of ${seconds} s is beyond a ban's longest, 30 days`);
  if (seconds === undefined && set.timeout === undefined) {
    return refuse(`@${set.name} has no timeout and the update gives none; an xdpfw ban lasts a duration`);
  }
  return {
    value: {
      ban: set.name,
      ...(seconds !== undefined && seconds !== set.timeout ? { banSeconds: seconds } : {}),
      family,
    },
  };
}
