/**
 * LOG, NFLOG and nft's `log`: each becomes `log` on xdpfw rules, an
 * `audit allow … log` rule where the source's rule decides nothing, its
 * limit kept and its prefix a comment, with one import-log warning a dump;
 * and since audit rules count toward the data plane's 64 rules with a
 * tail, the importers refuse the rules past them rather than write a
 * policy the compiler refuses.
 */
import { describe, expect, it } from 'vitest';
import { parseIptablesSave } from '../../../src/import/iptables-save.js';
import { translateIptables, type Translation } from '../../../src/import/iptables-translate.js';
import { parseNftJson } from '../../../src/import/nft-json.js';
import { translateNft } from '../../../src/import/nft-translate.js';
import { compileText } from '../compiler/helpers.js';

function translate(rules: string[]): Translation {
  const save = parseIptablesSave(['*filter', ':INPUT DROP [0:0]', ':log-drop - [0:0]', ...rules, 'COMMIT', ''].join('\n'));
  expect(save.errors).toEqual([]);
  return translateIptables(save, { file: 'rules.v4', interfaces: ['eth0'] });
}

/** The block's lines after its prologue (default, the IPv6 pass), comments included. */
const blockLines = (t: Translation) =>
  t.policy
    .split('\n')
    .slice(t.policy.split('\n').indexOf('  allow ip6') + 1)
    .filter((l) => l.startsWith('  '));

function compileErrors(policy: string): string[] {
  return compileText(policy)
    .diagnostics.filter((d) => d.severity === 'error')
    .map((d) => `${d.code}: ${d.message}`);
}

describe('LOG and NFLOG', () => {
  const t = translate([
    '-A INPUT -p tcp -m tcp --dport 23 -j LOG --log-prefix "telnet: " --log-level 4',
    '-A INPUT -p tcp -m tcp --dport 23 -j DROP',
    '-A INPUT -p udp -j log-drop',
    '-A log-drop -m limit --limit 3/min --limit-burst 10 -j NFLOG --nflog-prefix "udp" --nflog-group 5',
    '-A log-drop -j DROP',
  ]);

  it('become audit allow rules with log, keeping their limit, and their prefix as a comment', () => {
    expect(t.refusals).toEqual([]);
    expect(blockLines(t)).toEqual([
      '  # rules.v4:4: -A INPUT -p tcp -m tcp --dport 23 -j LOG --log-prefix "telnet: " --log-level 4',
      '  # log prefix "telnet: "',
      '  audit allow tcp dport 23 log',
      '  # rules.v4:5: -A INPUT -p tcp -m tcp --dport 23 -j DROP',
      '  drop tcp dport 23',
      '  # rules.v4:6: -A INPUT -p udp -j log-drop',
      '  # rules.v4:7: -A log-drop -m limit --limit 3/min --limit-burst 10 -j NFLOG --nflog-prefix "udp" --nflog-group 5',
      '  # log prefix "udp"',
      '  audit allow udp limit rate 3/minute burst 10 log',
      '  # rules.v4:6: -A INPUT -p udp -j log-drop',
      '  # rules.v4:8: -A log-drop -j DROP',
      '  drop udp',
    ]);
    expect(compileErrors(t.policy)).toEqual([]);
  });

  it('warn once a dump, at the first, of what the log stream keeps', () => {
    expect(t.warnings.map((d) => `${d.line}:${d.code}`)).toEqual(['4:import-log']);
    expect(t.warnings[0].message).toContain(
      "xdpfw's log stream keeps at most 100 events a second per interface (a burst of 200), each the packet's headers",
    );
  });

  it('refuse a LOG with a limit inlined twice, which would keep two buckets', () => {
    const twice = translate([
      '-A INPUT -p udp -j log-drop',
      '-A INPUT -p tcp -j log-drop',
      '-A log-drop -m limit --limit 3/min -j LOG',
      '-A log-drop -j DROP',
    ]);
    expect(twice.refusals.map((d) => `${d.line}:${d.code}`)).toEqual(['6:import-limit']);
    expect(compileErrors(twice.policy)).toEqual([]);
  });
});

describe('more than 64 rules with a tail', () => {
  it('are refused past the 64th, LOG rules and limits alike, and the policy still compiles', () => {
    const rules = Array.from({ length: 60 }, (_, i) => `-A INPUT -s 192.0.2.${i} -j LOG`);
    rules.push(...Array.from({ length: 6 }, (_, i) => `-A INPUT -p tcp -m tcp --dport ${i + 1} -m limit --limit 1/s -j ACCEPT`));
    const t = translate(rules);
    expect(t.refusals.map((d) => `${d.line}:${d.code}`)).toEqual(['68:import-tails', '69:import-tails']);
    expect(t.refusals[0].message).toBe(
      "line 68: interface 'eth0' would have 66 rules with a LOG, a limit or a recent list, and xdpfw takes at most 64; this one, rule 65 of them, is left out: '-A INPUT -p tcp -m tcp --dport 5 -m limit --limit 1/s -j ACCEPT'",
    );
    expect(t.policy).not.toContain('dport 5 ');
    expect(compileErrors(t.policy)).toEqual([]);
    // Without the refusal, the compiler would refuse the policy.
    const all = translate(rules.slice(0, 64));
    expect(all.refusals).toEqual([]);
    expect(compileErrors(all.policy.replace('  default drop\n', '  default drop\n  audit allow tcp log\n'))).toEqual([
      expect.stringMatching(/^too-many-tails: /),
    ]);
  });

  it('count per interface: a rule of another interface takes none of its tails', () => {
    const rules = Array.from({ length: 64 }, (_, i) => `-A INPUT -i eth0 -s 192.0.2.${i} -j LOG`);
    rules.push('-A INPUT -i eth1 -j LOG', '-A INPUT -j NFLOG');
    const t = translate(rules);
    expect(t.refusals.map((d) => `${d.line}:${d.code}`)).toEqual(['69:import-tails']);
    expect(t.refusals[0].message).toContain("interface 'eth0' would have 65 rules");
    expect(compileErrors(t.policy)).toEqual([]);
  });

  it('are refused in an nft ruleset too', () => {
    const family = 'inet';
    const objects: object[] = [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family, name: 'filter', handle: 1 } },
      { chain: { family, table: 'filter', name: 'input', handle: 2, type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
    ];
    for (let i = 0; i < 65; i++) {
      const expr = [{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: `192.0.2.${i}` } }, { log: null }];
      objects.push({ rule: { family, table: 'filter', chain: 'input', handle: 10 + i, expr } });
    }
    const read = parseNftJson(JSON.stringify({ nftables: objects }));
    const t = translateNft(read.ruleset!, { file: 'ruleset.json', interfaces: ['eth0'] });
    expect(t.refusals.map((d) => d.code)).toEqual(['import-tails']);
    expect(t.refusals[0].message).toContain('rule 65 of them');
    expect(compileErrors(t.policy)).toEqual([]);
  });
});
