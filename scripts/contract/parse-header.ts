/**
 * Reads the kernel/user contract out of a C header such as bpf/xdpfw.h:
 * #define constants (integer expressions of numbers and earlier names),
 * enums, structs of fixed-width integers, arrays and other such structs
 * (laid out as clang lays them out for BPF: each member at its natural
 * alignment), and two lists the header keeps in comments — the .rodata
 * variables (`const volatile __u32 cfg_x[N];`) and the maps (name, key,
 * value). Only what the contract uses is understood; anything else in
 * such a declaration is an error, so a header the parser misreads fails
 * the build instead of generating a wrong contract. Pure: text in, model out.
 */

export interface Constant {
  name: string;
  value: number;
  /** As the header writes it. */
  expression: string;
  /** The comment after it on its line. */
  doc?: string;
  /** Defined inside `#ifndef NAME`: a build may set another value (-DNAME=…). */
  overridable: boolean;
}

export interface EnumType {
  name: string;
  members: Constant[];
}

export interface StructType {
  name: string;
  size: number;
  align: number;
  /** Byte offset of each member, in order. */
  offsets: Record<string, number>;
}

export interface RodataVariable {
  name: string;
  /** Bytes, the whole array. */
  size: number;
}

export interface MapDeclaration {
  name: string;
  key: string;
  value: string;
  keySize: number;
  valueSize: number;
}

export interface Header {
  defines: Constant[];
  enums: EnumType[];
  structs: StructType[];
  rodata: RodataVariable[];
  maps: MapDeclaration[];
}

const SCALARS: Record<string, number> = { __u8: 1, __s8: 1, __u16: 2, __s16: 2, __u32: 4, __s32: 4, __u64: 8, __s64: 8 };

/** The enum whose members a map name's `<slot>` stands for. */
const SLOT_ENUM = 'xdpfw_addr_slot';

export function parseHeader(text: string): Header {
  const { code, trailing } = splitComments(text);
  const scope = new Map<string, number>();
  const defines = parseDefines(code, trailing, scope);
  const enums: EnumType[] = [];
  const structs = new Map<string, StructType>();
  for (const m of code.matchAll(/\b(enum|struct)\s+(\w+)\s*\{([^}]*)\}\s*;/g)) {
    const bodyAt = m.index + m[0].indexOf('{') + 1;
    if (m[1] === 'enum') enums.push(parseEnum(m[2], m[3], (i) => trailing.get(lineOf(code, bodyAt + i)), scope));
    else structs.set(m[2], parseStruct(m[2], m[3], scope, structs));
  }
  const sizeOf = (type: string, where: string): number => {
    const size = type.startsWith('struct ') ? structs.get(type.slice('struct '.length))?.size : SCALARS[type];
    if (size === undefined) throw new Error(`${where}: unknown type '${type}'`);
    return size;
  };
  return {
    defines,
    enums,
    structs: [...structs.values()],
    rodata: parseRodata(text, scope, sizeOf),
    maps: parseMaps(text, enums, sizeOf),
  };
}

/** The code with every comment blanked (lines kept), and each line's trailing one-line comment. */
function splitComments(text: string): { code: string; trailing: Map<number, string> } {
  const trailing = new Map<number, string>();
  const code = text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (comment, at: number) => {
    const lineStart = text.lastIndexOf('\n', at - 1) + 1;
    const before = text.slice(lineStart, at);
    if (before.trim() !== '' && !comment.includes('\n')) {
      trailing.set(lineOf(text, at), comment.replace(/^\/[*/]\s*|\s*\*\/$/g, ''));
    }
    return comment.replace(/[^\n]/g, ' ');
  });
  return { code, trailing };
}

const lineOf = (text: string, at: number): number => text.slice(0, at).split('\n').length;

/** Object-like #defines with a value; function-like macros and bare guards are not constants. */
function parseDefines(code: string, trailing: Map<number, string>, scope: Map<string, number>): Constant[] {
  const out: Constant[] = [];
  let ifndef: string | null = null;
  code.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    const define = /^#\s*define\s+(\w+)(\(?)\s*(.*)$/.exec(line);
    if (define && define[2] === '' && define[3] !== '') {
      const [, name, , expression] = define;
      const value = evaluate(expression, scope, `#define ${name}`);
      scope.set(name, value);
      const doc = trailing.get(i + 1);
      out.push({ name, value, expression, overridable: ifndef === name, ...(doc ? { doc } : {}) });
    }
    if (line.startsWith('#')) ifndef = /^#\s*ifndef\s+(\w+)$/.exec(line)?.[1] ?? null;
  });
  return out;
}

/** `docAt(i)`: the trailing comment of the line holding character i of the body. */
function parseEnum(name: string, body: string, docAt: (i: number) => string | undefined, scope: Map<string, number>): EnumType {
  const members: Constant[] = [];
  let next = 0;
  let at = 0;
  for (const part of body.split(',')) {
    const start = at + (part.length - part.trimStart().length);
    at += part.length + 1;
    const item = part.trim();
    if (item === '') continue;
    const m = /^(\w+)(?:\s*=\s*([\s\S]+))?$/.exec(item);
    if (!m) throw new Error(`enum ${name}: cannot read '${item}'`);
    const value = m[2] === undefined ? next : evaluate(m[2], scope, `enum ${name} ${m[1]}`);
    scope.set(m[1], value);
    next = value + 1;
    const doc = docAt(start);
    members.push({ name: m[1], value, expression: m[2]?.trim() ?? String(value), overridable: false, ...(doc ? { doc } : {}) });
  }
  return { name, members };
}

/**
 * An enum's parts as the contract names them: the prefix its members
 * share (XDPFW_FIELD_), the members, and a last member outside that prefix
 * (XDPFW_NFIELDS), which counts them.
 */
export function enumParts(e: EnumType): { prefix: string; members: Constant[]; count: Constant | null } {
  const last = e.members.at(-1);
  const shared = (names: string[]): string => {
    let prefix = names[0] ?? '';
    for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
    return prefix.slice(0, prefix.lastIndexOf('_') + 1);
  };
  const all = e.members.map((m) => m.name);
  const withoutLast = shared(all.slice(0, -1));
  if (last && e.members.length > 2 && !last.name.startsWith(withoutLast)) {
    return { prefix: withoutLast, members: e.members.slice(0, -1), count: last };
  }
  return { prefix: shared(all), members: e.members, count: null };
}

function parseStruct(name: string, body: string, scope: Map<string, number>, known: Map<string, StructType>): StructType {
  const offsets: Record<string, number> = {};
  let size = 0;
  let align = 1;
  for (const declaration of body.split(';')) {
    const item = declaration.trim().replace(/\s+/g, ' ');
    if (item === '') continue;
    const m = /^(struct \w+|\w+) (\w+)(?:\[([^\]]+)\])?$/.exec(item);
    if (!m) throw new Error(`struct ${name}: cannot read member '${item}'`);
    const [, type, member, count] = m;
    const scalar = SCALARS[type];
    const element = type.startsWith('struct ')
      ? known.get(type.slice('struct '.length))
      : scalar
        ? { size: scalar, align: scalar }
        : undefined;
    if (!element) throw new Error(`struct ${name}: member ${member} has the unknown type '${type}'`);
    const n = count === undefined ? 1 : evaluate(count, scope, `struct ${name} ${member}`);
    size = alignUp(size, element.align);
    offsets[member] = size;
    size += n * element.size;
    align = Math.max(align, element.align);
  }
  return { name, size: alignUp(size, align), align, offsets };
}

const alignUp = (n: number, to: number): number => Math.ceil(n / to) * to;

/** `const volatile __u32 cfg_x[N];` lines, in comments or code alike. */
function parseRodata(text: string, scope: Map<string, number>, sizeOf: (type: string, where: string) => number): RodataVariable[] {
  const out: RodataVariable[] = [];
  for (const m of text.matchAll(/const volatile (\w+) (\w+)(?:\[([^\]]+)\])?;/g)) {
    const [, type, name, count] = m;
    const n = count === undefined ? 1 : evaluate(count, scope, name);
    out.push({ name, size: n * sizeOf(type, name) });
  }
  return out;
}

/**
 * The map table: `xdpfw_name  key-type  value-type` rows, each `<slot>` row
 * once per slot; `-` for a map without keys or values (a ring buffer).
 */
function parseMaps(text: string, enums: EnumType[], sizeOf: (type: string, where: string) => number): MapDeclaration[] {
  const type = String.raw`(__\w+|struct [\w<>]+|-)`;
  const row = new RegExp(String.raw`^\s*\*\s+(xdpfw_[\w<>]+)\s+${type}\s+${type}\s*$`, 'gm');
  const slotEnum = enums.find((e) => e.name === SLOT_ENUM);
  const slotParts = slotEnum && enumParts(slotEnum);
  const slots = (slotParts?.members ?? []).map((m) => m.name.slice(slotParts!.prefix.length).toLowerCase());
  const out: MapDeclaration[] = [];
  for (const [, name, key, value] of text.matchAll(row)) {
    const templated = name.includes('<slot>');
    if (templated && slots.length === 0) throw new Error(`map ${name}: no enum ${SLOT_ENUM} to take <slot> from`);
    for (const slot of templated ? slots : [null]) {
      // A slot's family is its last character: src4, dst6.
      const fill = (s: string) => (slot === null ? s : s.replaceAll('<slot>', slot).replaceAll('<family>', slot.slice(-1)));
      const declaration = { name: fill(name), key: fill(key), value: fill(value) };
      if (/[<>]/.test(Object.values(declaration).join(''))) throw new Error(`map ${name}: a placeholder other than <slot> and <family>`);
      out.push({
        ...declaration,
        keySize: declaration.key === '-' ? 0 : sizeOf(declaration.key, `map ${declaration.name} key`),
        valueSize: declaration.value === '-' ? 0 : sizeOf(declaration.value, `map ${declaration.name} value`),
      });
    }
  }
  return out;
}

/**
 * An integer constant expression as C evaluates it for these headers:
 * numbers (decimal, hex; u/l suffixes), names defined before, ( ), unary
 * - and +, and the binary operators * / % + - << >> & ^ |. Computed exactly
 * (bigint), then required to be a safe integer; `~` is refused, since its
 * value depends on the operand's C type.
 */
export function evaluate(expression: string, scope: ReadonlyMap<string, number>, where: string): number {
  const tokens = expression.match(/0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|\w+|<<|>>|\S/g) ?? [];
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`${where}: ${why} in '${expression.trim()}'`);
  };
  // Loosest first, as C's precedence has them.
  const levels = [['|'], ['^'], ['&'], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];
  const apply = (op: string, a: bigint, b: bigint): bigint => {
    if ((op === '/' || op === '%') && b === 0n) return fail('division by zero');
    const ops: Record<string, () => bigint> = {
      '|': () => a | b,
      '^': () => a ^ b,
      '&': () => a & b,
      '<<': () => a << b,
      '>>': () => a >> b,
      '+': () => a + b,
      '-': () => a - b,
      '*': () => a * b,
      '/': () => a / b,
      '%': () => a % b,
    };
    return ops[op]();
  };
  const level = (n: number): bigint => {
    if (n === levels.length) return operand();
    let left = level(n + 1);
    while (at < tokens.length && levels[n].includes(tokens[at])) {
      const op = tokens[at++];
      left = apply(op, left, level(n + 1));
    }
    return left;
  };
  const operand = (): bigint => {
    const token = tokens[at++];
    if (token === undefined) return fail('an operand is missing');
    if (token === '(') {
      const inner = level(0);
      if (tokens[at++] !== ')') fail("a ')' is missing");
      return inner;
    }
    if (token === '-') return -operand();
    if (token === '+') return operand();
    if (/^\d/.test(token)) return BigInt(token.replace(/[uUlL]+$/, ''));
    if (!/^\w+$/.test(token)) return fail(`unexpected '${token}'`);
    const known = scope.get(token);
    return known === undefined ? fail(`'${token}' is not a constant defined before`) : BigInt(known);
  };
  const value = level(0);
  if (at !== tokens.length) fail(`unexpected '${tokens[at]}'`);
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) fail('the value does not fit a number');
  return Number(value);
}
