/**
 * A rule's JSON expressions written back as nft text, for citing the rule
 * beside its translation and in diagnostics: `tcp dport { 22, 80 } accept`.
 * It renders the expressions the importer reads and little else; anything
 * it does not know is shown as its JSON, which is exact if not pretty.
 */
import type { NftExpr } from './nft-json.js';

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const VERDICTS = new Set(['accept', 'drop', 'continue', 'return']);

export function renderRule(exprs: readonly NftExpr[]): string {
  return exprs.map(renderStatement).join(' ');
}

export function renderStatement(statement: NftExpr): string {
  if (!isObject(statement)) return JSON.stringify(statement);
  const [kind] = Object.keys(statement);
  const body = statement[kind];
  const b = isObject(body) ? body : {};
  if (VERDICTS.has(kind)) return kind;
  switch (kind) {
    case 'match': {
      // nft leaves `==` out, but not after a bitwise operation (`tcp flags & (syn | ack) == syn`).
      const bitwise = isObject(b.left) && ('&' in b.left || '|' in b.left);
      const op = (b.op === '==' && !bitwise) || b.op === 'in' ? '' : `${String(b.op)} `;
      // nft quotes interface names, as they may hold any character.
      const names = /^iif|^oif/.test(renderValue(b.left));
      // A bitmask's list (`ct state established,related`) is written with commas.
      const right = b.op === 'in' && Array.isArray(b.right) ? b.right.map((v) => renderValue(v)).join(',') : renderValue(b.right, names);
      return `${renderValue(b.left)} ${op}${right}`;
    }
    case 'jump':
    case 'goto':
      return `${kind} ${String(b.target)}`;
    case 'counter':
      return 'counter';
    case 'log':
      return typeof b.prefix === 'string' ? `log prefix ${JSON.stringify(b.prefix)}` : 'log';
    case 'reject':
      if (b.type === undefined) return 'reject';
      return b.expr === undefined ? `reject with ${String(b.type)}` : `reject with ${String(b.type)} ${String(b.expr)}`;
    case 'vmap':
      return `${renderValue(b.key)} vmap ${renderValue(b.data)}`;
    case 'set': {
      const statements = Array.isArray(b.stmt) ? b.stmt.map(renderStatement) : [];
      return `${String(b.op)} ${String(b.set)} { ${[renderElement(b.elem), ...statements].join(' ')} }`;
    }
    case 'meter':
      return `meter ${String(b.name)} { ${[renderElement(b.key), ...(b.stmt === undefined ? [] : [renderStatement(b.stmt)])].join(' ')} }`;
    case 'mangle':
      return `${renderValue(b.key)} set ${renderValue(b.value)}`;
    case 'dnat':
    case 'redirect': {
      const to = `${b.addr === undefined ? '' : renderValue(b.addr)}${b.port === undefined ? '' : `:${renderValue(b.port)}`}`;
      return to === '' ? kind : `${kind} to ${to}`;
    }
    case 'limit': {
      const bytes = b.rate_unit !== undefined && b.rate_unit !== 'packets';
      const rate = `${String(b.rate)}${bytes ? ` ${String(b.rate_unit)}` : ''}/${String(b.per ?? 'second')}`;
      // nft leaves out the default burst of 5 packets.
      const burst = bytes
        ? b.burst
          ? ` burst ${String(b.burst)} ${String(b.burst_unit ?? 'bytes')}`
          : ''
        : b.burst && b.burst !== 5
          ? ` burst ${String(b.burst)} packets`
          : '';
      return `limit rate ${b.inv === true ? 'over ' : ''}${rate}${burst}`;
    }
    default:
      return JSON.stringify(statement);
  }
}

/** A set element or meter key: the value, `and` its mask, and the element's timeout. */
function renderElement(element: NftExpr): string {
  if (isObject(element) && isObject(element.elem)) {
    const timeout = typeof element.elem.timeout === 'number' ? ` timeout ${element.elem.timeout}s` : '';
    return `${renderElement(element.elem.val)}${timeout}`;
  }
  if (isObject(element) && Array.isArray(element['&']) && element['&'].length === 2) {
    return `${renderValue(element['&'][0])} and ${renderValue(element['&'][1])}`;
  }
  return renderValue(element);
}

export function renderValue(value: NftExpr, quoted = false): string {
  if (typeof value === 'string') {
    return value.startsWith('@') || (!quoted && /^[\w.:/-]+$/.test(value)) ? value : JSON.stringify(value);
  }
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) {
    // A map element `[key, verdict]`, or the flags of a bitmask joined by `|`.
    if (value.length === 2 && isObject(value[1]) && Object.keys(value[1]).some((k) => VERDICTS.has(k) || k === 'jump' || k === 'goto'))
      return `${renderValue(value[0])} : ${renderStatement(value[1])}`;
    return value.map((v) => renderValue(v)).join(' | ');
  }
  if (!isObject(value)) return JSON.stringify(value);
  const [kind] = Object.keys(value);
  const body = value[kind];
  const b = isObject(body) ? body : {};
  switch (kind) {
    case 'payload':
      return `${String(b.protocol)} ${String(b.field)}`;
    case 'meta':
      return ['iifname', 'iif', 'oifname', 'oif'].includes(String(b.key)) ? String(b.key) : `meta ${String(b.key)}`;
    case 'ct':
      return `ct ${String(b.key)}`;
    case 'set':
      return `{ ${(Array.isArray(body) ? body : [body]).map((v) => renderValue(v, quoted)).join(', ')} }`;
    case 'prefix':
      return `${String(b.addr)}/${String(b.len)}`;
    case 'range':
      return Array.isArray(body) ? `${renderValue(body[0])}-${renderValue(body[1])}` : JSON.stringify(value);
    case '&':
    case '|':
      return Array.isArray(body) ? body.map((v) => (Array.isArray(v) ? `(${renderValue(v)})` : renderValue(v))).join(` ${kind} `) : '';
    case 'concat':
      return Array.isArray(body) ? body.map((v) => renderValue(v)).join(' . ') : JSON.stringify(value);
    default:
      return JSON.stringify(value);
  }
}
