/**
 * An iptables-save dump's filter chain (INPUT unless told) → an xdpfw
 * policy: the front end reads the chains the entry chain reaches into a
 * source program (program.ts), refusing each match and target xdpfw cannot
 * carry; flatten.ts makes first-match rules of it, and iptables-emit.ts
 * writes them. The entry chain's policy becomes `default`.
 *
 * Every refusal of the run is reported, each located at the iptables rule
 * (`line N: …`, its text quoted); a refused rule is left out of the policy,
 * so a caller should not use the policy while there are refusals.
 */
import { IMPORT_WARNINGS, type ImportDiagnostic } from './codes.js';
import { flattenProgram, quote, refuseTailsPastLimit, type Report } from './flatten.js';
import { ruleCondition } from './iptables-conditions.js';
import { emitPolicy } from './iptables-emit.js';
import type { Chain, IptablesSave, RuleTarget, Table } from './iptables-save.js';
import { checkStatefulRules, refuseLimitsInlinedTwice, statefulContext, type StatefulContext } from './iptables-sets.js';
import type { IpsetSave } from './ipset-save.js';
import type { RejectAnswer, SourceProgram, SourceRule, SourceTarget, Verdict } from './program.js';

export interface TranslateOptions {
  /** The dump's name, as the citations show it. */
  file: string;
  /** The filter chain to translate; INPUT unless told. */
  chain?: string;
  /** Interfaces to write a block for, besides those the rules' `-i` name. */
  interfaces?: string[];
  /**
   * The family the dump's rules judge: 4 for iptables-save (the default), 6
   * for ip6tables-save. The other family's packets pass first, as these
   * rules never saw them.
   */
  family?: 4 | 6;
  /** The sets `-m set` names (`ipset save`); without it, -m set is refused. */
  ipsets?: IpsetSave;
}

export interface Translation {
  policy: string;
  /** What the dump means, as flattening and the proof read it; absent when the dump has not the chain. */
  program?: SourceProgram;
  refusals: ImportDiagnostic[];
  warnings: ImportDiagnostic[];
}

const VERDICTS: Readonly<Record<string, Verdict>> = { ACCEPT: 'allow', DROP: 'drop', REJECT: 'reject' };

export function translateIptables(save: IptablesSave, options: TranslateOptions): Translation {
  const entry = options.chain ?? 'INPUT';
  const refusals: ImportDiagnostic[] = [];
  const warnings: ImportDiagnostic[] = [];
  const reported = new Set<string>();
  const report: Report = (code, line, column, message) => {
    const key = `${code}:${line}:${column}:${message}`;
    if (reported.has(key)) return;
    reported.add(key);
    (IMPORT_WARNINGS.has(code) ? warnings : refusals).push({ line, column, code, message: `line ${line}: ${message}` });
  };

  const table = save.tables.find((t) => t.name === 'filter');
  const chain = table?.chains.find((c) => c.name === entry);
  if (!table || !chain) {
    const what = table ? `table 'filter' of line ${table.line} has no chain '${entry}'` : `the dump has no '*filter' table`;
    report('import-chain', table?.line ?? 1, 1, what);
    return { policy: '', refusals, warnings };
  }
  const context = statefulContext(options.family ?? 4, options.ipsets);
  const program = iptablesProgram(table, chain, context, report);
  const flat = refuseLimitsInlinedTwice(flattenProgram(program, report), report);
  for (const { source, name, what } of context.renames) {
    report(
      'import-set-name',
      chain.line,
      1,
      `${what} is named '${name}' in the policy: '${source}' is not a valid xdpfw set name, or is taken`,
    );
  }

  const interfaces = [...new Set([...(options.interfaces ?? []), ...flat.flatMap((r) => (r.condition.iface ? [r.condition.iface] : []))])];
  if (interfaces.length === 0) {
    interfaces.push('eth0');
    report('import-interface-name', chain.line, 1, `no interface given and no rule has -i: the block is for 'eth0'; rename it`);
  }
  const kept = refuseTailsPastLimit(flat, interfaces, report);
  const header = [
    `Translated from ${options.file}: table filter, chain ${entry} (policy ${chain.policy} of line ${chain.line}).`,
    'Each rule follows the iptables rules it comes from (a jump first, then the rule of its chain).',
  ];
  const byLine = (a: ImportDiagnostic, b: ImportDiagnostic) => a.line - b.line || a.column - b.column;
  const sets = [...context.declarations.values()];
  const policy = emitPolicy(header, interfaces, program.policy, kept, options.file, program.family, { sets });
  return { policy, program, refusals: refusals.sort(byLine), warnings: warnings.sort(byLine) };
}

/**
 * The chains `entry` reaches as a source program. Each rule's matches are
 * read (ruleCondition); a rule with a match or target xdpfw cannot carry is
 * refused and kept out of flattening; an `-i lo` rule is left out, as XDP
 * never sees its packets.
 */
function iptablesProgram(table: Table, entry: Chain, context: StatefulContext, report: Report): SourceProgram {
  const policy: Verdict = entry.builtin && entry.policy === 'DROP' ? 'drop' : 'allow';
  const chains = new Map<string, SourceRule[]>();
  const hashlimitNames = new Map<SourceRule, string>();
  for (const name of reachableIptablesChains(table, entry.name)) {
    const rules: SourceRule[] = [];
    for (const rule of table.rules.filter((r) => r.chain === name)) {
      const target = rule.rule.target;
      if (!target) {
        // A rule without a target decides nothing, but a recent --set in it still fills its list.
        const recent = rule.rule.matches.find((b) => b.module === 'recent');
        if (recent)
          report(
            'import-recent',
            rule.line,
            recent.column,
            `-m recent on a rule without a target: xdpfw bans only when a rule decides: ${quote(rule)}`,
          );
        continue;
      }
      const parsed = ruleCondition(rule, context);
      for (const r of parsed.refusals) report(r.code, rule.line, r.column, `${r.message}: ${quote(rule)}`);
      for (const w of parsed.warnings) report(w.code, rule.line, w.column, `${w.message}: ${quote(rule)}`);
      if (parsed.loopback) {
        report('import-loopback', rule.line, 1, `-i lo: left out, XDP never sees loopback traffic: ${quote(rule)}`);
        continue;
      }
      const sourceTarget = iptablesTarget(table, target);
      if (!sourceTarget) {
        const kind = target.kind === 'goto' ? '-g' : '-j';
        report('import-target', rule.line, target.column, `target '${kind} ${target.name}' is not translated: ${quote(rule)}`);
      }
      const sourceRule: SourceRule = {
        cite: rule,
        column: target.column,
        condition: parsed.condition,
        comments: parsed.comments,
        target: sourceTarget ?? { kind: 'refused' },
        translatable: sourceTarget !== undefined && parsed.refusals.length === 0,
      };
      rules.push(sourceRule);
      if (parsed.hashlimitName !== undefined) hashlimitNames.set(sourceRule, parsed.hashlimitName);
    }
    chains.set(name, rules);
  }
  const program: SourceProgram = { family: context.family, entry: entry.name, policy, chains };
  checkStatefulRules(program, context, hashlimitNames, report);
  return program;
}

function iptablesTarget(table: Table, target: RuleTarget): SourceTarget | undefined {
  const verdict = VERDICTS[target.name];
  if (verdict === 'reject') return { kind: 'verdict', verdict, reject: rejectAnswer(target) };
  if (verdict) return { kind: 'verdict', verdict };
  if (target.name === 'LOG' || target.name === 'NFLOG') {
    const prefix = target.options.find((o) => o.option === `--${target.name.toLowerCase()}-prefix`)?.values[0];
    return { kind: 'log', name: target.name, ...(prefix !== undefined ? { prefix } : {}) };
  }
  if (target.name === 'RETURN') return { kind: 'return' };
  if (isUserChain(table, target.name)) return { kind: target.kind, chain: target.name };
  return undefined;
}

/** ip(6)tables' names of the ICMP answer xdpfw's reject sends to anything but TCP (code 13; ICMPv6 type 1 code 1). */
const ADMIN_PROHIBITED = new Set(['icmp-admin-prohibited', 'admin-prohib', 'icmp6-adm-prohibited', 'adm-prohibited']);

function rejectAnswer(target: RuleTarget): RejectAnswer {
  const answer = target.options.find((o) => o.option === '--reject-with')?.values[0];
  if (answer === undefined) return { answer: 'port-unreachable', shown: `REJECT's default '--reject-with port-unreachable'` };
  const shown = `'--reject-with ${answer}'`;
  if (answer === 'tcp-reset' || answer === 'tcp-rst') return { answer: 'tcp-reset', shown };
  return { answer: ADMIN_PROHIBITED.has(answer) ? 'admin-prohibited' : answer, shown };
}

function reachableIptablesChains(table: Table, entry: string): Set<string> {
  const seen = new Set([entry]);
  const queue = [entry];
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    for (const rule of table.rules) {
      const target = rule.rule.target?.name;
      if (rule.chain === name && target !== undefined && !seen.has(target) && table.chains.some((c) => c.name === target)) {
        seen.add(target);
        queue.push(target);
      }
    }
  }
  return seen;
}

function isUserChain(table: Table, name: string): boolean {
  return table.chains.some((c) => c.name === name && !c.builtin);
}
