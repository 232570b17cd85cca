/**
 * A source program's chains → first-match rules. A jump is replaced by the
 * jumped-to chain's rules, each conjoined with the jumping rule's
 * condition; what falls off the chain meets the caller's next rules, as
 * in the source. First-match rules cannot skip rules, so where the source
 * does — a conditional RETURN leaves the rest of its chain, a goto'd chain
 * falls off past the rest of the chain that went to it — the packets it
 * concerns are decided on the spot: the rest of each caller (innermost
 * first) is copied in, conjoined with the RETURN's or the goto's condition,
 * and a rule with the entry chain's policy ends the copy, so that none of
 * those packets reaches the rules it skips. LOG records the packet and
 * lets the next rule decide, which is what an `audit allow … log` rule
 * does (it never decides, and logs what it matches); a verdict nft logs
 * gets `log` itself.
 *
 * What first-match rules cannot say is refused here, each located at the
 * source rule: a loop of chains, a conjunction one rule cannot hold, and
 * copies past MAX_FLAT_RULES.
 */
import type { ImportCode } from './codes.js';
import { conjoin } from './iptables-conjoin.js';
import type { Condition } from './iptables-conditions.js';
import { ruleText } from './iptables-emit.js';
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

/** Where a chain returns to: the rest of its caller, from rule `from`, entered along `path`. */
interface Frame {
  chain: string;
  from: number;
  path: SourceRule[];
  stack: string[];
}

/** The callers a chain returns through, innermost first; past the last, the entry chain's policy. */
type Continuation = readonly Frame[];

/** Rules a flattening may write before it stops: each conditional RETURN and goto copies the rest of its callers. */
export const MAX_FLAT_RULES = 50_000;

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

  let expanded = false;
  /**
   * The packets of `condition` (all of them) go on as they do after a
   * RETURN, or after a goto'd chain falls off its end: with the rest of
   * each caller, innermost first, and the entry chain's policy last. The
   * policy rule decides every one of them, so the chain's rules after the
   * RETURN or the goto never see them.
   */
  const resume = (condition: Condition, cont: Continuation, at: SourceRule, why: string): void => {
    if (flat.length > MAX_FLAT_RULES) {
      if (!expanded)
        report(
          'import-expansion',
          at.cite.line,
          at.column,
          `the rules after the jumps that lead here are copied for each RETURN and goto, past ${MAX_FLAT_RULES.toLocaleString('en-US')} rules: ${quote(at.cite)}`,
        );
      expanded = true;
      return;
    }
    for (let i = 0; i < cont.length; i++) {
      const frame = cont[i];
      // A caller's rule that decides all of them leaves nothing to the next caller, nor to the policy.
      if (flatten(frame.chain, condition, frame.path, frame.stack, frame.from, cont.slice(i + 1))) return;
    }
    flat.push({ cites: [at.cite], comments: [`${why}: the policy of '${entry}'`], verdict: program.policy, condition });
  };

  /**
   * Writes chain `name`'s rules from `from` on for the packets of `outer`;
   * true when they decide every one of them (the rest of the callers, and
   * the rules after, are then never reached by them).
   */
  const flatten = (name: string, outer: Condition, path: SourceRule[], stack: string[], from: number, cont: Continuation): boolean => {
    const rules = rulesOf(name);
    for (let index = from; index < rules.length; index++) {
      const rule = rules[index];
      if (!rule.translatable || refused.has(rule)) continue;
      const cites = path.map((r) => r.cite);
      const conjunction = conjoin(outer, rule.condition);
      if ('empty' in conjunction) continue;
      if ('inexpressible' in conjunction) {
        report('import-conjunction', rule.cite.line, rule.column, `${conjunction.inexpressible}${via(cites)}: ${quote(rule.cite)}`);
        continue;
      }
      const condition = conjunction.condition;
      const here = [...path, rule];
      const hereCites = here.map((r) => r.cite);
      const target = rule.target;
      const caller = (): Frame => ({ chain: name, from: index + 1, path, stack });
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
        if (covers(condition, outer)) return true;
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
      } else if (target.kind === 'return') {
        // What the RETURN takes leaves this chain; unconditional, nothing reaches the rules after it.
        if (Object.keys(rule.condition).length === 0) return false;
        if (condition.limit || condition.dynamicSet) {
          const what = condition.limit ? 'limit' : 'recent list';
          report(
            'import-conjunction',
            rule.cite.line,
            rule.column,
            `a RETURN with a ${what}: the rules after its callers would each need the ${what}, which takes from one bucket only once${via(cites)}: ${quote(rule.cite)}`,
          );
          continue;
        }
        resume(condition, cont, rule, `what returns at line ${rule.cite.line} and no caller decides gets`);
        if (covers(condition, outer)) return true;
      } else if (target.kind === 'refused' || stack.includes(target.chain)) {
        // Refused before flattening.
      } else if (target.kind === 'jump') {
        if (flatten(target.chain, condition, here, [...stack, target.chain], 0, [caller(), ...cont]) && covers(condition, outer))
          return true;
      } else {
        // A goto'd chain returns to this chain's caller: what falls off it skips the rest of this chain.
        if (!flatten(target.chain, condition, here, [...stack, target.chain], 0, cont))
          resume(condition, cont, rule, `what falls off chain '${target.chain}' (reached by goto) and no caller decides gets`);
        if (covers(condition, outer)) return true;
      }
    }
    return false;
  };
  flatten(entry, {}, [], [entry], 0, []);
  warnLooseTcp(program, report);
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
  const kept = flat.filter((r) => !refused.has(r));
  // One bucket in the source, one per block here: said once a dump.
  const shared =
    interfaces.length > 1 ? kept.find((r) => r.condition.limit && r.condition.iface === undefined && !r.condition.limit.per) : undefined;
  if (shared) {
    const cite = shared.cites.at(-1)!;
    report(
      'import-limit-interfaces',
      cite.line,
      1,
      `a limit without an interface is one bucket for all of them in the source, and one per interface block in the policy (${interfaces.map((n) => `'${n}'`).join(', ')}): together they let up to ${interfaces.length} times the rate through: ${quote(cite)}`,
    );
  }
  return kept;
}

const hasTail = (rule: FlatRule) =>
  rule.audit === true || rule.condition.limit !== undefined || rule.condition.ban !== undefined || rule.condition.dynamicSet !== undefined;

/** Whether xdpfw's reject sends what the source's does, to the packets of `protocol` (undefined: any). */
function xdpfwAnswersAs(answer: string, protocol: number | undefined): boolean {
  if (answer === 'tcp-reset') return protocol === 6;
  return answer === 'admin-prohibited' && protocol !== undefined && protocol !== 6;
}

/**
 * A TCP segment without SYN that no connection knows is NEW to netfilter
 * by default (nf_conntrack_tcp_loose=1, which picks up connections made
 * before it started) and `invalid` to xdpfw: a dump that tells NEW from
 * INVALID hears of it, once, at its first such rule.
 */
function warnLooseTcp(program: SourceProgram, report: Report): void {
  for (const rules of program.chains.values()) {
    const rule = rules.find(
      (r) => r.translatable && r.condition.ctStates && r.condition.ctStates.includes('new') !== r.condition.ctStates.includes('invalid'),
    );
    if (!rule) continue;
    report(
      'import-ct-loose',
      rule.cite.line,
      rule.column,
      `a TCP segment without SYN that no connection knows is NEW to netfilter (nf_conntrack_tcp_loose=1, the default) and 'invalid' to xdpfw: after the switch, such packets of connections opened before it are judged as invalid: ${quote(rule.cite)}`,
    );
    return;
  }
}

/**
 * Refuses, in every chain the entry reaches (so that all refusals come out
 * in one run, also of rules flattening never reaches), the RETURNs and
 * loops first-match rules cannot say; returns the rules refused.
 */
function refuseStructure(program: SourceProgram, report: Report): Set<SourceRule> {
  const refused = new Set<SourceRule>();
  for (const [name, rules] of program.chains) {
    for (const rule of rules) {
      const target = rule.target;
      if ((target.kind === 'jump' || target.kind === 'goto') && reachableChains(program, target.chain).has(name)) {
        refused.add(rule);
        report(
          'import-loop',
          rule.cite.line,
          rule.column,
          `chain '${target.chain}' leads back to chain '${name}', a loop: ${quote(rule.cite)}`,
        );
      }
    }
  }
  return refused;
}

/**
 * Whether a rule's conjoined condition holds for every packet of `outer`
 * (it added nothing): what reaches it is all decided there. A limit or a
 * dynamic set holds for some packets only.
 */
function covers(condition: Condition, outer: Condition): boolean {
  if (condition.limit || condition.dynamicSet) return false;
  return canonical(condition) === canonical(outer);
}

const canonical = (c: Condition): string => `${c.iface ?? ''}\n${ruleText('allow', c)}`;

/** The chains `from` reaches by jumps and gotos, itself included. */
function reachableChains(program: Pick<SourceProgram, 'chains'>, from: string): Set<string> {
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
