/**
 * The sets a translation declares: ipsets that `-m set` names, read from
 * the --ipset file into static sets, and recent lists, which become dynamic
 * sets. Both share the policy's one namespace of set names, so a name that
 * is not a valid xdpfw name, or is taken, is renamed (`import-set-name`).
 */
import type { ImportCode } from './codes.js';
import { quote, type FlatRule, type Report } from './flatten.js';
import type { Cidr } from './iptables-addresses.js';
import { parseCidr, parseRange } from './iptables-addresses.js';
import type { IpsetSave } from './ipset-save.js';
import type { Citation, SourceProgram, SourceRule } from './program.js';

/** A difference the translation keeps, said at the rule. */
export interface Warning {
  code: ImportCode;
  column: number;
  message: string;
}

export type SetDeclaration =
  | { kind: 'static'; name: string; source: string; cidrs: readonly Cidr[] }
  /** A recent list; its timeout is its checks' --seconds, known once every rule is read. */
  | { kind: 'dynamic'; name: string; source: string; timeoutSeconds?: number; origin?: string };

export interface StatefulContext {
  family: 4 | 6;
  /** The --ipset file; absent when none was given. */
  ipsets?: IpsetSave;
  /** Declared sets by policy name, in the order first used. */
  declarations: Map<string, SetDeclaration>;
  /** The policy's name of a recent list, declaring it on first use. */
  recentList(list: string): string;
  /** Renames, reported once each where first used. */
  renames: { source: string; name: string; what: string }[];
}

const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export function statefulContext(family: 4 | 6, ipsets?: IpsetSave): StatefulContext {
  const context: StatefulContext = {
    family,
    ...(ipsets ? { ipsets } : {}),
    declarations: new Map(),
    renames: [],
    recentList(list) {
      const known = [...context.declarations.values()].find((d) => d.kind === 'dynamic' && d.source === list);
      if (known) return known.name;
      const name = policyName(context, list, `recent list '${list}'`);
      context.declarations.set(name, { kind: 'dynamic', name, source: list });
      return name;
    },
  };
  return context;
}

/** `source` if valid and free, else a valid name derived from it (`1bad.set` → `s_1bad_set`, then `_2`, …). */
function policyName(context: StatefulContext, source: string, what: string): string {
  let base = source.replace(/[^A-Za-z0-9_-]/g, '_');
  if (!VALID_NAME.test(base)) base = `s_${base}`;
  let name = base;
  for (let n = 2; context.declarations.has(name); n++) name = `${base}_${n}`;
  if (name !== source) context.renames.push({ source, name, what });
  return name;
}

/**
 * The prefixes of ipset `source` and its policy name, declaring it on first
 * use; or why it cannot be a static set of the policy. `warn` hears of
 * timeouts that are not kept, once a set.
 */
export function resolveIpset(
  context: StatefulContext,
  source: string,
  warn: (w: Warning) => void,
): { name: string; cidrs: readonly Cidr[] } | string {
  const known = [...context.declarations.values()].find((d) => d.kind === 'static' && d.source === source);
  if (known?.kind === 'static') return known;
  if (!context.ipsets) return `no ipset file: give the sets with --ipset FILE (the output of 'ipset save')`;
  const set = context.ipsets.sets.get(source);
  if (!set) return `${context.ipsets.file} has no set '${source}' (was it saved with the dump?)`;
  const at = `set '${source}' (${context.ipsets.file}:${set.line})`;
  if (set.type !== 'hash:ip' && set.type !== 'hash:net') {
    return `${at} is of type ${set.type}; xdpfw translates hash:ip and hash:net sets (write the others' addresses as a set by hand)`;
  }
  const family = set.options.get('family') === 'inet6' ? 6 : 4;
  if (family !== context.family) {
    return `${at} holds IPv${family} addresses and the dump's rules judge IPv${context.family} packets: the match never holds`;
  }
  const netmask = set.options.get('netmask');
  const cidrs: Cidr[] = [];
  for (const entry of set.entries) {
    if (entry.options.has('nomatch')) {
      return `${at}: entry '${entry.text}' of line ${entry.line} is nomatch (an exception inside a larger entry), which a static set cannot hold`;
    }
    const parsed =
      entry.text.includes('-') && !entry.text.includes('/')
        ? parseRange(entry.text)
        : parseCidr(typeof netmask === 'string' && !entry.text.includes('/') ? `${entry.text}/${netmask}` : entry.text);
    if ('kind' in parsed) return `${at}: entry '${entry.text}' of line ${entry.line}: ${parsed.message}`;
    cidrs.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  }
  if (cidrs.length === 0) return `${at} has no entries: the match never holds, and xdpfw refuses an empty set; remove the rule`;
  if (set.options.has('timeout')) {
    warn({
      code: 'import-set-timeout',
      column: 1,
      message: `${at} has timeouts (timeout ${String(set.options.get('timeout'))}): its ${cidrs.length} entries are translated as a static set, and never expire`,
    });
  }
  const name = policyName(context, source, `ipset '${source}'`);
  context.declarations.set(name, { kind: 'static', name, source, cidrs });
  return { name, cidrs };
}

/**
 * What holds across rules, checked once every rule is read: a recent list's
 * checks agree on --seconds (its set's timeout, and its bans' duration); a
 * --set goes with a deciding rule; a list nobody checks needs no set (its
 * --set changes no verdict, and is dropped); and no two rules share a
 * hashlimit table, which xdpfw's per-rule buckets cannot. Refused rules are
 * marked untranslatable.
 */
export function checkStatefulRules(
  program: SourceProgram,
  context: StatefulContext,
  hashlimitNames: ReadonlyMap<SourceRule, string>,
  report: Report,
): void {
  const refuse = (rule: SourceRule, code: ImportCode, message: string) => {
    rule.translatable = false;
    report(code, rule.cite.line, rule.column, `${message}: ${quote(rule.cite)}`);
  };
  const rules = [...program.chains.values()].flat();
  const checked = new Map<string, { seconds: number; line: number }>();
  for (const rule of rules) {
    const check = rule.condition.dynamicSet;
    if (!rule.translatable || !check) continue;
    const first = checked.get(check.name);
    if (!first) checked.set(check.name, { seconds: check.seconds, line: rule.cite.line });
    else if (first.seconds !== check.seconds) {
      refuse(
        rule,
        'import-recent',
        `list '${check.name}' is checked with --seconds ${check.seconds} here and ${first.seconds} on line ${first.line}; a dynamic set has one timeout`,
      );
    }
  }
  const warned = new Set<string>();
  for (const rule of rules) {
    const ban = rule.condition.ban;
    if (!rule.translatable || ban === undefined) continue;
    if (rule.target.kind !== 'verdict') {
      refuse(rule, 'import-recent', `--set on a rule that does not decide: an xdpfw ban goes with a rule's verdict`);
      continue;
    }
    const timeout = checked.get(ban)?.seconds;
    if (timeout === undefined) {
      delete rule.condition.ban;
      continue;
    }
    if (!warned.has(ban)) {
      warned.add(ban);
      report(
        'import-recent-timing',
        rule.cite.line,
        rule.column,
        `recent list '${ban}' becomes a dynamic set with timeout ${timeout}s, and --set a ban: iptables stamps the source at every --set, ` +
          `xdpfw refreshes a ban only when it gains more than a second (so an entry may end up to 1 s sooner); ` +
          `xt_recent forgets its oldest address when the list is full (ip_list_tot, 200 by default), the set refuses new ones (size 65,536): ${quote(rule.cite)}`,
      );
    }
  }
  for (const declaration of context.declarations.values()) {
    if (declaration.kind !== 'dynamic') continue;
    const timeout = checked.get(declaration.name)?.seconds;
    if (timeout === undefined) context.declarations.delete(declaration.name);
    else declaration.timeoutSeconds = timeout;
  }
  const tables = new Map<string, SourceRule>();
  for (const [rule, name] of hashlimitNames) {
    const first = tables.get(name);
    if (!first) tables.set(name, rule);
    else {
      for (const r of [first, rule]) {
        if (r.translatable)
          refuse(
            r,
            'import-limit',
            `hashlimit table '${name}' is shared by the rules of lines ${first.cite.line} and ${rule.cite.line}, and xdpfw's rules keep their own buckets`,
          );
      }
    }
  }
}

/** A rule with a limit inlined in several places would keep a bucket in each, where iptables keeps one: those are refused and left out. */
export function refuseLimitsInlinedTwice(flat: FlatRule[], report: Report): FlatRule[] {
  const count = new Map<Citation, number>();
  for (const rule of flat) if (rule.condition.limit) count.set(rule.cites.at(-1)!, (count.get(rule.cites.at(-1)!) ?? 0) + 1);
  return flat.filter((rule) => {
    const cite = rule.cites.at(-1)!;
    if (!rule.condition.limit || (count.get(cite) ?? 0) < 2) return true;
    report(
      'import-limit',
      cite.line,
      1,
      `the rule's chain is reached from ${count.get(cite)} jumps, and each inlined copy would keep its own bucket: ${quote(cite)}`,
    );
    return false;
  });
}
