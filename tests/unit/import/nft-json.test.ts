/*
 * The nftables importer: the reader of `nft -j list ruleset` output, and the
 * translation of rulesets written for this repository (tests/fixtures/
 * import/nft/*.nft, their JSON made by nft in a new network namespace): a
 * typical inet server against a golden policy (rewritten only on purpose,
 * with UPDATE_SNAPSHOTS=1), and each construct the importer refuses with
 * its message. Smaller rulesets are written here as JSON.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatImportDiagnostic } from '../../../src/import/codes.js';
import type { Translation } from '../../../src/import/iptables-translate.js';
import { parseNftJson } from '../../../src/import/nft-json.js';
import { translateNft } from '../../../src/import/nft-translate.js';
import { expectCompiles } from './helpers.js';

const fixtures = join(import.meta.dirname, '../../fixtures/import/nft');
const fixture = (name: string) => readFileSync(join(fixtures, name), 'utf8');

function translateText(json: string, interfaces?: string[], file = 'ruleset.json'): Translation {
  const read = parseNftJson(json);
  expect(read.errors).toEqual([]);
  return translateNft(read.ruleset!, { file, ...(interfaces ? { interfaces } : {}) });
}

const codes = (t: Translation, kind: 'refusals' | 'warnings') => t[kind].map((d) => `${d.line}:${d.code}`);

type Rule = unknown[];
interface ChainSpec {
  name: string;
  hook?: string;
  prio?: number;
  policy?: 'accept' | 'drop';
  rules?: Rule[];
}

/** A one-line ruleset of one table, as `nft -j list ruleset` writes it. */
function ruleset(family: string, chains: ChainSpec[], sets: object[] = [], table = 'filter'): string {
  const objects: object[] = [{ metainfo: { version: '1.0.6', json_schema_version: 1 } }, { table: { family, name: table, handle: 1 } }];
  for (const set of sets) objects.push({ ['map' in set ? 'map' : 'set']: { family, table, handle: 9, ...set } });
  chains.forEach((c, i) =>
    objects.push({
      chain: {
        family,
        table,
        name: c.name,
        handle: i + 1,
        ...(c.hook ? { type: 'filter', hook: c.hook, prio: c.prio ?? 0, policy: c.policy ?? 'accept' } : {}),
      },
    }),
  );
  let handle = 100;
  for (const c of chains)
    for (const expr of c.rules ?? []) objects.push({ rule: { family, table, chain: c.name, handle: handle++, expr } });
  return JSON.stringify({ nftables: objects });
}

const payload = (protocol: string, field: string) => ({ payload: { protocol, field } });
const match = (left: unknown, right: unknown, op = '==') => ({ match: { op, left, right } });
const accept = { accept: null };
const drop = { drop: null };

/** The policy's rule lines of the one block, without comments and the block's first lines. */
function rulesOf(t: Translation): string[] {
  return t.policy
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('interface') && !l.startsWith('default') && l !== '}');
}

describe('reading nft -j list ruleset output', () => {
  it('keeps the line each object starts on when the JSON is pretty-printed, and 1 when it is on one line', () => {
    const pretty = parseNftJson(fixture('server.json'));
    expect(pretty.errors).toEqual([]);
    expect(pretty.ruleset!.chains.find((c) => c.name === 'input')).toMatchObject({ hook: 'input', policy: 'drop', line: 80 });
    expect(pretty.ruleset!.rules[0]).toMatchObject({ chain: 'input', handle: 8, line: 120 });
    expect(pretty.ruleset!.sets.map((s) => s.name)).toEqual(['blocklist', 'admins6', 'web']);
    const compact = parseNftJson(JSON.stringify(JSON.parse(fixture('server.json'))));
    expect(new Set(compact.ruleset!.rules.map((r) => r.line))).toEqual(new Set([1]));
  });

  it('unwraps set elements written with their options', () => {
    const json = ruleset('inet', [], [{ name: 's', type: 'ipv4_addr', elem: [{ elem: { val: '192.0.2.1', timeout: 60 } }] }]);
    expect(parseNftJson(json).ruleset!.sets[0].elem).toEqual(['192.0.2.1']);
  });

  it('refuses what is not the JSON of a ruleset, at its line', () => {
    const broken = parseNftJson('{\n  "nftables": [\n    {"table": }\n  ]\n}\n');
    expect(broken.errors).toEqual([expect.objectContaining({ code: 'import-json', line: 3 })]);
    expect(broken.errors[0].message).toBe("line 3: not JSON (unexpected '}'); give the output of 'nft -j list ruleset'");
    expect(parseNftJson('{"nftables": [').errors[0].message).toBe(
      "line 1: not JSON (it ends too soon); give the output of 'nft -j list ruleset'",
    );
    expect(parseNftJson('{"rules": []}').errors.map((d) => d.message)).toEqual([
      `line 1: no "nftables" array at the top: not the output of 'nft -j list ruleset'`,
    ]);
    const noExpr = parseNftJson('{"nftables": [\n{"rule": {"family": "inet", "table": "t", "chain": "c", "handle": 1}}\n]}');
    expect(noExpr.errors.map((d) => d.message)).toEqual([`line 2: a "rule" without its chain or its "expr" list`]);
  });
});

describe('translating a typical inet server', () => {
  const translation = translateText(fixture('server.json'), ['eth0'], 'server.json');

  it('inlines the jump and the goto and expands the ct state verdict map (golden)', () => {
    const golden = join(fixtures, 'server.xdpfw');
    if (process.env.UPDATE_SNAPSHOTS === '1') writeFileSync(golden, translation.policy);
    expect(existsSync(golden)).toBe(true);
    expect(translation.policy).toBe(readFileSync(golden, 'utf8'));
  });

  it('refuses nothing, and warns of the loopback rule, the reject kind and the log', () => {
    expect(translation.refusals).toEqual([]);
    expect(codes(translation, 'warnings')).toEqual([
      '120:import-loopback',
      '144:import-ct-loose',
      '428:import-reject-with',
      '519:import-log',
    ]);
    expect(formatImportDiagnostic('server.json', translation.warnings[0])).toBe(
      `server.json:120:1: warning[import-loopback]: iifname "lo": left out, XDP never sees loopback traffic: 'table inet filter chain input handle 8: iifname "lo" accept'`,
    );
  });

  it('gives a policy the compiler accepts, judging both families', () => {
    expectCompiles(translation.policy);
    expect(translation.policy).not.toContain('allow ip4\n');
    expect(translation.program?.family).toBe('both');
  });
});

describe('refusing what xdpfw cannot say', () => {
  const translation = translateText(fixture('refused.json'));
  const message = (line: number) => translation.refusals.find((d) => d.line === line)?.message;

  it('refuses every construct in one run, each at its rule', () => {
    expect(codes(translation, 'refusals')).toEqual([
      '43:import-nft-limit',
      '88:import-nft-set',
      '113:import-nft-limit',
      '168:import-unsupported',
      '212:import-negation',
      '237:import-icmp-code',
      '262:import-ct-state',
      '286:import-tcp-flags',
      '314:import-unsupported',
      '339:import-interface',
      '363:import-interface',
      '387:import-unsupported',
      '411:import-unsupported',
      '436:import-unsupported',
      '487:import-unsupported',
      '515:import-unsupported',
    ]);
  });

  it('names the construct and cites the rule by table, chain and handle', () => {
    expect(message(43)).toBe(
      "line 43: 'limit rate 10 kbytes/second': a rate of 10 kbytes/second counts bytes; xdpfw's limits count packets: 'table inet filter chain input handle 3: tcp dport 22 ct state new limit rate 10 kbytes/second accept'",
    );
    expect(message(88)).toContain("'add @seen { ip saddr }': 'add' keeps the expiry an address already in @seen has");
    expect(message(113)).toContain('is keyed by several fields; xdpfw keeps a bucket per source or destination prefix');
    expect(message(168)).toContain("'ip saddr . tcp dport { 192.0.2.1 . 22 }' is not translated");
    expect(message(212)).toContain("'ip protocol != tcp': a negated protocol is not translated");
    expect(message(237)).toContain("'icmp code frag-needed': xdpfw matches the ICMP type only");
    expect(message(262)).toContain("'ct state untracked': state untracked has no xdpfw equivalent");
    expect(message(286)).toContain('any of several flags is not translated');
    expect(message(314)).toContain("'th' ports without 'meta l4proto tcp' or 'udp' before them are not translated");
    expect(message(339)).toContain(`the wildcard 'eth*' is not translated`);
    expect(message(363)).toContain(`'iifname != "eth0"': a negated interface is not translated`);
    expect(message(387)).toContain("'meta mark 1' is not translated");
    expect(message(436)).toContain("the statement 'meta mark set 2' is not translated");
    expect(message(487)).toBe(
      "line 487: 'dnat to 10.0.0.2:80' in a prerouting chain rewrites the destination before the input chain judges it, while XDP judges the packet as it arrives; the translation would match other addresses and ports: 'table ip nat chain prerouting handle 2: tcp dport 8080 dnat to 10.0.0.2:80'",
    );
    expect(message(515)).toContain("'redirect to :22' in a prerouting chain");
  });

  it('leaves the refused rules out of a policy that still compiles', () => {
    expect(translation.policy).toContain('  default allow\n}');
    expect(rulesOf(translation)).toEqual([]);
    expectCompiles(translation.policy);
  });

  it('refuses an iptables-nft compat expression, asking for iptables-save output', () => {
    const xt = translateText(ruleset('ip', [{ name: 'INPUT', hook: 'input', rules: [[{ xt: { type: 'match', name: 'recent' } }, drop]] }]));
    expect(xt.refusals.map((d) => d.message)).toEqual([
      'line 1: \'xt match recent\' is an iptables extension kept by iptables-nft, which the nft JSON does not describe; translate the output of iptables-save with \'xdpfw import iptables\' instead: \'table ip filter chain INPUT handle 100: {"xt":{"type":"match","name":"recent"}} drop\'',
    ]);
  });

  it('refuses a meter keyed by a port and a jump to a chain that is not there', () => {
    const meter = { meter: { name: 'm', key: payload('tcp', 'dport'), stmt: { limit: { rate: 1, per: 'second' } } } };
    const t = translateText(ruleset('inet', [{ name: 'input', hook: 'input', rules: [[meter, drop], [{ jump: { target: 'nowhere' } }]] }]));
    expect(t.refusals.map((d) => d.code)).toEqual(['import-nft-limit', 'import-target']);
    expect(t.refusals[0].message).toContain("is keyed by 'tcp dport'; xdpfw keeps a bucket per source or destination prefix");
    expect(t.refusals[1].message).toContain("'nowhere' is not a regular chain of table inet filter");
  });
});

describe('input base chains', () => {
  it('refuses several base chains with rules on the input hook', () => {
    const json = JSON.stringify({
      nftables: [
        ...JSON.parse(ruleset('inet', [{ name: 'input', hook: 'input', rules: [[drop]] }])).nftables,
        ...JSON.parse(ruleset('ip', [{ name: 'INPUT', hook: 'input', prio: 10, rules: [[accept]] }], [], 'other')).nftables.slice(1),
      ],
    });
    const t = translateText(json);
    expect(t.policy).toBe('');
    expect(t.refusals.map((d) => `${d.code}: ${d.message}`)).toEqual([
      'import-hooks: line 1: 2 base chains judge the input hook: table inet filter chain input (priority 0, line 1), table ip other chain INPUT (priority 10, line 1); a packet must pass each in turn, and xdpfw cannot compose them into one block',
    ]);
  });

  it('leaves out an input base chain without rules whose policy is accept, with a warning', () => {
    const json = JSON.stringify({
      nftables: [
        ...JSON.parse(
          ruleset('inet', [{ name: 'input', hook: 'input', policy: 'drop', rules: [[match(payload('tcp', 'dport'), 22), accept]] }]),
        ).nftables,
        ...JSON.parse(ruleset('ip6', [{ name: 'idle', hook: 'input', prio: 10 }], [], 'other')).nftables.slice(1),
      ],
    });
    const t = translateText(json, ['eth0']);
    expect(t.refusals).toEqual([]);
    expect(t.warnings.map((d) => d.message)).toEqual([
      'line 1: table ip6 other chain idle also hooks input, with no rule and policy accept: left out',
    ]);
    expect(rulesOf(t)).toEqual(['allow tcp dport 22']);
  });

  it('refuses a ruleset with no input base chain, and ignores the other hooks', () => {
    const t = translateText(ruleset('inet', [{ name: 'forward', hook: 'forward', rules: [[drop]] }]));
    expect(t.refusals.map((d) => d.message)).toEqual([
      'line 1: no base chain of type filter hooks input in a table of family ip, ip6 or inet',
    ]);
  });
});

describe('families', () => {
  const server = (family: string) =>
    translateText(
      ruleset(family, [{ name: 'input', hook: 'input', policy: 'drop', rules: [[match(payload('tcp', 'dport'), 22), accept]] }]),
      ['eth0'],
    );

  it('lets the other family pass before the rules of an ip or ip6 table, and judges both for inet', () => {
    expect(server('ip').policy).toContain(
      '  # ruleset.json holds nftables rules of table ip filter: IPv6 packets were never judged by them, and pass\n  allow ip6\n',
    );
    expect(rulesOf(server('ip6'))).toEqual(['allow ip4', 'allow tcp dport 22']);
    expect(rulesOf(server('inet'))).toEqual(['allow tcp dport 22']);
    for (const family of ['ip', 'ip6', 'inet']) expectCompiles(server(family).policy);
  });

  it('writes meta nfproto as ip4 or ip6, and drops what a jump makes of the other family', () => {
    const rules = [
      [match({ meta: { key: 'nfproto' } }, 'ipv4'), { jump: { target: 'v4' } }],
      [match({ meta: { key: 'nfproto' } }, 'ipv4', '!='), match(payload('udp', 'dport'), 546), accept],
      [match({ meta: { key: 'l4proto' } }, { set: ['tcp', 'udp'] }), match(payload('ip', 'protocol'), 'tcp'), drop],
    ];
    const v4 = [
      [match(payload('ip6', 'saddr'), { prefix: { addr: '2001:db8::', len: 32 } }), drop],
      [match(payload('tcp', 'dport'), { range: [1000, 2000] }, '!='), accept],
    ];
    const t = translateText(
      ruleset('inet', [
        { name: 'input', hook: 'input', rules },
        { name: 'v4', rules: v4 },
      ]),
      ['eth0'],
    );
    expect(t.refusals).toEqual([]);
    expect(rulesOf(t)).toEqual(['allow ip4 tcp dport { 0-999, 2001-65535 }', 'allow ip6 udp dport 546', 'drop ip4 tcp']);
    expectCompiles(t.policy);
  });
});

describe('log, counter and comments', () => {
  it('gives log to the verdict of a rule that logs and counts, its prefix and comment above it, and one warning', () => {
    const rule = { family: 'inet', table: 'filter', chain: 'input', handle: 7, comment: 'ssh', expr: [] as unknown[] };
    rule.expr = [match({ ct: { key: 'state' } }, ['new', 'established'], 'in'), { counter: null }, { log: { prefix: 'ssh ' } }, accept];
    const json = JSON.parse(ruleset('inet', [{ name: 'input', hook: 'input' }])) as { nftables: object[] };
    json.nftables.push({ rule });
    const t = translateText(JSON.stringify(json), ['eth0']);
    expect(t.policy).toContain(
      '  # ruleset.json:1: table inet filter chain input handle 7: ct state new,established counter log prefix "ssh " accept\n  # ssh\n  # log prefix "ssh "\n  allow ct state new,established log\n',
    );
    expect(t.warnings.map((d) => d.code)).toEqual(['import-ct-loose', 'import-log']);
    expect(t.warnings[1].message).toMatch(/^line 1: 'log' becomes 'log' .* 100 events a second per interface \(a burst of 200\)/);
    expectCompiles(t.policy);
  });

  it('logs what reaches a jump, a verdict map or nothing with audit rules, and leaves out a log on loopback', () => {
    const log = { log: null };
    const tcp = match({ meta: { key: 'l4proto' } }, 'tcp');
    const rules = [
      [match({ meta: { key: 'iifname' } }, 'lo'), log],
      [tcp, log, { jump: { target: 'ssh' } }],
      [log, { vmap: { key: payload('udp', 'dport'), data: { set: [[53, accept]] } } }],
      [match(payload('ip', 'saddr'), '192.0.2.9'), log],
    ];
    const ssh = [[match(payload('tcp', 'dport'), 22), drop]];
    const t = translateText(
      ruleset('inet', [
        { name: 'input', hook: 'input', rules },
        { name: 'ssh', rules: ssh },
      ]),
      ['eth0'],
    );
    expect(rulesOf(t)).toEqual([
      'audit allow tcp log',
      'drop tcp dport 22',
      'audit allow log',
      'allow udp dport 53',
      'audit allow src 192.0.2.9 log',
    ]);
    expect(t.refusals).toEqual([]);
    expect(t.warnings.map((d) => d.code)).toEqual(['import-loopback', 'import-log']);
    expectCompiles(t.policy);
  });
});

describe('verdict maps, sets and flags', () => {
  it('expands a named verdict map with a jump, reaching the chain it names', () => {
    const map = {
      map: 'verdict',
      name: 'ports',
      type: 'inet_service',
      flags: [],
      elem: [
        [22, { jump: { target: 'ssh' } }],
        [23, drop],
      ],
    };
    const rules = [[{ vmap: { key: payload('tcp', 'dport'), data: '@ports' } }]];
    const ssh = [[match(payload('ip', 'saddr'), '192.0.2.1'), accept]];
    const t = translateText(
      ruleset(
        'inet',
        [
          { name: 'input', hook: 'input', rules },
          { name: 'ssh', rules: ssh },
        ],
        [map],
      ),
      ['eth0'],
    );
    expect(rulesOf(t)).toEqual(['allow tcp dport 22 src 192.0.2.1', 'drop tcp dport 23']);
  });

  it('reads interface sets as one rule an interface, negated address sets, port comparisons and flag forms', () => {
    const rules = [
      [
        match({ meta: { key: 'iifname' } }, { set: ['eth0', 'eth1'] }),
        match(payload('ip', 'saddr'), { set: ['10.0.0.0', { prefix: { addr: '172.16.0.0', len: 12 } }] }, '!='),
        drop,
      ],
      [match(payload('tcp', 'dport'), 1024, '<'), match(payload('tcp', 'flags'), 18), accept],
      [match({ '&': [payload('tcp', 'flags'), ['fin', 'syn', 'rst', 'ack']] }, 'syn'), match({ ct: { key: 'state' } }, ['new']), accept],
      [match({ '&': [payload('tcp', 'flags'), 'rst'] }, 0, '!='), drop],
      [
        match(payload('icmpv6', 'type'), { set: ['echo-request', 1] }),
        match(payload('ip6', 'daddr'), { range: ['2001:db8::', '2001:db8::3'] }),
        accept,
      ],
    ];
    const t = translateText(ruleset('inet', [{ name: 'input', hook: 'input', rules }]), ['eth0', 'eth1']);
    expect(t.refusals).toEqual([]);
    const [eth0] = t.policy.split('interface eth1');
    expect(rulesOf({ ...t, policy: eth0 })).toEqual([
      'drop src ! { 10.0.0.0, 172.16.0.0/12 }',
      'allow tcp flags syn,ack / fin,syn,rst,psh,ack,urg,ece,cwr dport 0-1023',
      'allow tcp flags syn / fin,syn,rst,ack ct state new',
      'drop tcp flags rst / rst',
      'allow icmpv6 type { destination-unreachable, echo-request } dst 2001:db8::/126',
    ]);
    expectCompiles(t.policy);
  });
});
