/**
 * Live edits of dynamic sets (`xdpfw set list|add|del|flush`) and what
 * `stats` shows of them. A set's maps are pinned once per network namespace
 * and shared by every program naming it, so an edit is one bpf() call on
 * the set's maps, seen by the next packet; no program, pin or state changes, and
 * no run-directory lock is taken (the kernel serialises updates of a map,
 * and an `apply` that drops the last user of a set at the same moment only
 * makes the edit land in maps that are about to go).
 */

import type { CompiledDynamicSet } from '../compiler/output.js';
import { ruleRef, type RuleRef } from '../compiler/rule-ref.js';
import { DURATION_HINT, durationSeconds } from '../compiler/syntax/duration.js';
import { DynamicSetError, addToSet, deleteFromSet, flushSet, listSet, pinnedInterfaces, setCapacity } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import { loadState, type AppliedState } from './state.js';
import { UserError } from './user-error.js';

const SET_ERROR_EXIT = { 'unknown-set': ExitCode.policy, 'invalid-prefix': ExitCode.usage, 'set-full': ExitCode.system } as const;

/** The data plane's refusal as the user's error; anything else passes through. */
function asUserError(error: unknown): unknown {
  return error instanceof DynamicSetError ? new UserError(error.code, error.message, SET_ERROR_EXIT[error.code], error.hint) : error;
}

function translated<T>(body: () => T): T {
  try {
    return body();
  } catch (error) {
    throw asUserError(error);
  }
}

/** Seconds of a `--timeout` written as the language writes durations (30s, 10m, 6h, 2d, or seconds). */
export function parseTimeout(text: string): number {
  const m = /^(\d+)([a-z]*)$/.exec(text.trim());
  // durationSeconds reads a literal's kind, value and unit; a command-line word has no span.
  const literal =
    m && ((m[2] ? { kind: 'duration', value: Number(m[1]), unit: m[2] } : { kind: 'number', value: Number(m[1]) }) as Literal);
  const seconds = literal ? durationSeconds(literal) : null;
  if (seconds === null || typeof seconds !== 'number') {
    const why = seconds === null ? `'${text}' is not a duration` : seconds.error;
    throw new UserError('bad-timeout', `--timeout: ${why}`, ExitCode.usage, DURATION_HINT);
  }
  return seconds;
}

type Literal = Parameters<typeof durationSeconds>[0];

/** An interface whose policy names the set, with the set as it declares it. */
interface SetUser {
  state: AppliedState;
  set: CompiledDynamicSet;
}

/** The interfaces of this namespace whose policy in force names each dynamic set. */
function setUsers(): Map<string, SetUser[]> {
  const users = new Map<string, SetUser[]>();
  for (const ifname of pinnedInterfaces()) {
    const state = loadState(ifname);
    for (const set of state?.dynamicSets ?? []) users.set(set.name, [...(users.get(set.name) ?? []), { state: state!, set }]);
  }
  return users;
}

/** The users of `name`; an `unknown-set` error naming the sets there are when it has none. */
function usersOf(name: string): SetUser[] {
  const all = setUsers();
  const users = all.get(name);
  if (users) return users;
  const known = [...all.keys()].sort();
  throw new UserError(
    'unknown-set',
    known.length === 0
      ? `no policy in force in this network namespace uses a dynamic set (asked for ${name})`
      : `no policy in force in this network namespace uses a dynamic set ${name}`,
    ExitCode.policy,
    known.length === 0 ? `declare it with 'set ${name} dynamic' in a policy and apply it` : `the dynamic sets in use: ${known.join(', ')}`,
  );
}

/** The rule whose bans wrote an entry, as `set list` names it. */
export interface BanRule extends RuleRef {
  interface: string;
  text: string;
}

export interface ListedEntry {
  prefix: string;
  /** Null: until deleted. */
  secondsLeft: number | null;
  origin: number;
  /** Who added it: a user (`xdpfw set add`), a rule in force, or a rule no longer in force. */
  addedBy: 'user' | 'rule' | 'unknown-rule';
  rule: BanRule | null;
}

export interface ListedSet {
  set: string;
  size: number;
  timeout: number | null;
  interfaces: string[];
  entries: ListedEntry[];
}

/** A set's live entries, each with the rule that banned it, looked up by origin in the rules in force. */
export function listDynamicSet(name: string): ListedSet {
  const users = usersOf(name);
  const byOrigin = new Map<number, BanRule>();
  for (const { state } of users) {
    for (const rule of state.rules) {
      if (rule.banOrigin !== undefined && !byOrigin.has(rule.banOrigin))
        byOrigin.set(rule.banOrigin, { interface: state.interface, text: rule.text, ...ruleRef(rule) });
    }
  }
  const entries = translated(() => listSet(name)).map((e): ListedEntry => {
    const rule = e.origin === 0 ? null : (byOrigin.get(e.origin) ?? null);
    return { ...e, addedBy: e.origin === 0 ? 'user' : rule ? 'rule' : 'unknown-rule', rule };
  });
  entries.sort((a, b) => a.prefix.localeCompare(b.prefix, 'en', { numeric: true }));
  return { set: name, ...declaration(users), size: translated(() => setCapacity(name)), entries };
}

/** The set as the policies in force declare it; `size` is what the set was created with, which a later policy does not change. */
const declaration = (users: SetUser[]) => ({
  size: users[0].set.size,
  timeout: users[0].set.timeout,
  interfaces: users.map((u) => u.state.interface),
});

/** Adds (or renews) prefixes for `seconds`, else for the set's declared timeout; the seconds they last (null: never). */
export function addToDynamicSet(name: string, prefixes: readonly string[], seconds?: number): { added: number; seconds: number | null } {
  const users = usersOf(name);
  const lasts = seconds ?? users[0].set.timeout;
  const added = translated(() => addToSet(name, prefixes, { seconds: lasts }));
  return { added, seconds: lasts };
}

/** Deletes exactly these prefixes; how many were there. */
export function deleteFromDynamicSet(name: string, prefixes: readonly string[]): number {
  usersOf(name);
  return translated(() => deleteFromSet(name, prefixes));
}

/** Empties the set; how many entries it held. */
export function flushDynamicSet(name: string): number {
  usersOf(name);
  return translated(() => flushSet(name));
}

export interface SetSummary {
  name: string;
  size: number;
  timeout: number | null;
  /** Live entries (expired ones the maps still keep are not counted). */
  entries: number;
  interfaces: string[];
}

/** Every dynamic set in use here, with its live entries (a walk of each set's maps, bounded by its size). */
export function dynamicSetSummaries(): SetSummary[] {
  return [...setUsers()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, users]) => {
      let entries = 0;
      let size = users[0].set.size;
      try {
        entries = listSet(name).length;
        size = setCapacity(name);
      } catch (error) {
        if (!(error instanceof DynamicSetError)) throw error; // gone since the state was read
      }
      return { name, ...declaration(users), size, entries };
    });
}
