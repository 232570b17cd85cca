/**
 * The stateful statements of one nft rule, read in order beside its
 * matches (nft-rule.ts): what nft-stateful.ts makes of each, and the order
 * and company they need to mean in xdpfw what they mean in nft: last after
 * the matches, the ban after the limit, one limit, and one verdict for
 * them to go with (nft keeps one bucket a rule, so neither a verdict map
 * nor a set that makes several xdpfw rules of it).
 */
import type { Condition } from './iptables-conditions.js';
import type { NftExpr } from './nft-json.js';
import type { Refusal, SetLookup } from './nft-match.js';
import { renderStatement } from './nft-render.js';
import { banStatement, meterLimit, nftLimit, type StatefulPart } from './nft-stateful.js';
import type { SourceTarget } from './program.js';

/** Conjoins each alternative with each condition of a list (nft-rule.ts's conjoinAll). */
type ConjoinAll = (before: Condition[], match: Condition[], refusals: Refusal[]) => Condition[];

export class StatefulStatements {
  /** The first stateful statement, as nft writes it; matches after it are refused. */
  private first: string | undefined;
  private banShown: string | undefined;
  private readonly part: StatefulPart = {};

  constructor(
    private readonly lookup: SetLookup,
    private readonly refusals: Refusal[],
  ) {}

  /** A match: refused after a statement that keeps state. */
  before(statement: NftExpr): void {
    if (this.first === undefined) return;
    const what = this.banShown !== undefined ? 'adds the address' : 'takes a token';
    this.refusals.push({
      code: this.banShown !== undefined ? 'import-nft-set' : 'import-nft-limit',
      message: `'${renderStatement(statement)}' comes after '${this.first}': nft ${what} before testing it, xdpfw only once every match held; move '${this.first}' last`,
    });
  }

  /** `limit`, `meter`, or `add`/`update` of a named set. */
  read(kind: 'limit' | 'meter' | 'set', body: Record<string, NftExpr>, statement: NftExpr): void {
    const text = renderStatement(statement);
    const shown = `'${text}'`;
    this.first ??= text;
    const refuse = (code: Refusal['code'], message: string): void => {
      this.refusals.push({ code, message });
    };
    if (kind === 'set' && !Array.isArray(body.stmt)) {
      if (this.part.ban !== undefined) return refuse('import-nft-set', `${shown}: a rule bans into one set`);
      const set = typeof body.set === 'string' ? this.lookup(body.set.replace(/^@/, '')) : undefined;
      const ban = banStatement(body, set, this.part.limit, shown);
      if ('refusal' in ban) return refuse(ban.refusal.code, ban.refusal.message);
      Object.assign(this.part, ban.value);
      this.banShown = text;
      return;
    }
    if (this.banShown !== undefined) {
      return refuse(
        'import-nft-set',
        `'${this.banShown}' comes before ${shown}: nft bans every packet that reaches it, xdpfw only those that pass the limit; move the limit first`,
      );
    }
    if (this.part.limit) return refuse('import-nft-limit', `${shown}: a rule has at most one limit`);
    const limit =
      kind === 'limit'
        ? nftLimit(body, shown)
        : kind === 'meter'
          ? meterLimit(body.key, [body.stmt], shown)
          : meterLimit(body.elem, body.stmt as NftExpr[], shown);
    if ('refusal' in limit) return refuse(limit.refusal.code, limit.refusal.message);
    this.part.limit = limit.value;
    if (limit.value.per) this.part.family = limit.value.per.family;
  }

  /** The rule's alternatives with the limit and ban, when its decisions let them mean what they mean in nft. */
  apply(alternatives: Condition[], decisions: { key: Condition; target: SourceTarget }[], conjoinAll: ConjoinAll): Condition[] {
    const { limit, ban } = this.part;
    if (!limit && ban === undefined) return alternatives;
    const what = `'${this.first}'`;
    const [decision] = decisions;
    const refuse = (message: string) => {
      this.refusals.push({ code: limit ? 'import-nft-limit' : 'import-nft-set', message: `${what}: ${message}` });
      return alternatives;
    };
    if (!decision) return refuse('the rule has no verdict for it to go with');
    if (decisions.length > 1 || Object.keys(decision.key).length > 0) {
      return refuse('a verdict map makes a rule an element, each with its own bucket or ban, where nft keeps one');
    }
    if (ban !== undefined && decision.target.kind !== 'verdict')
      return refuse(`an xdpfw ban goes with a rule's verdict, not a ${decision.target.kind}`);
    if (limit && alternatives.length > 1) {
      return refuse(`the rule's sets make ${alternatives.length} xdpfw rules of it, each with its own bucket, where nft keeps one`);
    }
    return conjoinAll(alternatives, [this.part], this.refusals);
  }
}
