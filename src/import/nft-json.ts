/**
 * Reads the output of `nft -j list ruleset` (the schema of
 * libnftables-json(5): `{"nftables": [{"metainfo": …}, {"table": …},
 * {"chain": …}, {"rule": …}, {"set": …}, {"map": …}, …]}`) into tables,
 * chains, rules and named sets, each with the line its object starts on
 * (all 1 when the JSON is on one line), since JSON keeps no other place to
 * point a diagnostic at. Objects of other kinds (counters, quotas,
 * flowtables, ct helpers) are skipped: a rule that uses them is refused
 * where it is translated. Pure: text in, data and diagnostics out.
 */
import type { ImportDiagnostic } from './codes.js';

/** A JSON expression or statement of a rule, as libnftables writes it. */
export type NftExpr = unknown;

export type NftFamily = 'ip' | 'ip6' | 'inet' | 'arp' | 'bridge' | 'netdev';

export interface NftChain {
  family: NftFamily;
  table: string;
  name: string;
  handle: number;
  /** A base chain's type, hook, priority and policy; a regular chain has none. */
  type?: string;
  hook?: string;
  prio?: number;
  policy?: 'accept' | 'drop';
  line: number;
}

export interface NftRule {
  family: NftFamily;
  table: string;
  chain: string;
  handle: number;
  expr: NftExpr[];
  comment?: string;
  line: number;
}

/** A named set, or a named map (`map` is what its keys map to: `verdict` for a verdict map). */
export interface NftSet {
  family: NftFamily;
  table: string;
  name: string;
  /** One type name, or several for a concatenation. */
  type: string | string[];
  flags: string[];
  map?: string;
  /** The default lifetime of its elements, in seconds (`timeout 10m`); absent: they stay until deleted. */
  timeout?: number;
  /** Elements as written (a value, `{prefix}`, `{range}`), or `[key, data]` pairs of a map; `{"elem": {"val": …}}` wrappers removed. */
  elem: NftExpr[];
  line: number;
}

export interface NftRuleset {
  chains: NftChain[];
  rules: NftRule[];
  sets: NftSet[];
}

export interface NftJsonRead {
  ruleset?: NftRuleset;
  errors: ImportDiagnostic[];
}

const FAMILIES = new Set(['ip', 'ip6', 'inet', 'arp', 'bridge', 'netdev']);

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export function parseNftJson(text: string): NftJsonRead {
  const errors: ImportDiagnostic[] = [];
  const fail = (line: number, what: string) => errors.push({ line, column: 1, code: 'import-json', message: `line ${line}: ${what}` });
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    const offset = syntaxErrorOffset(text);
    const found = offset < text.length ? `unexpected '${text[offset]}'` : 'it ends too soon';
    fail(lineAt(text, offset), `not JSON (${found}); give the output of 'nft -j list ruleset'`);
    return { errors };
  }
  const objects = isObject(document) ? document.nftables : undefined;
  if (!Array.isArray(objects)) {
    fail(1, `no "nftables" array at the top: not the output of 'nft -j list ruleset'`);
    return { errors };
  }
  const lines = elementLines(text, objects.length);
  const ruleset: NftRuleset = { chains: [], rules: [], sets: [] };
  objects.forEach((object, index) => {
    const line = lines[index];
    if (!isObject(object)) return fail(line, `element ${index + 1} of "nftables" is not an object`);
    const [kind] = Object.keys(object);
    const body = object[kind];
    if (kind !== 'chain' && kind !== 'rule' && kind !== 'set' && kind !== 'map') return;
    if (!isObject(body) || !FAMILIES.has(String(body.family)) || typeof body.table !== 'string') {
      return fail(line, `a "${kind}" without its family and table`);
    }
    const family = body.family as NftFamily;
    const table = body.table;
    if (kind === 'chain') {
      if (typeof body.name !== 'string') return fail(line, 'a "chain" without a name');
      ruleset.chains.push({
        family,
        table,
        name: body.name,
        handle: Number(body.handle),
        ...(typeof body.type === 'string' ? { type: body.type } : {}),
        ...(typeof body.hook === 'string' ? { hook: body.hook } : {}),
        ...(typeof body.prio === 'number' ? { prio: body.prio } : {}),
        ...(body.policy === 'drop' || body.policy === 'accept' ? { policy: body.policy } : {}),
        line,
      });
    } else if (kind === 'rule') {
      if (typeof body.chain !== 'string' || !Array.isArray(body.expr)) return fail(line, 'a "rule" without its chain or its "expr" list');
      ruleset.rules.push({
        family,
        table,
        chain: body.chain,
        handle: Number(body.handle),
        expr: body.expr as NftExpr[],
        ...(typeof body.comment === 'string' ? { comment: body.comment } : {}),
        line,
      });
    } else {
      if (typeof body.name !== 'string') return fail(line, `a "${kind}" without a name`);
      const type = Array.isArray(body.type) ? body.type.map(String) : String(body.type);
      const elem = Array.isArray(body.elem) ? body.elem.map(unwrapElement) : [];
      const flags = Array.isArray(body.flags) ? body.flags.map(String) : [];
      const map = typeof body.map === 'string' ? { map: body.map } : {};
      const timeout = typeof body.timeout === 'number' ? { timeout: body.timeout } : {};
      ruleset.sets.push({ family, table, name: body.name, type, flags, ...map, ...timeout, elem, line });
    }
  });
  return errors.length > 0 ? { errors } : { ruleset, errors };
}

/** `{"elem": {"val": X, "timeout": …}}` is X with its options; a map's `[{"elem": …}, data]` likewise. */
function unwrapElement(element: NftExpr): NftExpr {
  if (Array.isArray(element) && element.length === 2) return [unwrapElement(element[0]), element[1]];
  if (isObject(element) && isObject(element.elem) && 'val' in element.elem) return element.elem.val;
  return element;
}

/**
 * Where a text JSON.parse refused stops being JSON, for the line of the
 * diagnostic (V8's messages do not always say): a recursive descent that
 * only advances over valid JSON.
 */
function syntaxErrorOffset(text: string): number {
  let i = 0;
  const space = () => {
    while (/\s/.test(text[i] ?? '')) i++;
  };
  const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/;
  const value = (): boolean => {
    space();
    const c = text[i];
    if (c === '"') {
      // eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in a string
      const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i));
      if (!m) return false;
      i += m[0].length;
      return true;
    }
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']';
      i++;
      space();
      if (text[i] === close) return ++i > 0;
      for (;;) {
        if (c === '{') {
          space();
          if (text[i] !== '"' || !value()) return false;
          space();
          if (text[i] !== ':') return false;
          i++;
        }
        if (!value()) return false;
        space();
        if (text[i] === close) return ++i > 0;
        if (text[i] !== ',') return false;
        i++;
      }
    }
    const m = literal.exec(text.slice(i));
    if (!m) return false;
    i += m[0].length;
    return true;
  };
  if (value()) space();
  return i;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

/**
 * The line each element of the top-level "nftables" array starts on: the
 * objects that open two containers deep, strings skipped. Any other shape
 * (which libnftables does not write) gives line 1 to all.
 */
function elementLines(text: string, count: number): number[] {
  const lines: number[] = [];
  let depth = 0;
  let line = 1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth === 2) lines.push(line);
      depth++;
    } else if (c === '}' || c === ']') depth--;
  }
  return lines.length === count ? lines : new Array<number>(count).fill(1);
}
