/**
 * An iptables-save dump's filter chain (INPUT unless told) → an xdpfw
 * policy. The chain is flattened into first-match rules: a `-j CHAIN` is
 * replaced by the chain's rules, each conjoined with the jumping rule's
 * matches; a `-g CHAIN` likewise, and since a goto'd chain that falls off
 * its end returns to the caller's caller, a packet that falls off one
 * reached from the entry chain gets the chain's policy: a rule with the
 * goto's matches and the policy's verdict follows the inlined rules. The
 * entry chain's policy becomes `default`. LOG does not decide and becomes
 * a comment (with a warning): the deciding rule after it should get `log`.
 *
 * Every refusal of the run is reported, each located at the iptables rule
 * (`line N: …`, its text quoted); a refused rule is left out of the policy,
 * so a caller should not use the policy while there are refusals.
 */
import { IMPORT_WARNINGS, type ImportCode, type ImportDiagnostic } from './codes.js';
import { conjoin } from './iptables-conjoin.js';
import { ruleCondition, type Condition, type RuleCondition } from './iptables-conditions.js';
import { emitPolicy, type FlatRule, type Verdict } from './iptables-emit.js';
import type { IptablesSave, Rule, Table } from './iptables-save.js';

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
}

export interface Translation {
  policy: string;
  refusals: ImportDiagnostic[];
  warnings: ImportDiagnostic[];
}

const VERDICTS: Readonly<Record<string, Verdict>> = { ACCEPT: 'allow', DROP: 'drop', REJECT: 'reject' };

/** Where a packet goes when it falls off a chain: the entry chain's policy, or on in the rules after it. */
type FallOff = 'policy' | 'continue';

export function translateIptables(save: IptablesSave, options: TranslateOptions): Translation {
  const entry = options.chain ?? 'INPUT';
  const refusals: ImportDiagnostic[] = [];
  const warnings: ImportDiagnostic[] = [];
  const reported = new Set<string>();
  const report = (code: ImportCode, line: number, column: number, message: string) => {
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
  const policyVerdict: Verdict = chain.builtin && chain.policy === 'DROP' ? 'drop' : 'allow';
  const flat: FlatRule[] = [];
  let rejectWithNoted = false;
  const conditions = new Map<Rule, RuleCondition>();
  const quote = (rule: Rule) => `'${rule.text.trim()}'`;
  const via = (cites: Rule[]) => (cites.length > 0 ? `, reached from line ${cites.map((r) => r.line).join(' > ')}` : '');

  const conditionOf = (rule: Rule): RuleCondition => {
    let parsed = conditions.get(rule);
    if (!parsed) {
      parsed = ruleCondition(rule);
      conditions.set(rule, parsed);
      for (const r of parsed.refusals) report(r.code, rule.line, r.column, `${r.message}: ${quote(rule)}`);
      if (parsed.loopback) report('import-loopback', rule.line, 1, `-i lo: left out, XDP never sees loopback traffic: ${quote(rule)}`);
    }
    return parsed;
  };

  /** The `-m comment`s of a rule and of the jumps that led to it. */
  const commentsOf = (cites: Rule[]) => cites.flatMap((r) => conditionOf(r).comments);

  const flatten = (name: string, outer: Condition, cites: Rule[], fallOff: FallOff, stack: string[]): void => {
    const rules = table.rules.filter((r) => r.chain === name);
    rules.forEach((rule, index) => {
      const parsed = conditionOf(rule);
      const target = rule.rule.target;
      if (parsed.loopback || parsed.refusals.length > 0 || !target || refused.has(rule)) return;
      const conjunction = conjoin(outer, parsed.condition);
      if ('empty' in conjunction) return;
      if ('inexpressible' in conjunction) {
        report('import-conjunction', rule.line, target.column, `${conjunction.inexpressible}${via(cites)}: ${quote(rule)}`);
        return;
      }
      const condition = conjunction.condition;
      const here = [...cites, rule];
      const verdict = VERDICTS[target.name];
      if (verdict) {
        const answer = target.options.find((o) => o.option === '--reject-with')?.values[0];
        if (target.name === 'REJECT' && !rejectWithNoted && !xdpfwAnswersAs(answer, condition.protocol)) {
          rejectWithNoted = true;
          const option = answer === undefined ? `REJECT's default '--reject-with port-unreachable'` : `'--reject-with ${answer}'`;
          report(
            'import-reject-with',
            rule.line,
            target.column,
            `${option} is not kept (nor any other answer of this dump that differs): xdpfw's reject answers TCP with a RST and anything else with ICMP administratively prohibited`,
          );
        }
        flat.push({ cites: here, comments: commentsOf(here), verdict, condition });
      } else if (target.name === 'LOG' || target.name === 'NFLOG') {
        report(
          'import-log',
          rule.line,
          target.column,
          `${target.name} is left as a comment; add 'log' to the rule that should log: ${quote(rule)}`,
        );
        flat.push({
          cites: here,
          comments: commentsOf(here),
          condition,
          note: `${target.name} not translated: add 'log' to the deciding rule`,
        });
      } else if (target.name === 'RETURN' || !isUserChain(table, target.name) || stack.includes(target.name)) {
        // RETURN as a chain's unconditional last rule does nothing; the rest was refused before flattening.
      } else if (target.kind === 'jump') {
        flatten(target.name, condition, here, 'continue', [...stack, target.name]);
      } else {
        flatten(target.name, condition, here, fallOff, [...stack, target.name]);
        if (endsDeciding(table, target.name)) return;
        if (fallOff === 'policy') {
          const note = `what falls off chain '${target.name}' gets the policy of '${entry}', not the rules after the -g`;
          flat.push({ cites: here, comments: [...commentsOf(here), note], verdict: policyVerdict, condition });
        } else if (index !== rules.length - 1) {
          report(
            'import-goto',
            rule.line,
            target.column,
            `what falls off chain '${target.name}' returns past the rest of chain '${name}', which first-match rules cannot skip${via(cites)}: ${quote(rule)}`,
          );
        }
      }
    });
  };
  // Every rule of every chain the entry chain reaches is read, so that all refusals come out in one run,
  // even of rules that flattening never reaches (behind a refused jump, or conjoined to nothing).
  const refused = new Set<Rule>();
  for (const name of reachableChains(table, entry)) {
    const rules = table.rules.filter((r) => r.chain === name);
    rules.forEach((rule, index) => {
      const parsed = conditionOf(rule);
      const target = rule.rule.target;
      if (!target) return;
      const refuse = (code: ImportCode, what: string) => {
        refused.add(rule);
        report(code, rule.line, target.column, `${what}: ${quote(rule)}`);
      };
      const kind = target.kind === 'goto' ? '-g' : '-j';
      if (target.name === 'RETURN') {
        if (Object.keys(parsed.condition).length > 0 || index !== rules.length - 1) {
          refuse('import-return', `RETURN is not translated yet (only as a chain's unconditional last rule)`);
        }
      } else if (VERDICTS[target.name] || target.name === 'LOG' || target.name === 'NFLOG') {
        // Translated.
      } else if (!isUserChain(table, target.name)) {
        refuse('import-target', `target '${kind} ${target.name}' is not translated`);
      } else if (reachableChains(table, target.name).has(name)) {
        refuse('import-loop', `chain '${target.name}' leads back to chain '${name}', a loop`);
      }
    });
  }
  flatten(entry, {}, [], 'policy', [entry]);

  const interfaces = [...new Set([...(options.interfaces ?? []), ...flat.flatMap((r) => (r.condition.iface ? [r.condition.iface] : []))])];
  if (interfaces.length === 0) {
    interfaces.push('eth0');
    report('import-interface-name', chain.line, 1, `no interface given and no rule has -i: the block is for 'eth0'; rename it`);
  }
  const header = [
    `Translated from ${options.file}: table filter, chain ${entry} (policy ${chain.policy} of line ${chain.line}).`,
    'Each rule follows the iptables rules it comes from (a jump first, then the rule of its chain).',
  ];
  const byLine = (a: ImportDiagnostic, b: ImportDiagnostic) => a.line - b.line || a.column - b.column;
  const policy = emitPolicy(header, interfaces, policyVerdict, flat, options.file, options.family ?? 4);
  return { policy, refusals: refusals.sort(byLine), warnings: warnings.sort(byLine) };
}

/** ip(6)tables' names of the ICMP answer xdpfw's reject sends to anything but TCP (code 13; ICMPv6 type 1 code 1). */
const ADMIN_PROHIBITED = new Set(['icmp-admin-prohibited', 'admin-prohib', 'icmp6-adm-prohibited', 'adm-prohibited']);

/** Whether xdpfw's reject sends what `--reject-with answer` does, to the packets of `protocol` (undefined: any). */
function xdpfwAnswersAs(answer: string | undefined, protocol: number | undefined): boolean {
  if (answer === 'tcp-reset' || answer === 'tcp-rst') return protocol === 6;
  return answer !== undefined && ADMIN_PROHIBITED.has(answer) && protocol !== undefined && protocol !== 6;
}

/** A chain whose last rule decides every packet that reaches it never falls off its end. */
function endsDeciding(table: Table, name: string): boolean {
  const last = table.rules.filter((r) => r.chain === name).at(-1);
  if (!last?.rule.target || !VERDICTS[last.rule.target.name]) return false;
  const parsed = ruleCondition(last);
  return parsed.refusals.length === 0 && !parsed.loopback && Object.keys(parsed.condition).length === 0;
}

function reachableChains(table: Table, entry: string): Set<string> {
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
