/**
 * `ct state` and the `conntrack { … }` block as the grammar reads them:
 * where they may stand, how their parts are separated, and the syntax
 * errors of their forms (value errors are the compiler's: checks.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { parsePolicyFile, type ConntrackBlock, type PolicyFile, type Rule } from '../../../src/policy/index.js';

function parseOk(text: string): PolicyFile {
  const result = parsePolicyFile(text, 'edge.xdpfw');
  expect(result.diagnostics).toEqual([]);
  return result.file!;
}

function rules(body: string): Rule[] {
  const block = parseOk(`interface eth0 {\n${body}\n}\n`).items[0]!;
  if (block.kind !== 'interface') throw new Error('expected an interface block');
  return block.statements.filter((s): s is Rule => s.kind === 'rule');
}

const kinds = (rule: Rule) => rule.matches.map((m) => m.kind);
const states = (rule: Rule) => rule.matches.flatMap((m) => (m.kind === 'ct-state-match' ? m.states.map((s) => s.name) : []));

function syntaxError(text: string): { message: string; at: string } {
  const d = parsePolicyFile(text, 'edge.xdpfw').diagnostics;
  expect(d).toHaveLength(1);
  return { message: d[0]!.message, at: `${d[0]!.span.start.line}:${d[0]!.span.start.column}` };
}

describe('ct state', () => {
  it('is a match in any position, alone or with others, its states comma separated', () => {
    const [alone, first, last, middle, spaced] = rules(
      [
        '  allow ct state established,related',
        '  allow ct state new tcp dport 22',
        '  allow tcp dport 22 ct state new',
        '  drop src 10.0.0.0/8 ct state invalid udp',
        '  allow ct  state  new , established name "spaced"',
      ].join('\n'),
    );
    expect(kinds(alone!)).toEqual(['ct-state-match']);
    expect(states(alone!)).toEqual(['established', 'related']);
    expect(kinds(first!)).toEqual(['ct-state-match', 'protocol-match', 'port-match']);
    expect(kinds(last!)).toEqual(['protocol-match', 'port-match', 'ct-state-match']);
    expect(kinds(middle!)).toEqual(['address-match', 'ct-state-match', 'protocol-match']);
    expect(states(spaced!)).toEqual(['new', 'established']);
    expect(spaced!.name?.value).toBe('spaced');
  });

  it('spans the whole match and each state', () => {
    const [rule] = rules('  drop ct state invalid');
    const match = rule!.matches[0]!;
    expect([match.span.start.column, match.span.end.column]).toEqual([8, 24]);
    if (match.kind !== 'ct-state-match') throw new Error('expected ct state');
    expect([match.states[0]!.span.start.column, match.states[0]!.span.end.column]).toEqual([17, 24]);
  });

  it('takes any word as a state, for the compiler to name (unknown-ct-state)', () => {
    expect(states(rules('  allow ct state establised')[0]!)).toEqual(['establised']);
  });

  it("wants 'state' after 'ct', and a state after 'state' or a comma", () => {
    expect(syntaxError('interface eth0 {\n  allow ct established\n}\n')).toEqual({
      message: "expected 'state' (as in 'ct state established,related') after 'ct', found 'established'",
      at: '2:12',
    });
    expect(syntaxError('interface eth0 {\n  allow ct state\n}\n')).toEqual({
      message: "expected a connection state (new, established, related, invalid) after 'state', found end of line",
      at: '2:17',
    });
    expect(syntaxError('interface eth0 {\n  allow ct state new, tcp\n}\n')).toEqual({
      message: "expected a connection state (new, established, related, invalid) after ',', found 'tcp'",
      at: '2:23',
    });
  });

  it("says where 'state' goes when it stands alone", () => {
    expect(syntaxError('interface eth0 {\n  allow tcp state new\n}\n').message).toBe(
      "'state' must directly follow 'ct' (as in 'ct state established,related')",
    );
  });
});

describe('the conntrack block', () => {
  const block = (text: string): ConntrackBlock => {
    const item = parseOk(text).items.find((i) => i.kind === 'conntrack');
    if (item?.kind !== 'conntrack') throw new Error('expected a conntrack block');
    return item;
  };
  const options = (b: ConntrackBlock) =>
    b.options.map((o) => [o.name.name, o.value.kind === 'duration' ? `${o.value.value}${o.value.unit}` : o.value.value]);

  it('holds options ended by a newline or a semicolon, durations and numbers, in any order with other items', () => {
    const text =
      'interface eth0 { allow ct state established }\nconntrack {\n  size 1048576; tcp-syn 30s\n  udp 45   # a comment\n  tcp-established 2d\n}\n';
    expect(options(block(text))).toEqual([
      ['size', 1048576],
      ['tcp-syn', '30s'],
      ['udp', 45],
      ['tcp-established', '2d'],
    ]);
    expect(options(block('conntrack { icmp 1m; flood-threshold 5000 }'))).toEqual([
      ['icmp', '1m'],
      ['flood-threshold', 5000],
    ]);
  });

  it('may be empty', () => {
    expect(block('conntrack {}\n').options).toEqual([]);
    expect(block('conntrack {\n}\n').options).toEqual([]);
  });

  it('takes any word as an option and any letters as a unit, for the compiler to check', () => {
    expect(options(block('conntrack { tcp-establish 10sec }'))).toEqual([['tcp-establish', '10sec']]);
  });

  it('wants a number or a duration after an option', () => {
    expect(syntaxError('conntrack {\n  udp\n}\n')).toEqual({
      message: "expected a number or a duration (30s, 10m, 6h, 2d) after 'udp', found end of line",
      at: '2:6',
    });
    expect(syntaxError('conntrack { udp 1h30m }\n').message).toBe(
      "expected a number or a duration (30s, 10m, 6h, 2d) after 'udp', found '1h30m'",
    );
  });

  it('is a top-level item: not inside an interface block', () => {
    expect(syntaxError('interface eth0 {\n  conntrack { udp 30s }\n}\n').message).toBe(
      "'conntrack' cannot appear inside an interface block (is a '}' missing above?)",
    );
  });
});
