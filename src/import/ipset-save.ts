/**
 * Reads the text of `ipset save` (ipset's restore format, as
 * ipset/lib/session.c writes it): `create NAME TYPE [OPTION [VALUE]]…`
 * declares a set, `add NAME ENTRY [OPTION [VALUE]]…` gives it an entry.
 * Arguments are split as iptables-restore splits a rule (a `comment "…"`
 * keeps its spaces). Every malformed line is reported, all in one pass,
 * located like the iptables reader's; what a set's type and entries mean
 * is for the translator (iptables-sets.ts) to decide. Pure: text in, data
 * and diagnostics out.
 */
import type { ImportDiagnostic } from './codes.js';
import { tokenizeLine, type Token } from './iptables-tokens.js';

/** An option's value; `true` for one that takes none (`counters`, `nomatch`). */
export type IpsetOptions = ReadonlyMap<string, string | true>;

export interface IpsetEntry {
  text: string;
  line: number;
  column: number;
  options: IpsetOptions;
}

export interface IpsetSet {
  name: string;
  /** `hash:ip`, `hash:net`, `list:set`, …, as written. */
  type: string;
  line: number;
  options: IpsetOptions;
  entries: IpsetEntry[];
}

export interface IpsetSave {
  file: string;
  sets: ReadonlyMap<string, IpsetSet>;
  errors: ImportDiagnostic[];
}

/** Options of `create` and `add` that take no value (ipset's IPSET_OPT flags); every other option takes one. */
const FLAG_OPTIONS = new Set(['counters', 'comment', 'skbinfo', 'forceadd', 'nomatch', 'before', 'after']);

export function parseIpsetSave(text: string, file: string): IpsetSave {
  const sets = new Map<string, IpsetSet>();
  const errors: ImportDiagnostic[] = [];
  const error = (line: number, column: number, message: string) =>
    errors.push({ line, column, code: 'import-ipset-syntax', message: `line ${line}: ${message}`, file });

  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const content = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (content.trim() === '' || content.trimStart().startsWith('#')) return;
    const { tokens, unterminatedQuoteAt } = tokenizeLine(content);
    if (unterminatedQuoteAt !== undefined) return error(line, unterminatedQuoteAt, 'a quote is not closed');
    const [command, name, third, ...rest] = tokens;
    const end = content.length + 1;
    if (command.text !== 'create' && command.text !== 'add') {
      return error(line, command.column, `'${command.text}': expected 'create NAME TYPE …' or 'add NAME ENTRY …'`);
    }
    const what = command.text === 'create' ? 'a type (hash:ip, hash:net, …)' : 'an entry';
    if (!name) return error(line, end, `'${command.text}' needs a set name`);
    if (!third) return error(line, end, `'${command.text} ${name.text}' needs ${what}`);
    const options = readOptions(rest, (column, message) => error(line, column, message));
    if (!options) return;
    if (command.text === 'create') {
      const before = sets.get(name.text);
      if (before) return error(line, name.column, `set '${name.text}' is created twice (first on line ${before.line})`);
      sets.set(name.text, { name: name.text, type: third.text, line, options, entries: [] });
      return;
    }
    const set = sets.get(name.text);
    if (!set) return error(line, name.column, `'add ${name.text}': no 'create ${name.text}' before it`);
    set.entries.push({ text: third.text, line, column: third.column, options });
  });
  return { file, sets, errors };
}

function readOptions(tokens: Token[], error: (column: number, message: string) => void): IpsetOptions | undefined {
  const options = new Map<string, string | true>();
  for (let i = 0; i < tokens.length; i++) {
    const key = tokens[i];
    if (FLAG_OPTIONS.has(key.text) && !(key.text === 'comment' && tokens[i + 1]?.quoted)) {
      options.set(key.text, true);
      continue;
    }
    const value = tokens[i + 1];
    if (!value) {
      error(key.column, `option '${key.text}' needs a value`);
      return undefined;
    }
    options.set(key.text, value.text);
    i++;
  }
  return options;
}
