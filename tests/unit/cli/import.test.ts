/**
 * `xdpfw import iptables`: a dump it can carry over entirely becomes a
 * policy `check` accepts, on stdout or in -o; a dump with a rule it cannot
 * carry over writes nothing unless --partial, which lists the refusals at
 * the policy's top; either way every refusal is located and the exit is 1.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';
import { compileText } from '../compiler/helpers.js';

const dir = scratchDir('xdpfw-import-cli-');
const dump = (name: string, rules: string[]) => {
  const file = join(dir, name);
  writeFileSync(file, ['*filter', ':INPUT DROP [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', ...rules, 'COMMIT', ''].join('\n'));
  return file;
};
const CLEAN = [
  '-A INPUT -i eth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  '-A INPUT -i eth0 -p tcp -m multiport --dports 80,443 -j ACCEPT',
  '-A INPUT -i eth0 -p udp --dport 161 -j DROP',
];

describe('xdpfw import iptables', () => {
  it('writes a policy check accepts, each rule under the line it comes from', async () => {
    const file = dump('clean.save', CLEAN);
    const r = await runCli('import', 'iptables', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `interface eth0 {\n  default drop\n  # ${file} holds iptables rules: IPv6 packets were never judged by them, and pass\n  allow ip6\n`,
    );
    expect(r.stdout).toContain(
      `# ${file}:6: -A INPUT -i eth0 -p tcp -m multiport --dports 80,443 -j ACCEPT\n  allow tcp dport { 80, 443 }\n`,
    );
    const checked = compileText(r.stdout);
    expect(checked.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const out = join(dir, 'clean.xdpfw');
    expect((await runCli('import', 'iptables', file, '-o', out)).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(r.stdout);
  });

  it('writes nothing while a rule cannot be carried over, and says where each one is', async () => {
    const file = dump('refused.save', [...CLEAN, '-A INPUT -m set --match-set blocklist src -j DROP', '-A INPUT -o eth1 -j DROP']);
    const out = join(dir, 'refused.xdpfw');
    const r = await runCli('import', 'iptables', file, '-o', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:8:`);
    expect(r.stderr).toContain(`${file}:9:`);
    expect(r.stderr).toMatch(/error\[import-[a-z-]+\]: .*-o eth1/);
    expect(r.stderr).toContain(`${file}: 2 rule(s) cannot be translated; nothing written (--partial writes the rest)`);
    expect(existsSync(out)).toBe(false);
  });

  it('with --partial writes the rest, the refusals listed at the top, and still exits 1', async () => {
    const file = dump('partial.save', [...CLEAN, '-A INPUT -m set --match-set blocklist src -j DROP']);
    const out = join(dir, 'partial.xdpfw');
    const r = await runCli('import', 'iptables', file, '--partial', '-o', out);
    expect(r.code).toBe(1);
    const text = readFileSync(out, 'utf8');
    expect(text.startsWith(`# Not translated (xdpfw import --partial):\n# ${file}:8:`)).toBe(true);
    expect(compileText(text).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.stderr).toContain(`${file}: 1 rule(s) not translated, listed at the top of the policy`);
  });

  it('--ipset gives -m set its sets, and a malformed ipset file is reported at its own lines', async () => {
    const file = dump('sets.save', ['-A INPUT -m set --match-set blocklist src -j DROP']);
    const sets = join(dir, 'ipsets.save');
    writeFileSync(sets, 'create blocklist hash:net family inet\nadd blocklist 203.0.113.0/24\n');
    const r = await runCli('import', 'iptables', file, '--ipset', sets);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('set blocklist {\n  203.0.113.0/24\n}\n');
    expect(r.stdout).toContain('  drop src @blocklist\n');
    writeFileSync(sets, 'create blocklist hash:net family inet\nadd blocklist\n');
    const bad = await runCli('import', 'iptables', file, '--ipset', sets);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`${sets}:2:14: error[import-ipset-syntax]: 'add blocklist' needs an entry`);
  });

  it('reports a malformed dump by line, and an unreadable file', async () => {
    const file = dump('bad.save', ['-A INPUT -p tcp --dport']);
    const r = await runCli('import', 'iptables', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${file}:5:\\d+: error\\[import-syntax\\]: -A INPUT: '--dport' needs a value`));
    expect(r.stderr).toContain(`${file}: 1 error(s) reading the dump; nothing written`);
    const missing = await runCli('import', 'iptables', join(dir, 'nosuch.save'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`error[import-file]: cannot read ${join(dir, 'nosuch.save')}: ENOENT`);
  });

  it('--json gives the policy, the refusals and the warnings as data', async () => {
    const file = dump('json.save', [...CLEAN, '-A INPUT -i lo -j ACCEPT']);
    const r = await runCli('import', 'iptables', file, '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as {
      ok: boolean;
      written: boolean;
      errors: unknown[];
      warnings: { code: string; line: number }[];
      policy: string;
    };
    expect(j).toMatchObject({ ok: true, written: true, errors: [] });
    expect(j.warnings).toEqual([expect.objectContaining({ code: 'import-loopback', line: 8 })]);
    expect(j.policy).toContain('interface eth0 {');
  });
});
