/*
 * The nft importer's limits, meters, dynamic sets and bans: rulesets
 * written for this repository (tests/fixtures/import/nft/stateful*.nft,
 * their JSON made by nft in a new network namespace), one of what it
 * translates against a golden policy (rewritten only on purpose, with
 * UPDATE_SNAPSHOTS=1), one of what it refuses, each with its message.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Translation } from '../../../src/import/iptables-translate.js';
import { parseNftJson } from '../../../src/import/nft-json.js';
import { translateNft } from '../../../src/import/nft-translate.js';
import { compileText } from '../compiler/helpers.js';

const fixtures = join(import.meta.dirname, '../../fixtures/import/nft');

function translateFixture(name: string): Translation {
  const read = parseNftJson(readFileSync(join(fixtures, `${name}.json`), 'utf8'));
  expect(read.errors).toEqual([]);
  return translateNft(read.ruleset!, { file: `${name}.json`, interfaces: ['eth0'] });
}

/** A one-table inet ruleset with the set `banned` (flags timeout, 10m) and the base chain `input` of these rules. */
function inetRuleset(rules: unknown[][]): Translation {
  const family = 'inet';
  const table = 'filter';
  const objects: object[] = [
    { table: { family, name: table, handle: 1 } },
    { set: { family, table, name: 'banned', type: 'ipv4_addr', flags: ['timeout'], timeout: 600 } },
    { chain: { family, table, name: 'input', handle: 2, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    ...rules.map((expr, i) => ({ rule: { family, table, chain: 'input', handle: 10 + i, expr } })),
  ];
  const read = parseNftJson(JSON.stringify({ nftables: objects }));
  expect(read.errors).toEqual([]);
  return translateNft(read.ruleset!, { file: 'ruleset.json', interfaces: ['eth0'] });
}

const errorsOf = (policy: string) =>
  compileText(policy)
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => d.message);

describe('translating limits, meters and bans', () => {
  const translation = translateFixture('stateful');

  it('writes limits, per-prefix limits, the dynamic set and its bans (golden)', () => {
    const golden = join(fixtures, 'stateful.xdpfw');
    if (process.env.UPDATE_SNAPSHOTS === '1') writeFileSync(golden, translation.policy);
    expect(existsSync(golden)).toBe(true);
    expect(translation.policy).toBe(readFileSync(golden, 'utf8'));
  });

  it('refuses and warns of nothing, and gives a policy the compiler accepts', () => {
    expect(translation.refusals).toEqual([]);
    expect(translation.warnings.map((d) => `${d.line}:${d.code}`)).toEqual(['169:import-ct-loose']);
    expect(errorsOf(translation.policy)).toEqual([]);
  });

  it('bans for the update timeout when it differs from the set timeout, and for the set timeout otherwise', () => {
    expect(translation.policy).toContain('set banned dynamic timeout 600s\n');
    expect(translation.policy).toContain('  drop ip4 tcp dport 25 ban @banned 1h\n');
    expect(translation.policy).toContain('  drop ip4 tcp flags syn / syn limit rate over 20/second burst 5 per src ban @banned\n');
  });

  it('translates a ban beside a limit without over, which the compiler warns of (ban-within-rate)', () => {
    const saddr = { payload: { protocol: 'ip', field: 'saddr' } };
    const t = inetRuleset([
      [{ limit: { rate: 20, burst: 5, per: 'second' } }, { set: { op: 'update', elem: saddr, set: '@banned' } }, { drop: null }],
    ]);
    expect(t.refusals).toEqual([]);
    expect(t.policy).toContain('  drop ip4 limit rate 20/second burst 5 ban @banned\n');
    const codes = compileText(t.policy).diagnostics.map((d) => `${d.severity} ${d.code}`);
    expect(codes).toContain('warning ban-within-rate');
    expect(codes.filter((c) => c.startsWith('error'))).toEqual([]);
  });

  it('refuses a dynamic-set match of a set whose name xdpfw does not take', () => {
    const read = parseNftJson(
      JSON.stringify({
        nftables: [
          { set: { family: 'ip', table: 'f', name: 'bad.name', type: 'ipv4_addr', flags: ['timeout'], timeout: 60 } },
          { chain: { family: 'ip', table: 'f', name: 'input', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
          {
            rule: {
              family: 'ip',
              table: 'f',
              chain: 'input',
              handle: 2,
              expr: [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@bad.name' } }, { drop: null }],
            },
          },
        ],
      }),
    );
    const refused = translateNft(read.ruleset!, { file: 'ruleset.json', interfaces: ['eth0'] });
    expect(refused.refusals.map((d) => `${d.code}: ${d.message}`)).toEqual([
      "import-nft-set: line 1: 'ip saddr @bad.name': @bad.name is not a valid xdpfw set name (a letter or _, then letters, digits, _ and -): 'table ip f chain input handle 2: ip saddr @bad.name drop'",
    ]);
  });
});

describe('refusing the limits, meters and set updates xdpfw cannot say', () => {
  const translation = translateFixture('stateful-refused');
  const message = (line: number) => translation.refusals.find((d) => d.line === line)?.message;

  it('refuses each rule, at its line, and writes none of them', () => {
    expect(translation.refusals.map((d) => `${d.line}:${d.code}`)).toEqual([
      '53:import-nft-limit',
      '73:import-nft-limit',
      '106:import-nft-limit',
      '133:import-nft-limit',
      '181:import-nft-limit',
      '223:import-nft-set',
      '273:import-nft-set',
      '310:import-nft-set',
      '347:import-nft-set',
      '384:import-nft-set',
      '446:import-nft-limit',
    ]);
    expect(translation.policy).toContain('  allow ip6\n}');
    expect(errorsOf(translation.policy)).toEqual([]);
  });

  it('says why, citing the rule', () => {
    expect(message(53)).toBe(
      "line 53: 'limit rate 3/day': 3/day is not a whole number an hour, and xdpfw's units are second, minute and hour: 'table ip filter chain input handle 4: limit rate 3/day accept'",
    );
    expect(message(73)).toContain(
      "'tcp dport 22' comes after 'limit rate over 10/second': nft takes a token before testing it, xdpfw only once every match held; move 'limit rate over 10/second' last",
    );
    expect(message(106)).toContain("'limit rate 2/second': a rule has at most one limit");
    expect(message(133)).toContain(
      "'limit rate 1/second': the rule's sets make 2 xdpfw rules of it, each with its own bucket, where nft keeps one",
    );
    expect(message(181)).toContain('a verdict map makes a rule an element, each with its own bucket or ban, where nft keeps one');
    expect(message(223)).toContain(
      "'update @banned { ip saddr timeout 60s }' comes before 'limit rate over 1/second': nft bans every packet that reaches it, xdpfw only those that pass the limit; move the limit first",
    );
    expect(message(273)).toContain(
      "'update @plain { ip saddr }': @plain has no flag timeout, so its entries never expire, while an xdpfw ban lasts a duration",
    );
    expect(message(310)).toContain("'update @banned { ip daddr }': xdpfw's ban adds the source address, not 'ip daddr'");
    expect(message(347)).toContain("'update @banned { ip saddr }': the rule has no verdict for it to go with");
    expect(message(384)).toContain("xdpfw's ban adds the rule's 'per src/24' prefix, where nft adds the source address");
    expect(message(446)).toContain(
      "'meter bytes { ip saddr limit rate over 1 mbytes/second }': a rate of 1 mbytes/second counts bytes; xdpfw's limits count packets",
    );
  });
});
