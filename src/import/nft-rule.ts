/**
 * One nft rule → the source rules it means: its matches conjoined, in
 * order, into the conditions a packet can meet them by (one each, unless a
 * set on a field xdpfw holds once asks for several), then its verdict. A
 * verdict map (`ct state vmap { established : accept, invalid : drop }`)
 * gives one rule an element, the element's key a match of the map's key;
 * its keys are disjoint (nft refuses overlapping ones), so the order of
 * these rules does not change what first-match decides. `counter` is
 * ignored; `log` alone is the LOG target, `log` before a verdict gives the
 * verdict `log`, before a jump a LOG target ahead of it. `limit`, meters
 * and set updates are read by nft-rule-stateful.ts. A statement xdpfw
 * cannot carry refuses the rule.
 */
import type { ImportCode } from './codes.js';
import { conjoin } from './iptables-conjoin.js';
import type { Condition } from './iptables-conditions.js';
import type { NftExpr, NftRule } from './nft-json.js';
import { elementsOf, matchAlternatives, type Refusal, type SetLookup } from './nft-match.js';
import { renderStatement, renderValue } from './nft-render.js';
import { StatefulStatements } from './nft-rule-stateful.js';
import type { Citation, LogStatement, RejectAnswer, SourceRule, SourceTarget } from './program.js';

/** Reports a diagnostic at the rule being read; the message gets the rule's citation appended. */
export type RuleReport = (code: ImportCode, message: string) => void;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A verdict the rule gives, to the packets whose fields meet `key` besides the rule's matches (a verdict map's element). */
export interface Decision {
  key: Condition;
  target: SourceTarget;
}

/** More alternatives than this from one rule's sets is refused rather than written out. */
const MAX_ALTERNATIVES = 64;

/** `reject`, `reject with tcp reset`, `reject with icmpx type admin-prohibited`: the answer, in the back end's names. */
function nftRejectAnswer(statement: Record<string, NftExpr>): RejectAnswer {
  const body = statement.reject;
  const type = isObject(body) ? body.type : undefined;
  const expr = isObject(body) ? body.expr : undefined;
  if (type === undefined) return { answer: 'port-unreachable', shown: `nft's default 'reject' (port unreachable)` };
  const shown = `'${renderStatement(statement)}'`;
  if (type === 'tcp reset') return { answer: 'tcp-reset', shown };
  return { answer: expr === 'admin-prohibited' ? 'admin-prohibited' : String(expr ?? type), shown };
}

/** What deciding statement a rule ends with: a target, `continue` (none), or not a verdict at all. */
export function verdictOf(statement: NftExpr): SourceTarget | 'continue' | undefined {
  if (!isObject(statement)) return undefined;
  const [kind] = Object.keys(statement);
  const body = statement[kind];
  if (kind === 'accept') return { kind: 'verdict', verdict: 'allow' };
  if (kind === 'drop') return { kind: 'verdict', verdict: 'drop' };
  if (kind === 'reject') return { kind: 'verdict', verdict: 'reject', reject: nftRejectAnswer(statement) };
  if (kind === 'return') return { kind: 'return' };
  if (kind === 'continue') return 'continue';
  if ((kind === 'jump' || kind === 'goto') && isObject(body) && typeof body.target === 'string') return { kind, chain: body.target };
  return undefined;
}

export function nftSourceRules(rule: NftRule, cite: Citation, lookup: SetLookup, report: RuleReport): SourceRule[] {
  let alternatives: Condition[] = [{}];
  const decisions: Decision[] = [];
  const refusals: Refusal[] = [];
  let logged: LogStatement | undefined;
  const stateful = new StatefulStatements(lookup, refusals);

  for (const statement of rule.expr) {
    const [kind] = isObject(statement) ? Object.keys(statement) : [''];
    const body = isObject(statement) ? statement[kind] : undefined;
    const verdict = verdictOf(statement);
    if (verdict === 'continue' || kind === 'counter') continue;
    if (kind === 'match') stateful.before(statement);
    if (verdict) {
      decisions.push({ key: {}, target: verdict });
    } else if ((kind === 'limit' || kind === 'meter' || kind === 'set') && isObject(body)) {
      stateful.read(kind, body, statement);
    } else if (kind === 'match' && isObject(body)) {
      const matched = matchAlternatives(String(body.op), body.left, body.right, lookup);
      if ('refusal' in matched) refusals.push(matched.refusal);
      else alternatives = conjoinAll(alternatives, matched.alternatives, refusals);
    } else if (kind === 'vmap' && isObject(body)) {
      decisions.push(...verdictMap(body.key, body.data, lookup, refusals));
    } else if (kind === 'log') {
      const prefix = isObject(body) && typeof body.prefix === 'string' ? body.prefix : undefined;
      logged = { name: 'log', ...(prefix !== undefined ? { prefix } : {}) };
    } else if (kind === 'xt') {
      const name = isObject(body) ? ` ${String(body.type ?? '')} ${String(body.name ?? '')}`.trimEnd() : '';
      refusals.push({
        code: 'import-unsupported',
        message: `'xt${name}' is an iptables extension kept by iptables-nft, which the nft JSON does not describe; translate the output of iptables-save with 'xdpfw import iptables' instead`,
      });
    } else {
      refusals.push({ code: 'import-unsupported', message: `the statement '${renderStatement(statement)}' is not translated` });
    }
    if (alternatives.length > MAX_ALTERNATIVES) {
      refusals.push({ code: 'import-unsupported', message: `its sets give more than ${MAX_ALTERNATIVES} xdpfw rules` });
      break;
    }
  }
  alternatives = stateful.apply(alternatives, decisions, conjoinAll);
  for (const r of refusals) report(r.code, r.message);
  const comments = rule.comment !== undefined ? [rule.comment] : [];
  const source = (condition: Condition, target: SourceTarget, translatable: boolean): SourceRule => ({
    cite,
    column: 1,
    condition,
    comments,
    target,
    translatable,
  });
  if (refusals.length > 0) return [source({}, decisions[0]?.target ?? { kind: 'return' }, false)];
  if (decisions.length === 0 && !logged) return [];
  const targets = logged ? withLog(decisions, logged) : decisions;

  const out: SourceRule[] = [];
  let loopback = false;
  for (const condition of alternatives) {
    for (const decision of targets) {
      // The key first: the rule's limit and ban are the inner rule's, as conjoin() reads them.
      const both = conjoin(decision.key, condition);
      if ('empty' in both) continue;
      if ('inexpressible' in both) {
        report('import-conjunction', both.inexpressible);
        return [source({}, decision.target, false)];
      }
      const c = both.condition;
      if (c.iface === 'lo') {
        loopback = true;
        continue;
      }
      if ((c.sport || c.dport) && c.protocol !== 6 && c.protocol !== 17) {
        const what =
          c.protocol === undefined ? "'th' ports without 'meta l4proto tcp' or 'udp' before them" : `ports of protocol ${c.protocol}`;
        report('import-unsupported', `${what} are not translated (xdpfw matches TCP and UDP ports)`);
        return [source({}, decision.target, false)];
      }
      out.push(source(c, decision.target, true));
    }
  }
  if (loopback) report('import-loopback', `iifname "lo": left out, XDP never sees loopback traffic`);
  return out;
}

/**
 * A rule's decisions with the `log` before them: one verdict logs what it
 * decides; otherwise (alone, before a jump, before a verdict map, whose
 * keys need not cover what the log records) a LOG target comes first.
 */
function withLog(decisions: Decision[], log: LogStatement): Decision[] {
  const [only] = decisions;
  if (decisions.length === 1 && only.target.kind === 'verdict' && Object.keys(only.key).length === 0) {
    return [{ key: only.key, target: { ...only.target, log } }];
  }
  return [{ key: {}, target: { kind: 'log', ...log } }, ...decisions];
}

/** Each alternative so far with each of a match's, those no packet meets left out. */
export function conjoinAll(before: Condition[], match: Condition[], refusals: Refusal[]): Condition[] {
  const out: Condition[] = [];
  for (const a of before) {
    for (const b of match) {
      const both = conjoin(a, b);
      if ('condition' in both) out.push(both.condition);
      else if ('inexpressible' in both) refusals.push({ code: 'import-conjunction', message: both.inexpressible });
    }
  }
  return out;
}

/** `KEY vmap { K : VERDICT, … }` or `vmap @name`: a decision an element, its key a match of KEY. */
function verdictMap(key: NftExpr, data: NftExpr, lookup: SetLookup, refusals: Refusal[]): Decision[] {
  if (typeof data === 'string' && data.startsWith('@') && lookup(data.slice(1))?.map !== 'verdict') {
    refusals.push({ code: 'import-unsupported', message: `${data} is not a verdict map of the ruleset's table` });
    return [];
  }
  const elements = elementsOf(data, lookup);
  if ('refusal' in elements) {
    refusals.push(elements.refusal);
    return [];
  }
  const out: Decision[] = [];
  for (const element of elements.value) {
    const [value, verdict] = Array.isArray(element) && element.length === 2 ? element : [element, undefined];
    const target = verdictOf(verdict);
    if (!target || target === 'continue') {
      refusals.push({ code: 'import-unsupported', message: `the map element '${renderValue(element)}' has no verdict xdpfw translates` });
      continue;
    }
    const matched = matchAlternatives('==', key, value, lookup);
    if ('refusal' in matched) refusals.push(matched.refusal);
    else out.push(...matched.alternatives.map((condition) => ({ key: condition, target })));
  }
  return out;
}
