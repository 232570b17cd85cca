/**
 * An nftables ruleset (nft-json.ts) → an xdpfw policy. The entry is the one
 * base chain of type filter on the input hook of a table of family ip, ip6
 * or inet; its policy becomes `default`, and the regular chains of its
 * table it reaches by jump and goto are read with it into a source program
 * (program.ts), each rule by nft-rule.ts. flatten.ts makes first-match
 * rules of it and iptables-emit.ts writes them, as for iptables.
 *
 * An inet table judges both families; an ip table only IPv4 (IPv6 passes,
 * as it passed these rules), an ip6 table only IPv6. Base chains on other
 * hooks are left out, but a prerouting chain that rewrites destinations
 * (dnat, redirect) is refused: the input chain judges the rewritten
 * packet, while XDP sees it before. Each rule is cited as `table FAMILY
 * NAME chain NAME handle N: RULE`, at the line its JSON object starts on.
 */
import { diagnosticCollector, type ImportCode } from './codes.js';
import { flattenProgram, refuseTailsPastLimit, type FlatRule, type Report } from './flatten.js';
import { emitPolicy } from './iptables-emit.js';
import { refuseLimitsInlinedTwice, type SetDeclaration } from './iptables-sets.js';
import type { Translation } from './iptables-translate.js';
import type { NftChain, NftRule, NftRuleset, NftSet } from './nft-json.js';
import { renderRule, renderStatement } from './nft-render.js';
import { nftSourceRules, verdictOf } from './nft-rule.js';
import type { SourceProgram, SourceRule } from './program.js';

export interface NftTranslateOptions {
  /** The file's name, as the citations show it. */
  file: string;
  /** Interfaces to write a block for, besides those the rules' `iifname` name. */
  interfaces?: string[];
}

const FAMILIES = new Set(['ip', 'ip6', 'inet']);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const chainName = (c: NftChain) => `table ${c.family} ${c.table} chain ${c.name}`;
const sameTable = (a: { family: string; table: string }, b: { family: string; table: string }) =>
  a.family === b.family && a.table === b.table;

export function translateNft(ruleset: NftRuleset, options: NftTranslateOptions): Translation {
  const { report, diagnostics } = diagnosticCollector();
  const done = (policy: string, program?: SourceProgram): Translation => ({ policy, ...(program ? { program } : {}), ...diagnostics() });
  const rulesOf = (chain: NftChain) => ruleset.rules.filter((r) => sameTable(r, chain) && r.chain === chain.name);

  refuseDestinationNat(ruleset, report);
  const entry = entryChain(ruleset, rulesOf, report);
  if (!entry) return done('');

  const program = nftProgram(ruleset, entry, rulesOf, report);
  const flat = refuseLimitsInlinedTwice(flattenProgram(program, report), report);
  const interfaces = [...new Set([...(options.interfaces ?? []), ...flat.flatMap((r) => (r.condition.iface ? [r.condition.iface] : []))])];
  if (interfaces.length === 0) {
    interfaces.push('eth0');
    report('import-interface-name', entry.line, 1, `no interface given and no rule has iifname: the block is for 'eth0'; rename it`);
  }
  const kept = refuseTailsPastLimit(flat, interfaces, report);
  const header = [
    `Translated from ${options.file}: ${chainName(entry)} (hook input, priority ${entry.prio ?? 0}, policy ${entry.policy ?? 'accept'}, line ${entry.line}).`,
    'Each rule follows the nftables rules it comes from (a jump first, then the rule of its chain).',
  ];
  const rulesNote = `nftables rules of table ${entry.family} ${entry.table}`;
  const sets = dynamicSets(kept, (name) => ruleset.sets.find((s) => sameTable(s, entry) && s.name === name));
  return done(emitPolicy(header, interfaces, program.policy, kept, options.file, program.family, { rulesOf: rulesNote, sets }), program);
}

/**
 * The dynamic sets the rules match or ban into, in the order first named,
 * each with its nft set's timeout. They start empty: the elements a
 * listing shows are the bans of that moment.
 */
function dynamicSets(rules: readonly FlatRule[], lookup: (name: string) => NftSet | undefined): SetDeclaration[] {
  const out = new Map<string, SetDeclaration>();
  for (const { condition } of rules) {
    for (const name of [condition.dynamicSet?.name, condition.ban]) {
      const set = name === undefined ? undefined : lookup(name);
      if (!set || out.has(set.name)) continue;
      const listed = set.elem.length > 0 ? `, its ${set.elem.length} elements at listing time not carried` : '';
      const origin = `nft set '${set.name}' (flags ${set.flags.join(',') || 'none'}${listed})`;
      out.set(set.name, {
        kind: 'dynamic',
        name: set.name,
        source: set.name,
        origin,
        ...(set.timeout !== undefined ? { timeoutSeconds: set.timeout } : {}),
      });
    }
  }
  return [...out.values()];
}

/** The one input base chain; several with rules are refused, and the idle others noted. */
function entryChain(ruleset: NftRuleset, rulesOf: (c: NftChain) => NftRule[], report: Report): NftChain | undefined {
  const hooked = ruleset.chains.filter((c) => FAMILIES.has(c.family) && c.hook === 'input' && c.type === 'filter');
  if (hooked.length === 0) {
    report('import-chain', 1, 1, 'no base chain of type filter hooks input in a table of family ip, ip6 or inet');
    return undefined;
  }
  const idle = (c: NftChain) => rulesOf(c).length === 0 && c.policy !== 'drop';
  const busy = hooked.filter((c) => !idle(c));
  if (busy.length > 1) {
    const names = busy.map((c) => `${chainName(c)} (priority ${c.prio ?? 0}, line ${c.line})`).join(', ');
    for (const c of busy.slice(1)) {
      report(
        'import-hooks',
        c.line,
        1,
        `${busy.length} base chains judge the input hook: ${names}; a packet must pass each in turn, and xdpfw cannot compose them into one block`,
      );
    }
    return undefined;
  }
  const entry = busy[0] ?? hooked[0];
  for (const c of hooked.filter((h) => h !== entry)) {
    report('import-hook-ignored', c.line, 1, `${chainName(c)} also hooks input, with no rule and policy accept: left out`);
  }
  return entry;
}

function refuseDestinationNat(ruleset: NftRuleset, report: Report): void {
  for (const chain of ruleset.chains.filter((c) => FAMILIES.has(c.family) && c.hook === 'prerouting')) {
    for (const rule of ruleset.rules.filter((r) => sameTable(r, chain) && r.chain === chain.name)) {
      const nat = rule.expr.find((e) => isObject(e) && ('dnat' in e || 'redirect' in e));
      if (nat === undefined) continue;
      report(
        'import-unsupported',
        rule.line,
        1,
        `'${renderStatement(nat)}' in a prerouting chain rewrites the destination before the input chain judges it, while XDP judges the packet as it arrives; the translation would match other addresses and ports: '${citeText(chain, rule)}'`,
      );
    }
  }
}

const citeText = (chain: NftChain, rule: NftRule) => `${chainName(chain)} handle ${rule.handle}: ${renderRule(rule.expr)}`;

function nftProgram(ruleset: NftRuleset, entry: NftChain, rulesOf: (c: NftChain) => NftRule[], report: Report): SourceProgram {
  const lookup = (name: string) => ruleset.sets.find((s) => sameTable(s, entry) && s.name === name);
  const chainOf = (name: string) => ruleset.chains.find((c) => sameTable(c, entry) && c.name === name && c.hook === undefined);
  const chains = new Map<string, SourceRule[]>();
  const queue = [entry];
  for (let chain = queue.shift(); chain !== undefined; chain = queue.shift()) {
    if (chains.has(chain.name)) continue;
    const rules: SourceRule[] = [];
    chains.set(chain.name, rules);
    for (const rule of rulesOf(chain)) {
      const cite = { line: rule.line, text: citeText(chain, rule) };
      const at = (code: ImportCode, message: string) => report(code, rule.line, 1, `${message}: '${cite.text}'`);
      const translated = nftSourceRules(rule, cite, lookup, at);
      for (const target of jumpTargets(rule, lookup)) {
        const next = chainOf(target);
        if (next) queue.push(next);
        else {
          at('import-target', `'${target}' is not a regular chain of ${chainName(entry).replace(/ chain .*/, '')}`);
          translated.forEach((r) => (r.translatable = false));
        }
      }
      rules.push(...translated);
    }
  }
  const family = entry.family === 'ip' ? 4 : entry.family === 'ip6' ? 6 : 'both';
  return { family, entry: entry.name, policy: entry.policy === 'drop' ? 'drop' : 'allow', chains };
}

/** The chains a rule's jump, goto or verdict map elements (of a named map too) name. */
function jumpTargets(rule: NftRule, lookup: (name: string) => NftSet | undefined): string[] {
  const out: string[] = [];
  const visit = (value: unknown): void => {
    const target = verdictOf(value);
    if (target && target !== 'continue' && (target.kind === 'jump' || target.kind === 'goto')) out.push(target.chain);
    else if (typeof value === 'string' && value.startsWith('@')) lookup(value.slice(1))?.elem.forEach(visit);
    else if (Array.isArray(value)) value.forEach(visit);
    else if (isObject(value)) Object.values(value).forEach(visit);
  };
  rule.expr.forEach(visit);
  return out;
}
