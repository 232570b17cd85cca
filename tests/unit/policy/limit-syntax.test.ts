/**
 * `limit`, `ban`, `set NAME dynamic` and the `limits { … }` block as the
 * grammar reads them, and the syntax errors of their forms (value errors
 * are the compiler's: limit-cases.ts).
 */
import { describe, expect, it } from 'vitest';
import { parsePolicyFile, type LimitMatch, type PolicyFile, type Rule } from '../../../src/policy/index.js';

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

function limitOf(rule: Rule): LimitMatch {
  const limit = rule.matches.find((m): m is LimitMatch => m.kind === 'limit-match');
  if (!limit) throw new Error('expected a limit');
  return limit;
}

/** The limit as written, without spans. */
const shape = (limit: LimitMatch) => ({
  over: limit.over,
  rate: limit.rate && `${limit.rate.value.value}/${limit.rate.unit.name}`,
  burst: limit.burst?.value,
  per: limit.per && [limit.per.field, ...limit.per.lengths.map((l) => l.value)],
});

function syntaxError(body: string): { message: string; at: string } {
  const d = parsePolicyFile(`interface eth0 {\n${body}\n}\n`, 'edge.xdpfw').diagnostics;
  expect(d).toHaveLength(1);
  return { message: d[0]!.message, at: `${d[0]!.span.start.line}:${d[0]!.span.start.column}` };
}

describe('limit', () => {
  it('takes rate, over, burst and per in that order, each but the rate optional, among other matches', () => {
    const [plain, full, packets, middle, perOnly] = rules(
      [
        '  allow limit rate 10/second',
        '  drop tcp flags syn / syn,ack limit rate over 200/second burst 400 per src/24/64',
        '  allow limit rate 3 / minute burst 10 packets per dst',
        '  allow limit rate 1/hour per src/24 ip4 tcp',
        '  allow ip6 limit rate 5/second per src/64',
      ].join('\n'),
    );
    expect(shape(limitOf(plain!))).toEqual({ over: false, rate: '10/second', burst: undefined, per: undefined });
    expect(shape(limitOf(full!))).toEqual({ over: true, rate: '200/second', burst: 400, per: ['src', 24, 64] });
    expect(full!.matches.map((m) => m.kind)).toEqual(['protocol-match', 'tcp-flags-match', 'limit-match']);
    expect(shape(limitOf(packets!))).toEqual({ over: false, rate: '3/minute', burst: 10, per: ['dst'] });
    expect(middle!.matches.map((m) => m.kind)).toEqual(['limit-match', 'family-match', 'protocol-match']);
    expect(shape(limitOf(perOnly!)).per).toEqual(['src', 64]);
  });

  it('parses a missing rate, an unknown unit and zeros, for the compiler to name', () => {
    const [burstOnly, fortnight, zero] = rules(
      '  allow limit burst 5\n  allow limit rate 10/fortnight\n  allow limit rate 0/second burst 0',
    );
    expect(shape(limitOf(burstOnly!))).toEqual({ over: false, rate: undefined, burst: 5, per: undefined });
    expect(shape(limitOf(fortnight!)).rate).toBe('10/fortnight');
    expect(shape(limitOf(zero!))).toMatchObject({ rate: '0/second', burst: 0 });
  });

  it('spans the whole limit, the rate and its unit', () => {
    const limit = limitOf(rules('  allow limit rate 10/minute burst 3')[0]!);
    expect([limit.span.start.column, limit.span.end.column]).toEqual([9, 37]);
    expect([limit.rate!.span.start.column, limit.rate!.unit.span.start.column]).toEqual([20, 23]);
  });

  it('says what is missing after limit, rate, /, burst and per', () => {
    expect(syntaxError('  allow limit')).toEqual({
      message: "expected 'rate' (as in 'limit rate 10/second') after 'limit', found end of line",
      at: '2:14',
    });
    expect(syntaxError('  allow limit rate 10')).toEqual({
      message: "expected a rate (10/second, 100/minute, 1000/hour) after 'rate', found '10'",
      at: '2:20',
    });
    expect(syntaxError('  allow limit rate 10/')).toEqual({
      message: "expected a unit (second, minute, hour) after '10/', found end of line",
      at: '2:23',
    });
    expect(syntaxError('  allow limit rate 10/second burst many')).toEqual({
      message: "expected a number of packets after 'burst', found 'many'",
      at: '2:36',
    });
    expect(syntaxError('  allow limit rate 10/second per host')).toEqual({
      message: "expected 'src' or 'dst' after 'per', found 'host'",
      at: '2:34',
    });
    expect(syntaxError('  allow limit rate 10/second per src/')).toEqual({
      message: "expected a prefix length after 'src/', found end of line",
      at: '2:38',
    });
  });

  it('says the order of the parts when one stands out of place', () => {
    expect(syntaxError('  allow limit rate 1/second per src burst 3').message).toBe(
      "'burst' belongs to 'limit', in this order: 'limit rate [over] 10/second [burst 20] [per src]'",
    );
    expect(syntaxError('  allow tcp over 10/second').message).toBe(
      "'over' belongs to 'limit', in this order: 'limit rate [over] 10/second [burst 20] [per src]'",
    );
  });
});

describe('ban', () => {
  it('follows the matches, before the name, with or without a duration', () => {
    const [timed, untimed, seconds] = rules(
      '  drop limit rate over 1/second ban @banned 10m name "flood"\n  drop src 10.0.0.0/8 ban @banned\n  drop ban @banned 600',
    );
    expect(timed!.ban).toMatchObject({ set: { name: 'banned' }, duration: { kind: 'duration', value: 10, unit: 'm' } });
    expect(timed!.name?.value).toBe('flood');
    expect(untimed!.ban?.duration).toBeUndefined();
    expect(untimed!.matches.map((m) => m.kind)).toEqual(['address-match']);
    expect(seconds!.ban?.duration).toMatchObject({ kind: 'number', value: 600 });
  });

  it('wants a set after ban, and nothing but the name after it', () => {
    expect(syntaxError('  drop ban banned')).toEqual({ message: "expected a set (@name) after 'ban', found 'banned'", at: '2:12' });
    expect(syntaxError('  drop name "x" ban @b 1m').message).toBe("expected 'log' or a newline after '\"x\"', found 'ban'");
    expect(syntaxError('  drop ban @a 1m ban @b 1m').message).toBe("expected 'log', 'name' or a newline after '1m', found 'ban'");
  });
});

describe('dynamic sets and the limits block', () => {
  it('reads a dynamic set with its options, and one without any', () => {
    const file = parseOk('set banned dynamic timeout 10m size 65536\nset forever dynamic\nset dynamic { 10.0.0.0/8 }\n');
    const [banned, forever, named] = file.items;
    if (banned?.kind !== 'set' || banned.source.kind !== 'dynamic') throw new Error('expected a dynamic set');
    expect(banned.source.options.map((o) => [o.name.name, o.value.value])).toEqual([
      ['timeout', 10],
      ['size', 65536],
    ]);
    expect(banned.source.entries).toBeNull();
    expect(forever).toMatchObject({ source: { kind: 'dynamic', options: [], entries: null } });
    expect(named).toMatchObject({ name: { name: 'dynamic' }, source: { kind: 'inline' } });
  });

  it('parses entries given to a dynamic set, for the compiler to point at', () => {
    const [set] = parseOk('set banned dynamic timeout 1m { 192.0.2.1 }\n').items;
    expect(set).toMatchObject({ source: { kind: 'dynamic', entries: { kind: 'inline' } } });
  });

  it('reads a limits block like the conntrack block, and wants a value after an option', () => {
    const [block] = parseOk('limits {\n  size 131072\n}\n').items;
    expect(block).toMatchObject({ kind: 'limits', options: [{ name: { name: 'size' }, value: { value: 131072 } }] });
    const d = parsePolicyFile('limits { size }\n', 'edge.xdpfw').diagnostics;
    expect(d.map((x) => x.message)).toEqual(["expected a number or a duration (30s, 10m, 6h, 2d) after 'size', found '}'"]);
  });
});
