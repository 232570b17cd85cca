/**
 * A source program's chains → first-match rules. A jump is replaced by the
 * jumped-to chain's rules, each conjoined with the jumping rule's condition;
 * a goto likewise, and since a goto'd chain that falls off its end returns
 * to the caller's caller, a packet that falls off one reached from the
 * entry chain gets the entry chain's policy: a rule with the goto's
 * condition and the policy's verdict follows the inlined rules. LOG
 * records the packet and lets the next rule decide, which is what an
 * `audit allow … log` rule does (it never decides, and logs what it
 * matches); a verdict nft logs gets `log` itself.
 *
 * What first-match rules cannot say is refused here, each located at the
 * source rule: a RETURN that is not a chain's unconditional last rule, a
 * loop of chains, a goto whose chain can fall back into a caller reached
 * by a jump with rules after it, a conjunction one rule cannot hold.
 */
import type { ImportCode } from './codes.js';
import { conjoin } from './iptables-conjoin.js';
import type { Condition } from './iptables-conditions.js';
import { MAX_TAIL_RULES } from '../compiler/limits.js';
import type { Citation, LogStatement, SourceProgram, SourceRule, Verdict } from './program.js';

/** A rule to emit. */
export interface FlatRule {
  /** The source rules it comes from: the jumping rules first, then the rule itself. */
  cites: Citation[];
  comments: string[];
  verdict: Verdict;
  condition: Condition;
  /** `audit`: the rule decides nothing (what LOG becomes). */
  audit?: true;
  /** `log`: what the rule decides, or would, goes to the log stream. */
  log?: true;
}

export type Report = (code: ImportCode, line: number, column: number, message: string) => void;

/** Where a packet goes when it falls off a chain: the entry chain's policy, or on in the rules after it. */
type FallOff = 'policy' | 'continue';

export const quote = (cite: Citation): string => `'${cite.text.trim()}'`;

export function flattenProgram(program: SourceProgram, report: Report): FlatRule[] {
  const { chains, entry } = program;
  const rulesOf = (name: string) => chains.get(name) ?? [];
  const refused = refuseStructure(program, report);
  const flat: FlatRule[] = [];
  let rejectWithNoted = false;
  // One import-log warning a dump, at its first logging rule translated.
  let firstLog: { rule: SourceRule; log: LogStatement } | undefined;
  const logged = (rule: SourceRule, log: LogStatement): { comments: string[]; log: true } => {
    if (firstLog === undefined || rule.cite.line < firstLog.rule.cite.line) firstLog = { rule, log };
    return { comments: log.prefix === undefined ? [] : [`log prefix ${JSON.stringify(log.prefix)}`], log: true };
  };
  const via = (cites: Citation[]) => (cites.length > 0 ? `, reached from line ${cites.map((r) => r.line).join(' > ')}` : '');
  const commentsOf = (path: SourceRule[]) => path.flatMap((r) => r.comments);

  const flatten = (name: string, outer: Condition, path: SourceRule[], fallOff: FallOff, stack: string[]): void => {
    const rules = rulesOf(name);
    rules.forEach((rule, index) => {
      if (!rule.translatable || refused.has(rule)) return;
      const cites = path.map((r) => r.cite);
      const conjunction = conjoin(outer, rule.condition);
      if ('empty' in conjunction) return;
      if ('inexpressible' in conjunction) {
        report('import-conjunction', rule.cite.line, rule.column, `${conjunction.inexpressible}${via(cites)}: ${quote(rule.cite)}`);
        return;
      }
      const condition = conjunction.condition;
      const here = [...path, rule];
      const hereCites = here.map((r) => r.cite);
      const target = rule.target;
      if (target.kind === 'verdict') {
        const answer = target.reject;
        if (answer && !rejectWithNoted && !xdpfwAnswersAs(answer.answer, condition.protocol)) {
          rejectWithNoted = true;
          report(
            'import-reject-with',
            rule.cite.line,
            rule.column,
            `${answer.shown} is not kept (nor any other answer of this dump that differs): xdpfw's reject answers TCP with a RST and anything else with ICMP administratively prohibited`,
          );
        }
        const log = target.log ? logged(rule, target.log) : undefined;
        const comments = [...commentsOf(here), ...(log?.comments ?? [])];
        flat.push({ cites: hereCites, comments, verdict: target.verdict, condition, ...(log ? { log: true } : {}) });
      } else if (target.kind === 'log') {
        const log = logged(rule, target);
        flat.push({
          cites: hereCites,
          comments: [...commentsOf(here), ...log.comments],
          verdict: 'allow',
          condition,
          audit: true,
          log: true,
        });
      } else if (target.kind === 'return' || target.kind === 'refused' || stack.includes(target.chain)) {
        // RETURN as a chain's unconditional last rule does nothing; the rest was refused before flattening.
      } else if (target.kind === 'jump') {
        flatten(target.chain, condition, here, 'continue', [...stack, target.chain]);
      } else {
        flatten(target.chain, condition, here, fallOff, [...stack, target.chain]);
        if (endsDeciding(rulesOf(target.chain))) return;
        if (fallOff === 'policy') {
          const note = `what falls off chain '${target.chain}' gets the policy of '${entry}', not the rules after the goto`;
          flat.push({ cites: hereCites, comments: [...commentsOf(here), note], verdict: program.policy, condition });
        } else if (index !== rules.length - 1) {
          report(
            'import-goto',
            rule.cite.line,
            rule.column,
            `what falls off chain '${target.chain}' returns past the rest of chain '${name}', which first-match rules cannot skip${via(cites)}: ${quote(rule.cite)}`,
          );
        }
      }
    });
  };
  flatten(entry, {}, [], 'policy', [entry]);
  if (firstLog)
    report('import-log', firstLog.rule.cite.line, firstLog.rule.column, logDifferences(firstLog.log, quote(firstLog.rule.cite)));
  return flat;
}

/** The import-log warning, given once a dump: what xdpfw's log keeps of what the source's logging records. */
function logDifferences(log: LogStatement, cited: string): string {
  const what = log.name === 'log' ? "'log'" : log.name;
  return (
    `${what} becomes 'log' (on an 'audit allow' rule, which decides nothing, where the source's rule does not decide), as does every log of this dump: ` +
    `xdpfw's log stream keeps at most 100 events a second per interface (a burst of 200), each the packet's headers on a 'rule decision' line of 'xdpfw run's log and in 'xdpfw trace', ` +
    `not a kernel log line with its prefix (kept as a comment): ${cited}`
  );
}

/**
 * Refuses the rules past the MAX_TAIL_RULES'th of an interface with a tail
 * (audit, a limit, a dynamic set, a ban), which the data plane checks one
 * by one and the compiler refuses beyond that (`too-many-tails`); returns
 * the rules kept, so that the policy still compiles.
 */
export function refuseTailsPastLimit(flat: FlatRule[], interfaces: readonly string[], report: Report): FlatRule[] {
  const refused = new Set<FlatRule>();
  for (const name of interfaces) {
    // A rule refused for another interface is in no block, and takes none of this one's tails.
    const tails = flat.filter((r) => (r.condition.iface === undefined || r.condition.iface === name) && hasTail(r) && !refused.has(r));
    tails.forEach((rule, index) => {
      if (index < MAX_TAIL_RULES) return;
      refused.add(rule);
      const cite = rule.cites.at(-1)!;
      report(
        'import-tails',
        cite.line,
        1,
        `interface '${name}' would have ${tails.length} rules with a LOG, a limit or a recent list, and xdpfw takes at most ${MAX_TAIL_RULES}; this one, rule ${index + 1} of them, is left out: ${quote(cite)}`,
      );
    });
  }
  return flat.filter((r) => !refused.has(r));
}

const hasTail = (rule: FlatRule) =>
  rule.audit === true || rule.condition.limit !== undefined || rule.condition.ban !== undefined || rule.condition.dynamicSet !== undefined;

/** Whether xdpfw's reject sends what the source's does, to the packets of `protocol` (undefined: any). */
function xdpfwAnswersAs(answer: string, protocol: number | undefined): boolean {
  if (answer === 'tcp-reset') return protocol === 6;
  return answer === 'admin-prohibited' && protocol !== undefined && protocol !== 6;
}

/**
 * Refuses, in every chain the entry reaches (so that all refusals come out
 * in one run, also of rules flattening never reaches), the RETURNs and
 * loops first-match rules cannot say; returns the rules refused.
 */
function refuseStructure(program: SourceProgram, report: Report): Set<SourceRule> {
  const refused = new Set<SourceRule>();
  for (const [name, rules] of program.chains) {
    rules.forEach((rule, index) => {
      const refuse = (code: ImportCode, what: string) => {
        refused.add(rule);
        report(code, rule.cite.line, rule.column, `${what}: ${quote(rule.cite)}`);
      };
      const target = rule.target;
      if (target.kind === 'return') {
        if (Object.keys(rule.condition).length > 0 || index !== rules.length - 1) {
          refuse('import-return', `RETURN is not translated yet (only as a chain's unconditional last rule)`);
        }
      } else if ((target.kind === 'jump' || target.kind === 'goto') && reachableChains(program, target.chain).has(name)) {
        refuse('import-loop', `chain '${target.chain}' leads back to chain '${name}', a loop`);
      }
    });
  }
  return refused;
}

/** A chain whose last rule decides every packet that reaches it never falls off its end. */
function endsDeciding(rules: readonly SourceRule[]): boolean {
  const last = rules.at(-1);
  return last !== undefined && last.translatable && last.target.kind === 'verdict' && Object.keys(last.condition).length === 0;
}

/** The chains `from` reaches by jumps and gotos, itself included. */
export function reachableChains(program: Pick<SourceProgram, 'chains'>, from: string): Set<string> {
  const seen = new Set([from]);
  const queue = [from];
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    for (const rule of program.chains.get(name) ?? []) {
      const target = rule.target;
      if ((target.kind === 'jump' || target.kind === 'goto') && !seen.has(target.chain) && program.chains.has(target.chain)) {
        seen.add(target.chain);
        queue.push(target.chain);
      }
    }
  }
  return seen;
}
