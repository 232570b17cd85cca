import { describe, expect, it } from 'vitest';
import { formatDiagnostic, suggest, type Diagnostic } from '../../../src/policy/index.js';

function at(line: number, column: number, endLine: number, endColumn: number): Diagnostic['span'] {
  return { file: 'edge.xdpfw', start: { offset: 0, line, column }, end: { offset: 0, line: endLine, column: endColumn } };
}

const source = ['# policies/edge.xdpfw', ...Array.from({ length: 10 }, () => ''), 'interface eth0 {', '  drop  src @blocklst', '}'].join(
  '\n',
);

describe('formatDiagnostic', () => {
  it('prints the location, severity and code, the source line with a gutter, a caret underline and the hint', () => {
    const d: Diagnostic = {
      code: 'unknown-set',
      severity: 'error',
      message: "unknown set '@blocklst' (did you mean '@blocklist'?)",
      span: at(13, 13, 13, 22),
      hint: 'sets are declared with set NAME { … } or set NAME from "file"',
    };
    expect(formatDiagnostic(d, () => source)).toBe(
      [
        "edge.xdpfw:13:13: error[unknown-set]: unknown set '@blocklst' (did you mean '@blocklist'?)",
        '   |',
        '13 |   drop  src @blocklst',
        '   |             ^^^^^^^^^',
        '  hint: sets are declared with set NAME { … } or set NAME from "file"',
      ].join('\n'),
    );
  });

  it('prints warnings as warnings', () => {
    const d: Diagnostic = { code: 'shadowed-rule', severity: 'warning', message: 'never matches', span: at(12, 1, 12, 10) };
    expect(formatDiagnostic(d, () => source).split('\n')[0]).toBe('edge.xdpfw:12:1: warning[shadowed-rule]: never matches');
  });

  it('underlines a span that runs onto later lines up to the end of its first line', () => {
    const d: Diagnostic = { code: 'x', severity: 'error', message: 'm', span: at(12, 11, 14, 2) };
    expect(
      formatDiagnostic(d, () => source)
        .split('\n')
        .slice(2),
    ).toEqual(['12 | interface eth0 {', '   |           ^^^^^^']);
  });

  it('puts one caret under an empty span', () => {
    const d: Diagnostic = { code: 'x', severity: 'error', message: 'm', span: at(14, 2, 14, 2) };
    expect(
      formatDiagnostic(d, () => source)
        .split('\n')
        .slice(2),
    ).toEqual(['14 | }', '   |  ^']);
  });

  it('prints only the located message when the source is not at hand', () => {
    const d: Diagnostic = { code: 'file-not-found', severity: 'error', message: 'cannot read', span: at(1, 1, 1, 1), hint: 'h' };
    expect(formatDiagnostic(d, () => undefined)).toBe('edge.xdpfw:1:1: error[file-not-found]: cannot read\n  hint: h');
  });

  it('reads CRLF sources line by line without a stray carriage return', () => {
    const d: Diagnostic = { code: 'x', severity: 'error', message: 'm', span: at(2, 3, 2, 7) };
    expect(
      formatDiagnostic(d, () => 'a\r\n  drop\r\n')
        .split('\n')
        .slice(2),
    ).toEqual(['2 |   drop', '  |   ^^^^']);
  });
});

describe('suggest', () => {
  it('returns the candidate within two edits', () => {
    expect(suggest('blocklst', ['bogons', 'blocklist'])).toBe('blocklist');
    expect(suggest('alow', ['allow', 'drop'])).toBe('allow');
    expect(suggest('echo-requset', ['echo-reply', 'echo-request'])).toBe('echo-request');
  });

  it('prefers the closest candidate and, among equals, the first', () => {
    expect(suggest('web1', ['web12', 'web'])).toBe('web12');
    expect(suggest('ab', ['abc', 'abd'])).toBe('abc');
    expect(suggest('dorp', ['drop', 'dorps'])).toBe('dorps');
  });

  it('returns nothing when every candidate is three or more edits away', () => {
    expect(suggest('firewall', ['define', 'set', 'include', 'interface'])).toBeUndefined();
  });

  it('does not suggest a name that shares nothing with a very short one', () => {
    expect(suggest('ab', ['xy'])).toBeUndefined();
    expect(suggest('a', ['b'])).toBeUndefined();
  });

  it('does not suggest the name itself', () => {
    expect(suggest('web', ['web'])).toBeUndefined();
  });

  it('accepts any iterable of candidates', () => {
    expect(suggest('bogon', new Set(['bogons']))).toBe('bogons');
  });
});
