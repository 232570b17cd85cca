/**
 * Reads the text of `iptables-save` or `ip6tables-save` into tables, chains
 * and structured rules, line by line as iptables-restore does
 * (xtables_restore_parse_line() in iptables/xtables-restore.c): a line whose
 * first character is `#` is a comment, `*NAME` opens a table, `:CHAIN POLICY
 * [p:b]` declares a chain, `COMMIT` closes the table, and any other line is a
 * rule, optionally prefixed by its `[packets:bytes]` counters
 * (tokenize_rule_counters() in iptables/xshared.c). Every malformed line is
 * reported, all in one pass. Pure: text in, data and diagnostics out.
 *
 * Two leniencies, both harmless to what a dump means: a line of only
 * whitespace is skipped like an empty one, and a `\r` before the line end
 * (a dump saved on Windows) is dropped.
 */
import type { ImportDiagnostic } from './codes.js';
import { parseRuleArguments, type ParsedRule } from './iptables-rule.js';
import { tokenizeLine } from './iptables-tokens.js';

export type { Negatable, RuleOption, MatchBlock, RuleTarget, ParsedRule } from './iptables-rule.js';

export interface Counters {
  packets: bigint;
  bytes: bigint;
}

export interface Chain {
  name: string;
  builtin: boolean;
  /** `ACCEPT` or `DROP` for a built-in chain; `-` for a user chain. */
  policy: string;
  counters?: Counters;
  line: number;
}

export interface Rule {
  chain: string;
  line: number;
  /** The line as written, for citing it. */
  text: string;
  /** The `[packets:bytes]` prefix, or `-c P B` inside the rule. */
  counters?: Counters;
  rule: Omit<ParsedRule, 'counters'>;
}

export interface Table {
  name: TableName;
  line: number;
  chains: Chain[];
  rules: Rule[];
}

export interface IptablesSave {
  tables: Table[];
  errors: ImportDiagnostic[];
}

/** The built-in chains of each table, as the kernel registers them for IPv4 and IPv6 alike. */
const BUILTIN_CHAINS = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  raw: ['PREROUTING', 'OUTPUT'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
} as const;

export type TableName = keyof typeof BUILTIN_CHAINS;

const isTableName = (name: string): name is TableName => Object.hasOwn(BUILTIN_CHAINS, name);

const COUNTERS = /^\[(\d+):(\d+)\]$/;

export function parseIptablesSave(text: string): IptablesSave {
  const tables: Table[] = [];
  const errors: ImportDiagnostic[] = [];
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.at(-1) === '') lines.pop();
  let table: Table | undefined;

  const fail = (line: number, column: number, what: string) =>
    errors.push({ line, column, code: 'import-syntax', message: `line ${line}: ${what}` });

  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '' || raw.startsWith('#')) return;
    const lead = raw.length - raw.trimStart().length;

    if (raw.trim() === 'COMMIT') {
      if (!table) fail(line, lead + 1, `COMMIT outside a table (expected a '*filter' or other table line before it)`);
      table = undefined;
      return;
    }
    if (raw.startsWith('*')) {
      if (table) fail(line, 1, `'${raw.trim()}' while table '${table.name}' of line ${table.line} is open (expected COMMIT first)`);
      const name = raw.slice(1).trim().split(/[ \t]/)[0];
      if (!isTableName(name)) {
        fail(line, 2, `unknown table '${name}' (expected filter, nat, mangle, raw or security)`);
        table = undefined;
        return;
      }
      table = { name, line, chains: [], rules: [] };
      tables.push(table);
      return;
    }
    if (!table) {
      fail(line, lead + 1, `'${raw.trim()}' outside a table (expected a '*filter' or other table line first)`);
      return;
    }
    if (raw.startsWith(':')) readChain(raw, line, table, fail);
    else readRule(raw, line, table, fail);
  });

  if (table) {
    const end = lines.length + 1;
    fail(end, 1, `end of input while table '${table.name}' of line ${table.line} is open (expected COMMIT)`);
  }
  return { tables, errors };
}

type Fail = (line: number, column: number, what: string) => void;

function readChain(raw: string, line: number, table: Table, fail: Fail): void {
  const { tokens } = tokenizeLine(raw, 1);
  const [name, policy, counters, ...extra] = tokens;
  if (!name) return fail(line, 2, `a chain declaration without a name (expected ':CHAIN POLICY [packets:bytes]')`);
  const builtins: readonly string[] = BUILTIN_CHAINS[table.name];
  const builtin = builtins.includes(name.text);
  const chain: Chain = { name: name.text, builtin, policy: policy?.text ?? '-', line };
  if (!policy) {
    fail(line, raw.length + 1, `chain '${name.text}' has no policy (expected ACCEPT or DROP for a built-in chain, '-' for a user chain)`);
  } else if (builtin && policy.text !== 'ACCEPT' && policy.text !== 'DROP') {
    fail(line, policy.column, `built-in chain '${name.text}' has policy '${policy.text}' (expected ACCEPT or DROP)`);
  } else if (!builtin && policy.text !== '-') {
    fail(line, policy.column, `user chain '${name.text}' has policy '${policy.text}' (expected '-': only built-in chains have one)`);
  }
  if (counters) {
    const parsed = parseCounters(counters.text);
    if (parsed) chain.counters = parsed;
    else fail(line, counters.column, `chain '${name.text}': '${counters.text}' is not a counter (expected [packets:bytes])`);
  }
  if (extra.length > 0) fail(line, extra[0].column, `chain '${name.text}': unexpected '${extra[0].text}' after the counters`);
  if (table.chains.some((c) => c.name === name.text)) {
    fail(line, name.column, `chain '${name.text}' is declared twice in table '${table.name}'`);
    return;
  }
  table.chains.push(chain);
}

function readRule(raw: string, line: number, table: Table, fail: Fail): void {
  let from = 0;
  let counters: Counters | undefined;
  if (raw.startsWith('[')) {
    const end = raw.indexOf(']');
    const parsed = end > 0 ? parseCounters(raw.slice(0, end + 1)) : undefined;
    if (!parsed) return fail(line, 1, `a rule's counters must be '[packets:bytes]' before -A`);
    counters = parsed;
    from = end + 1;
  }
  const { tokens, unterminatedQuoteAt } = tokenizeLine(raw, from);
  const [command, chainToken] = tokens;
  if (!command || (command.text !== '-A' && command.text !== '--append') || command.quoted) {
    return fail(line, command?.column ?? from + 1, `'${command?.text ?? ''}' (expected '-A CHAIN', the only command iptables-save writes)`);
  }
  const chain = chainToken?.text;
  const where = `${command.text} ${chain ?? ''}`.trimEnd();
  const ruleFail = (column: number, what: string) => fail(line, column, `${where}: ${what}`);
  if (chain === undefined) return ruleFail(command.column, `'${command.text}' needs a value (the chain)`);
  if (!table.chains.some((c) => c.name === chain)) {
    ruleFail(chainToken.column, `chain '${chain}' is not declared in table '${table.name}' (expected a ':${chain}' line before the rule)`);
  }
  if (unterminatedQuoteAt !== undefined) ruleFail(unterminatedQuoteAt, `unterminated quote (expected a closing '"')`);
  const rule = parseRuleArguments(tokens.slice(2), ruleFail);
  if (rule.counters && counters) ruleFail(command.column, `counters both as '[p:b]' and as '-c' (expected one)`);
  const { counters: inline, ...parsed } = rule;
  counters ??= inline;
  table.rules.push({ chain, line, text: raw, ...(counters ? { counters } : {}), rule: parsed });
}

function parseCounters(text: string): Counters | undefined {
  const m = COUNTERS.exec(text);
  return m ? { packets: BigInt(m[1]), bytes: BigInt(m[2]) } : undefined;
}
