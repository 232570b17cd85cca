/**
 * `xdpfw import nft`: the JSON of `nft -j list ruleset` becomes a policy
 * `check` accepts, or located refusals and nothing written (unless
 * --partial), as `import iptables` does; a text ruleset goes through nft in
 * a new network namespace, and without nft a located error asks for the
 * JSON instead.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { findNft, nftTextToJson } from '../../../src/app/nft-text.js';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';
import { compileText } from '../compiler/helpers.js';

const fixtures = join(import.meta.dirname, '../../fixtures/import/nft');
const dir = scratchDir('xdpfw-import-nft-cli-');
const copy = (name: string) => {
  const file = join(dir, name);
  copyFileSync(join(fixtures, name), file);
  return file;
};
const errorsOf = (policy: string) => compileText(policy).diagnostics.filter((d) => d.severity === 'error');

const nft = findNft();
const root = process.getuid?.() === 0;

describe('xdpfw import nft', () => {
  it('writes a policy check accepts from the JSON, each rule under the nft rule it comes from', async () => {
    const file = copy('server.json');
    const r = await runCli('import', 'nft', file, '--iface', 'eth0');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `# ${file}:299: table inet filter chain input handle 16: tcp dport @web accept\n  # public web\n  allow tcp dport { 80, 443, 8000-8099 }\n`,
    );
    expect(errorsOf(r.stdout)).toEqual([]);
    expect(r.stderr).toContain(`${file}:120:1: warning[import-loopback]: iifname "lo": left out`);
    const out = join(dir, 'server.xdpfw');
    expect((await runCli('import', 'nft', file, '--iface', 'eth0', '-o', out)).code).toBe(0);
    expect(readFileSync(out, 'utf8')).toBe(r.stdout);
  });

  it('writes nothing while a rule cannot be carried over, and --partial writes the rest', async () => {
    const file = copy('refused.json');
    const out = join(dir, 'refused.xdpfw');
    const r = await runCli('import', 'nft', file, '-o', out);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${file}:43:1: error[import-nft-limit]: 'limit rate 10 kbytes/second': a rate of 10 kbytes/second counts bytes; xdpfw's limits count packets`,
    );
    expect(r.stderr).toContain(`${file}: 16 rule(s) cannot be translated; nothing written (--partial writes the rest)`);
    expect(existsSync(out)).toBe(false);
    const partial = await runCli('import', 'nft', file, '--partial', '-o', out);
    expect(partial.code).toBe(1);
    expect(
      readFileSync(out, 'utf8').startsWith(`# Not translated (xdpfw import --partial):\n# ${file}:43:1: error[import-nft-limit]`),
    ).toBe(true);
    expect(errorsOf(readFileSync(out, 'utf8'))).toEqual([]);
  });

  it('--json gives the policy, the refusals and the warnings as data', async () => {
    const r = await runCli('import', 'nft', copy('server.json'), '--json');
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { ok: boolean; written: boolean; warnings: { code: string; line: number }[]; policy: string };
    expect(j).toMatchObject({ ok: true, written: true });
    expect(j.warnings.map((w) => `${w.line}:${w.code}`)).toEqual([
      '120:import-loopback',
      '144:import-ct-loose',
      '428:import-reject-with',
      '519:import-log',
    ]);
    expect(j.policy).toContain('interface eth1 {');
  });

  it('reports JSON that is not a ruleset at its line, and an unreadable file', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{\n  "nftables": [\n    {"table": }\n  ]\n}\n');
    const r = await runCli('import', 'nft', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}:3:1: error[import-json]: not JSON (unexpected '}'); give the output of 'nft -j list ruleset'`);
    const missing = await runCli('import', 'nft', join(dir, 'nosuch.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`error[import-file]: cannot read ${join(dir, 'nosuch.json')}: ENOENT`);
  });

  it('without nft, asks for the JSON of a text ruleset', () => {
    expect(nftTextToJson(join(fixtures, 'server.nft'), undefined)).toEqual({
      error: "not JSON, and 'nft' is not installed to read a text ruleset: give the output of 'nft -j list ruleset' instead",
      line: 1,
      column: 1,
    });
  });

  // nft loads the text into a network namespace of its own, which needs root (or user namespaces).
  it.skipIf(nft === undefined || !root)('reads a text ruleset through nft in a new network namespace, as its JSON', async () => {
    const text = await runCli('import', 'nft', copy('server.nft'), '--iface', 'eth0');
    const json = await runCli('import', 'nft', copy('server.json'), '--iface', 'eth0');
    expect(text.code, text.stderr).toBe(0);
    const rules = (policy: string) => policy.split('\n').filter((l) => !l.trim().startsWith('#'));
    expect(rules(text.stdout)).toEqual(rules(json.stdout));
  });

  it.skipIf(nft === undefined || !root)('locates what nft refuses in a text ruleset where nft says', async () => {
    const file = join(dir, 'bad.nft');
    writeFileSync(file, 'table inet filter {\n  chain input {\n    tcp dport frobnicate accept\n  }\n}\n');
    const r = await runCli('import', 'nft', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${file}:3:\\d+: error\\[import-nft-text\\]: nft refused the ruleset: `));
    expect(r.stderr).toContain(`${file}: 1 error(s) reading the dump; nothing written`);
  });
});
