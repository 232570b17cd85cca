/**
 * One `-A CHAIN …` line's arguments → a structured rule, following how
 * iptables' do_parse() (iptables/xshared.c) reads them: `!` before an option
 * negates it, and so does the legacy `-s ! 10.0.0.0/8` (an option followed by
 * `!` and then its value); `-m NAME` starts a match block whose options
 * follow it; an option no loaded module knows makes iptables load the match
 * of the rule's `-p` protocol (`-p tcp --dport 22`).
 */
import { MATCH_OPTIONS, TARGET_OPTIONS, implicitProtocolModule, type OptionArity } from './iptables-extensions.js';
import type { Token } from './iptables-tokens.js';

/** A value that may be negated, where it was written (1-based column). */
export interface Negatable {
  value: string;
  negated: boolean;
  column: number;
}

export interface RuleOption {
  /** As written, with its dashes: `--dport`, `--destination-port`. */
  option: string;
  values: string[];
  negated: boolean;
  column: number;
}

export interface MatchBlock {
  module: string;
  /** Loaded by iptables for the rule's protocol, not by a `-m` of its own. */
  implicit: boolean;
  column: number;
  options: RuleOption[];
}

export interface RuleTarget {
  /** `-j NAME` jumps (a target or a chain that returns); `-g CHAIN` goes to a chain without returning. */
  kind: 'jump' | 'goto';
  name: string;
  column: number;
  options: RuleOption[];
}

export interface ParsedRule {
  inInterface?: Negatable;
  outInterface?: Negatable;
  source?: Negatable;
  destination?: Negatable;
  protocol?: Negatable;
  /** `-f`: only second and further fragments. */
  fragment?: { negated: boolean; column: number };
  matches: MatchBlock[];
  target?: RuleTarget;
  /** `-c PACKETS BYTES` written inside the rule instead of the `[p:b]` prefix. */
  counters?: { packets: bigint; bytes: bigint };
}

type Field = 'inInterface' | 'outInterface' | 'source' | 'destination' | 'protocol';
type TopLevel = Field | 'fragment' | 'match' | 'jump' | 'goto' | 'counters' | 'append';

const TOP_LEVEL: Readonly<Record<string, TopLevel>> = {
  '-i': 'inInterface',
  '--in-interface': 'inInterface',
  '-o': 'outInterface',
  '--out-interface': 'outInterface',
  '-s': 'source',
  '--source': 'source',
  '--src': 'source',
  '-d': 'destination',
  '--destination': 'destination',
  '--dst': 'destination',
  '-p': 'protocol',
  '--protocol': 'protocol',
  '-f': 'fragment',
  '--fragment': 'fragment',
  '-m': 'match',
  '--match': 'match',
  '-j': 'jump',
  '--jump': 'jump',
  '-g': 'goto',
  '--goto': 'goto',
  '-c': 'counters',
  '--set-counters': 'counters',
  '-A': 'append',
  '--append': 'append',
};

/** An unquoted `-x` or `--xyz`: a negative number or a lone `-` is a value. */
function isOption(token: Token): boolean {
  return !token.quoted && /^-(?:[A-Za-z]|-[A-Za-z0-9])/.test(token.text);
}

function isBang(token: Token | undefined): boolean {
  return token !== undefined && !token.quoted && token.text === '!';
}

/** `fail(column, what)` reports one problem of this rule; parsing goes on to find the others. */
export type RuleProblem = (column: number, what: string) => void;

/** Parses the arguments after `-A CHAIN`. */
export function parseRuleArguments(tokens: readonly Token[], fail: RuleProblem): ParsedRule {
  const rule: ParsedRule = { matches: [] };
  let current: MatchBlock | RuleTarget | undefined;
  let pendingBang: Token | undefined;
  let i = 0;

  const isValue = (token: Token | undefined) => token !== undefined && !isOption(token) && !isBang(token);

  /** The `!` of `--opt ! value`, the legacy placement; both placements at once is `!` twice. */
  const legacyBang = (negated: boolean, name: Token): boolean => {
    if (!isBang(tokens[i]) || !isValue(tokens[i + 1])) return negated;
    if (negated) fail(tokens[i].column, `'!' twice before '${name.text}' (expected one '!', before the option or its value)`);
    i++;
    return true;
  };

  /** Exactly `count` values, or a problem naming how many the option needs. */
  const takeValues = (name: Token, count: number): string[] | undefined => {
    const values: string[] = [];
    while (values.length < count && isValue(tokens[i])) values.push(tokens[i++].text);
    if (values.length === count) return values;
    const need = count === 1 ? 'a value' : `${count} values`;
    fail(tokens[i]?.column ?? name.column, `'${name.text}' needs ${need}`);
    return undefined;
  };

  const takeGreedy = (): string[] => {
    const values: string[] = [];
    while (isValue(tokens[i])) values.push(tokens[i++].text);
    return values;
  };

  while (i < tokens.length) {
    const token = tokens[i++];
    if (isBang(token)) {
      if (pendingBang) fail(token.column, `'!' twice (expected an option after the first '!')`);
      pendingBang = token;
      continue;
    }
    if (!isOption(token)) {
      fail(token.column, `unexpected '${token.text}' (expected an option such as -p, -m or -j)`);
      continue;
    }
    const negatedBefore = pendingBang !== undefined;
    pendingBang = undefined;
    const kind = TOP_LEVEL[token.text];

    if (kind === 'append') {
      fail(token.column, `a second '${token.text}' (expected one command a line)`);
      takeValues(token, 1);
    } else if (kind === 'match' || kind === 'jump' || kind === 'goto') {
      if (negatedBefore) fail(token.column, `'!' cannot negate '${token.text}' (expected '!' before a match's option)`);
      const name = takeValues(token, 1)?.[0];
      if (name === undefined) continue;
      if (kind === 'match') {
        current = { module: name, implicit: false, column: token.column, options: [] };
        rule.matches.push(current);
      } else {
        if (rule.target) fail(token.column, `a second target '${token.text} ${name}' (expected one -j or -g)`);
        current = rule.target = { kind, name, column: token.column, options: [] };
      }
    } else if (kind === 'fragment') {
      if (rule.fragment) fail(token.column, `'${token.text}' twice`);
      rule.fragment = { negated: negatedBefore, column: token.column };
    } else if (kind === 'counters') {
      const values = takeValues(token, 2);
      if (values && values.every((v) => /^\d+$/.test(v))) rule.counters = { packets: BigInt(values[0]), bytes: BigInt(values[1]) };
      else if (values) fail(token.column, `'${token.text}' needs two decimal counters (packets and bytes)`);
    } else if (kind !== undefined) {
      const negated = legacyBang(negatedBefore, token);
      const value = takeValues(token, 1)?.[0];
      if (value === undefined) continue;
      if (rule[kind]) fail(token.column, `'${token.text}' twice (expected it once a rule)`);
      rule[kind] = { value, negated, column: token.column };
    } else {
      const owner = ownerOf(token, rule, current);
      if (!owner) {
        const hint = rule.protocol ? ` of -p ${rule.protocol.value}` : '; a match option needs its -m NAME or -p PROTOCOL before it';
        fail(token.column, `unknown option '${token.text}' (expected -i, -o, -s, -d, -p, -f, -m, -j, -g or an option${hint})`);
        takeGreedy();
        continue;
      }
      const negated = legacyBang(negatedBefore, token);
      const arity = optionsOf(owner)?.[token.text.replace(/^--?/, '')];
      const values = arity === undefined ? takeGreedy() : takeValues(token, arity);
      if (values) owner.options.push({ option: token.text, values, negated, column: token.column });
    }
  }
  if (pendingBang) fail(pendingBang.column, `'!' at the end of the rule (expected an option after it)`);
  return rule;
}

function optionsOf(block: MatchBlock | RuleTarget): OptionArity | undefined {
  return 'module' in block ? MATCH_OPTIONS[block.module] : TARGET_OPTIONS[block.name];
}

function knows(block: MatchBlock | RuleTarget, option: string): boolean {
  const table = optionsOf(block);
  return table !== undefined && Object.hasOwn(table, option.replace(/^--?/, ''));
}

/**
 * The block an option belongs to: like getopt over the merged option tables,
 * any loaded module that knows it, the current block first; else the
 * protocol's implicit match, loaded now; else the current block, since an
 * option this reader does not list (a newer or rarer one) is kept verbatim.
 */
function ownerOf(token: Token, rule: ParsedRule, current: MatchBlock | RuleTarget | undefined): MatchBlock | RuleTarget | undefined {
  if (current && knows(current, token.text)) return current;
  const loaded = [...rule.matches, ...(rule.target ? [rule.target] : [])];
  const known = loaded.find((block) => knows(block, token.text));
  if (known) return known;
  const implicit = rule.protocol ? implicitProtocolModule(rule.protocol.value) : undefined;
  if (
    implicit &&
    !rule.matches.some((m) => m.module === implicit) &&
    Object.hasOwn(MATCH_OPTIONS[implicit], token.text.replace(/^--?/, ''))
  ) {
    const block: MatchBlock = { module: implicit, implicit: true, column: token.column, options: [] };
    rule.matches.push(block);
    return block;
  }
  return current;
}
