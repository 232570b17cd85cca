import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileTooLargeError, formatDiagnostic, loadPolicy, SOURCE_LIMITS, type SourceHost } from '../../../src/policy/index.js';
import { loadCases } from './load-cases.js';
import { MemoryHost } from '../../support/memory-host.js';

describe('load errors', () => {
  for (const c of loadCases) {
    it(c.behaviour, () => {
      const host = new MemoryHost(c.files);
      const result = loadPolicy(c.root, host);
      expect(result.document).toBeUndefined();
      expect(result.diagnostics.map((d) => d.code)).toEqual(c.expected.map((e) => e.code));
      result.diagnostics.forEach((d, i) => {
        const e = c.expected[i]!;
        const [file, line, column, endLine, endColumn] = e.at;
        expect({ severity: d.severity, message: d.message, hint: d.hint }).toEqual({ severity: 'error', message: e.message, hint: e.hint });
        expect(d.span).toMatchObject({ file, start: { line, column }, end: { line: endLine, column: endColumn } });
        const header = `${file}:${line}:${column}: error[${e.code}]: ${e.message}`;
        const excerpt = e.excerpt === undefined ? [] : [`${' '.repeat(String(line).length)} |`, ...e.excerpt];
        const hint = e.hint === undefined ? [] : [`  hint: ${e.hint}`];
        expect(formatDiagnostic(d, host.sourceOf).split('\n')).toEqual([header, ...excerpt, ...hint]);
      });
    });
  }

  it('lists the first ten malformed lines of a set file and then one summary', () => {
    const lines = Array.from({ length: 25 }, (_, i) => `bad${i}`);
    const host = new MemoryHost({ 'input.xdpfw': 'set s from "s.txt"\n', 's.txt': `10.0.0.0/8\n${lines.join('\n')}\n` });
    const { diagnostics } = loadPolicy('input.xdpfw', host);
    expect(diagnostics).toHaveLength(11);
    expect(diagnostics.every((d) => d.code === 'set-file-syntax')).toBe(true);
    expect(diagnostics[9]!.span.start.line).toBe(11);
    expect(diagnostics[10]!.message).toBe("more malformed lines in set file 's.txt' (only the first 10 are listed)");
    expect(diagnostics[10]!.span.start.line).toBe(12);
  });

  it('does not count a set file that could not be read among the sources', () => {
    const host = new MemoryHost({ 'input.xdpfw': 'set s from "nope.txt"\n' });
    const { diagnostics, sources } = loadPolicy('input.xdpfw', host);
    expect(diagnostics).toHaveLength(1);
    expect([...sources.keys()]).toEqual(['input.xdpfw']);
  });

  it('reads a file included from several places once', () => {
    const host = new MemoryHost({
      'input.xdpfw': 'include "a.xdpfw"\ninclude "b.xdpfw"\ninclude "a.xdpfw"\n',
      'a.xdpfw': 'include "common.xdpfw"\n',
      'b.xdpfw': 'include "common.xdpfw"\n',
      'common.xdpfw': 'define ssh = 22\n',
    });
    const { document, diagnostics } = loadPolicy('input.xdpfw', host);
    expect(diagnostics).toEqual([]);
    expect(host.reads).toEqual(['input.xdpfw', 'a.xdpfw', 'common.xdpfw', 'b.xdpfw']);
    expect(document!.items.map((i) => i.kind)).toEqual(['define']);
    expect(document!.files.map((f) => f.span.file)).toEqual(['input.xdpfw', 'a.xdpfw', 'common.xdpfw', 'b.xdpfw']);
  });

  it('sees a cycle back to the root when the host resolves to absolute paths and the root was given relative', () => {
    // Like the CLI's file host: resolve() returns absolute paths.
    const memory = new MemoryHost({ '/etc/xdpfw/edge.xdpfw': 'include "more.xdpfw"\n', '/etc/xdpfw/more.xdpfw': 'include "edge.xdpfw"\n' });
    const host: SourceHost = {
      readFile: (path) => memory.readFile(posix.resolve('/etc/xdpfw', path)),
      resolve: (from, path) => posix.resolve('/etc/xdpfw', posix.dirname(from), path),
    };
    const { diagnostics } = loadPolicy('edge.xdpfw', host);
    expect(diagnostics.map((d) => [d.code, d.message])).toEqual([
      ['include-cycle', 'include cycle: edge.xdpfw → /etc/xdpfw/more.xdpfw → edge.xdpfw'],
    ]);
  });

  it('keeps the text of every file read, by the name its spans carry', () => {
    const host = new MemoryHost({ 'p/input.xdpfw': 'include "x.xdpfw"\n', 'p/x.xdpfw': 'set s from "s.txt"\n', 'p/s.txt': '10.0.0.1\n' });
    const { sources, document } = loadPolicy('p/input.xdpfw', host);
    expect(document).toBeDefined();
    expect([...sources.keys()]).toEqual(['p/input.xdpfw', 'p/x.xdpfw', 'p/s.txt']);
  });

  it('reports a host that fails to resolve a path like a file that cannot be read', () => {
    const host: SourceHost = {
      readFile: () => 'include "x.xdpfw"\nset s from "s.txt"\n',
      resolve: () => {
        throw new Error('outside the policy directory');
      },
    };
    const { diagnostics } = loadPolicy('input.xdpfw', host);
    expect(diagnostics.map((d) => [d.code, d.message])).toEqual([
      ['include-not-found', "cannot read included file 'x.xdpfw': outside the policy directory"],
      ['set-file-not-found', "cannot read set file 's.txt': outside the policy directory"],
    ]);
  });

  /** f0.xdpfw includes f1.xdpfw, …, which includes `last`. */
  function includeChain(depth: number, last: string): MemoryHost {
    const files: Record<string, string> = {};
    for (let i = 0; i < depth; i++) files[`f${i}.xdpfw`] = `define d${i} = ${i}\ninclude "f${i + 1}.xdpfw"\n`;
    files[`f${depth}.xdpfw`] = last;
    return new MemoryHost(files);
  }

  it("follows a chain of as many includes as files are read, each file's items in place", () => {
    const last = SOURCE_LIMITS.files - 1;
    const { document, diagnostics } = loadPolicy('f0.xdpfw', includeChain(last, 'define last = 1\n'));
    expect(diagnostics).toEqual([]);
    const names = document!.items.map((item) => (item.kind === 'define' ? item.name.name : item.kind));
    expect(names.slice(0, 2)).toEqual(['d0', 'd1']);
    expect(names.slice(-2)).toEqual([`d${last - 1}`, 'last']);
    expect(names).toHaveLength(last + 1);
  });

  it('reports a cycle through the longest include chain once, at the include that closes it', () => {
    const last = SOURCE_LIMITS.files - 1;
    const { diagnostics } = loadPolicy('f0.xdpfw', includeChain(last, 'include "f0.xdpfw"\n'));
    expect(diagnostics.map((d) => [d.code, d.span.file, d.span.start.line])).toEqual([['include-cycle', `f${last}.xdpfw`, 1]]);
    expect(diagnostics[0]!.message).toMatch(new RegExp(`^include cycle: f0\\.xdpfw → f1\\.xdpfw → .* → f${last}\\.xdpfw → f0\\.xdpfw$`));
  });

  it('stops a chain of 10,000 includes at the file limit with one diagnostic', () => {
    const { diagnostics } = loadPolicy('f0.xdpfw', includeChain(10_000, 'define last = 1\n'));
    expect(diagnostics.map((d) => d.code)).toEqual(['too-many-files']);
  });

  it('refuses a set file over 256 MiB that the host measured, at the set', () => {
    const host: SourceHost = {
      readFile: (path, maxBytes = Infinity) => {
        if (path === 'big.txt' && 300 * 1024 * 1024 > maxBytes) throw new FileTooLargeError(300 * 1024 * 1024, maxBytes);
        return 'set s from "big.txt"\ninterface eth0 {\n  drop src @s\n}\n';
      },
      resolve: (_from, path) => path,
    };
    const { diagnostics } = loadPolicy('input.xdpfw', host);
    expect(diagnostics.map((d) => [d.code, d.message, d.span.start.line, d.span.start.column])).toEqual([
      ['file-too-large', "'big.txt' is too large: the file holds 300 MiB, more than the 256 MiB allowed for a set file", 1, 12],
    ]);
  });

  it('reads a set file named by several sets once', () => {
    const host = new MemoryHost({ 'input.xdpfw': 'set a from "s.txt"\nset b from "s.txt"\n', 's.txt': '10.0.0.1\n' });
    const { document, diagnostics } = loadPolicy('input.xdpfw', host);
    expect(diagnostics).toEqual([]);
    expect(host.reads).toEqual(['input.xdpfw', 's.txt']);
    expect(document!.items.map((i) => (i.kind === 'set' && i.source.kind === 'file' ? i.source.entries?.start.length : 0))).toEqual([1, 1]);
  });
});
