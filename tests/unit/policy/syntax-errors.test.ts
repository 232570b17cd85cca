import { describe, expect, it } from 'vitest';
import { formatDiagnostic, parsePolicyFile } from '../../../src/policy/index.js';
import { syntaxCases } from './syntax-cases.js';

describe('syntax errors', () => {
  for (const c of syntaxCases) {
    it(c.behaviour, () => {
      const result = parsePolicyFile(c.input, 'edge.xdpfw');
      expect(result.file).toBeUndefined();
      expect(result.diagnostics).toHaveLength(1);
      const d = result.diagnostics[0]!;
      const [line, column, endLine, endColumn] = c.at;
      expect({ code: d.code, severity: d.severity, message: d.message, hint: d.hint }).toEqual({
        code: 'syntax',
        severity: 'error',
        message: c.message,
        hint: c.hint,
      });
      expect(d.span).toMatchObject({ file: 'edge.xdpfw', start: { line, column }, end: { line: endLine, column: endColumn } });
      const header = `edge.xdpfw:${line}:${column}: error[syntax]: ${c.message}`;
      const gutter = `${' '.repeat(String(line).length)} |`;
      const hint = c.hint === undefined ? [] : [`  hint: ${c.hint}`];
      expect(formatDiagnostic(d, () => c.input).split('\n')).toEqual([header, gutter, ...c.excerpt, ...hint]);
    });
  }

  it('never lists internal grammar tokens (character classes, whitespace, comments) as expected', () => {
    for (const c of syntaxCases) {
      expect(c.message).not.toMatch(/\[|whitespace|comment|another character/);
    }
  });

  it('reports the span offsets that match the reported lines and columns', () => {
    for (const c of syntaxCases) {
      const { span } = parsePolicyFile(c.input, 'edge.xdpfw').diagnostics[0]!;
      for (const p of [span.start, span.end]) {
        const lineStart =
          c.input
            .split('\n')
            .slice(0, p.line - 1)
            .join('\n').length + (p.line > 1 ? 1 : 0);
        expect(p.offset).toBe(lineStart + p.column - 1);
      }
    }
  });
});
