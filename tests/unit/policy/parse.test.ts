import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic, loadPolicy, parsePolicyFile, type PolicyFile, type Rule, type Span } from '../../../src/policy/index.js';
import { MemoryHost } from '../../support/memory-host.js';

function parseOk(text: string): PolicyFile {
  const result = parsePolicyFile(text, 'edge.xdpfw');
  expect(result.diagnostics).toEqual([]);
  return result.file!;
}

function onlyRule(text: string): Rule {
  const block = parseOk(`interface eth0 {\n${text}\n}\n`).items[0]!;
  if (block.kind !== 'interface') throw new Error('expected an interface block');
  return block.statements[0] as Rule;
}

/** Every AST node (an object with a kind and a span) under `value`. */
function* nodes(value: unknown): Generator<{ kind: string; span: Span } & Record<string, unknown>> {
  if (Array.isArray(value)) for (const v of value) yield* nodes(v);
  else if (typeof value === 'object' && value !== null) {
    const node = value as Record<string, unknown>;
    if (typeof node.kind === 'string' && typeof node.span === 'object') yield node as never;
    for (const [key, v] of Object.entries(node)) if (key !== 'span') yield* nodes(v);
  }
}

function sampleFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(dir, path), readFileSync(path, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

describe('parsePolicyFile', () => {
  it('gives every node of every sample a span whose offsets, lines and columns agree and whose text is the node', () => {
    const samples = join(import.meta.dirname, 'samples');
    for (const sample of readdirSync(samples)) {
      const { document, sources } = loadPolicy('input.xdpfw', new MemoryHost(sampleFiles(join(samples, sample))));
      for (const node of nodes(document!.files)) {
        const text = sources.get(node.span.file)!;
        for (const p of [node.span.start, node.span.end]) {
          const before = text.slice(0, p.offset).split('\n');
          expect([p.line, p.column]).toEqual([before.length, before.at(-1)!.length + 1]);
        }
        const written = text.slice(node.span.start.offset, node.span.end.offset);
        const expected: Record<string, unknown> = {
          address: node.text,
          identifier: node.name,
          name: node.name,
          'set-ref': `@${String(node.name)}`,
          'define-ref': `$${String(node.name)}`,
          'protocol-match': typeof node.protocol === 'string' ? node.protocol : undefined,
          'family-match': node.family,
        };
        if (expected[node.kind] !== undefined) expect(written).toBe(expected[node.kind]);
        if (node.kind === 'port' || node.kind === 'number') expect(Number(written)).toBe(node.value);
        if (node.kind === 'string' || node.kind === 'list') expect(written.at(-1)).toMatch(/["}]/);
      }
    }
  });

  it('covers the whole text with the file span', () => {
    const text = '# only a comment\n\n';
    const file = parseOk(text);
    expect(file.items).toEqual([]);
    expect(file.span).toEqual({ file: 'edge.xdpfw', start: { offset: 0, line: 1, column: 1 }, end: { offset: 18, line: 3, column: 1 } });
  });

  it('parses an empty file to no items', () => {
    expect(parseOk('').items).toEqual([]);
  });

  it('parses CRLF text to the same tree as LF text, apart from positions', () => {
    const lf = 'set s {\n  10.0.0.1 # c\n  10.0.0.2\n}\ninterface eth0 {\n  default drop\n  allow tcp dport 22 name "ssh"\n}\n';
    const strip = (file: PolicyFile): unknown => JSON.parse(JSON.stringify(file, (k, v: unknown) => (k === 'span' ? undefined : v)));
    expect(strip(parseOk(lf.replaceAll('\n', '\r\n')))).toEqual(strip(parseOk(lf)));
  });

  it.each([
    ['a lone CR (old Mac files)', '\r'],
    ['a form feed', '\f'],
    ['a vertical tab', '\v'],
    ['NEL (U+0085)', '\u0085'],
    ['LS (U+2028)', '\u2028'],
    ['PS (U+2029)', '\u2029'],
  ])('ends a line and a comment at %s, counting lines as LF does', (_, end) => {
    const lf =
      '# header\nset s {\n  10.0.0.1 # c\n  10.0.0.2\n}\n# section\ninterface eth0 {\n  default drop\n  allow tcp dport 22 name "ssh"\n}\n';
    const json = (file: PolicyFile): unknown => JSON.parse(JSON.stringify(file));
    const other = parseOk(lf.replaceAll('\n', end));
    // One character replaced by one: every offset, line and column is the same.
    expect(json(other)).toEqual(json(parseOk(lf)));
  });

  it('locates an error after lone-CR line ends on its own line', () => {
    const result = parsePolicyFile('set s { 10.0.0.1 }\rinterface eth0 {\r  alow tcp\r}\r', 'mac.xdpfw');
    expect(result.diagnostics.map((d) => [d.message, d.span.start.line, d.span.start.column])).toEqual([
      ["unknown action 'alow' (did you mean 'allow'?)", 3, 3],
    ]);
    expect(formatDiagnostic(result.diagnostics[0]!, () => 'set s { 10.0.0.1 }\rinterface eth0 {\r  alow tcp\r}\r').split('\n')).toEqual([
      "mac.xdpfw:3:3: error[syntax]: unknown action 'alow' (did you mean 'allow'?)",
      '  |',
      '3 |   alow tcp',
      '  |   ^^^^',
    ]);
  });

  it('keeps an address exactly as written, valid or not, for the compiler to judge', () => {
    const rule = onlyRule('  allow src { 10.0.0.0/33, 1.2.3.4.5, 10, ::ffff:1.2.3.4, FE80::1%x }');
    const match = rule.matches[0]!;
    expect(
      match.kind === 'address-match' && match.value.kind === 'list' && match.value.elements.map((e) => e.kind === 'address' && e.text),
    ).toEqual(['10.0.0.0/33', '1.2.3.4.5', '10', '::ffff:1.2.3.4', 'FE80::1%x']);
  });

  it('places tcp flags and icmp type right after their protocol match', () => {
    expect(onlyRule('  allow dport 22 tcp flags syn / syn,ack src 10.0.0.1').matches.map((m) => m.kind)).toEqual([
      'port-match',
      'protocol-match',
      'tcp-flags-match',
      'address-match',
    ]);
    expect(onlyRule('  allow ip4 icmp type { 0, 8 } src 10.0.0.1').matches.map((m) => m.kind)).toEqual([
      'family-match',
      'protocol-match',
      'icmp-type-match',
      'address-match',
    ]);
  });

  it('reads tcp flags none / M as no flags under the mask, and none is not a flag in a list', () => {
    const flags = onlyRule('  drop tcp flags none / fin,syn,rst,psh,ack,urg').matches[1]!;
    expect(flags.kind === 'tcp-flags-match' && [flags.flags, flags.mask?.map((f) => f.name)]).toEqual([
      [],
      ['fin', 'syn', 'rst', 'psh', 'ack', 'urg'],
    ]);
    expect(parsePolicyFile('interface eth0 {\n  drop tcp flags none,syn / syn\n}\n', 'edge.xdpfw').diagnostics).toHaveLength(1);
  });

  it('leaves the name out of a rule that has none', () => {
    expect('name' in onlyRule('  allow tcp')).toBe(false);
    expect(onlyRule('  allow tcp name "web"').name?.value).toBe('web');
  });

  it('accepts a rule with no matches, and a semicolon after any statement', () => {
    const file = parseOk('define a = 1;\ninterface eth0 { default drop; allow;\n  drop;\n}\n');
    expect(file.items.map((i) => i.kind)).toEqual(['define', 'interface']);
  });

  it('wants the rule name after the matches', () => {
    const { diagnostics } = parsePolicyFile('interface eth0 {\n  allow name "x" tcp\n}\n', 'edge.xdpfw');
    expect(diagnostics.map((d) => d.message)).toEqual(["expected 'log' or a newline after '\"x\"', found 'tcp'"]);
  });

  it('reads keywords as whole words, so names may begin with one', () => {
    const file = parseOk('set settings { }\ndefine interfaces = 1\ninterface tcp0 { allow tcp }\n');
    expect([...nodes(file)].filter((n) => n.kind === 'identifier').map((n) => n.name)).toEqual(['settings', 'interfaces', 'tcp0']);
  });

  it('skips a byte order mark at the start of a file', () => {
    expect(parseOk('\uFEFFdefine a = 1\n').items[0]!.span.start).toEqual({ offset: 1, line: 1, column: 2 });
  });

  it('takes the file name for spans from its argument', () => {
    expect(parsePolicyFile('define a = 1\n', 'dir/x.xdpfw').file!.items[0]!.span.file).toBe('dir/x.xdpfw');
  });
});
