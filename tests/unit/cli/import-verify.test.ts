/**
 * `xdpfw import iptables FILE --verify [POLICY]`: the proof's three answers
 * as the user reads them (verified; a packet decided otherwise, with the
 * rules on both sides; not verified, and why), their JSON, and the exit
 * code that CI scripts test.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { verifyLines } from '../../../src/cli/commands/import-verify.js';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';

const dir = scratchDir('xdpfw-import-verify-');
const DUMP = [
  '*filter',
  ':INPUT DROP [0:0]',
  ':web - [0:0]',
  '-A INPUT -i eth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  '-A INPUT -i eth0 -p tcp -j web',
  '-A web -p tcp -m multiport --dports 80,443 -j ACCEPT',
  '-A web -j RETURN',
  'COMMIT',
  '',
].join('\n');
const file = join(dir, 'web.rules');
writeFileSync(file, DUMP);

async function translation(): Promise<string> {
  const r = await runCli('import', 'iptables', file);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe('xdpfw import iptables --verify', () => {
  it('proves its own translation and says so', async () => {
    const out = join(dir, 'web.xdpfw');
    const r = await runCli('import', 'iptables', file, '--verify', '-o', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`^${file}: verified: ${out} decides every packet as ${file} does on interface 'eth0' \\([\\d,]+ regions, \\d+ ms\\)\\n$`),
    );
    const stdout = await runCli('import', 'iptables', file, '--verify');
    expect(stdout.stderr).toContain(`: verified: the translation decides every packet as ${file} does`);
  });

  it('finds the packet an edited policy decides otherwise, with the rule on each side, and exits 1', async () => {
    const edited = join(dir, 'edited.xdpfw');
    writeFileSync(edited, (await translation()).replace('allow tcp dport { 80, 443 }', 'allow tcp dport { 80, 443, 8080 }'));
    const r = await runCli('import', 'iptables', file, '--verify', edited, '-o', join(dir, 'unused.xdpfw'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      [
        `${file}: ${edited} decides otherwise than ${file} on interface 'eth0': tcp 0.0.0.0:0 > 0.0.0.0:8080 flags none`,
        `  ${file}: drop, by the policy of chain INPUT`,
        `  ${edited}: allow, by rule 'allow tcp dport { 80, 443, 8080 }' at ${edited}:`,
      ].join('\n'),
    );
    const j = await runCli('import', 'iptables', file, '--verify', edited, '--json');
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({
      ok: false,
      verify: {
        result: 'counterexample',
        policy: edited,
        iface: 'eth0',
        packet: 'tcp 0.0.0.0:0 > 0.0.0.0:8080 flags none',
        source: { verdict: 'drop', rules: [] },
        translation: { verdict: 'allow', rule: 'allow tcp dport { 80, 443, 8080 }' },
      },
    });
  });

  it('names the source rules, jump first, that decide a packet the policy decides otherwise', async () => {
    const edited = join(dir, 'dropped.xdpfw');
    writeFileSync(edited, (await translation()).replace('allow tcp dport { 80, 443 }', 'drop tcp dport { 80, 443 }'));
    const r = await runCli('import', 'iptables', file, '--verify', edited);
    expect(r.stderr).toContain(
      `  ${file}: allow, by ${file}:5: -A INPUT -i eth0 -p tcp -j web > ${file}:6: -A web -p tcp -m multiport --dports 80,443 -j ACCEPT\n`,
    );
  });

  it('refuses to prove a translation that leaves rules out', async () => {
    const refused = join(dir, 'refused.rules');
    writeFileSync(refused, DUMP.replace('COMMIT', '-A INPUT -o eth1 -j DROP\nCOMMIT'));
    const r = await runCli('import', 'iptables', refused, '--verify', '--partial', '-o', join(dir, 'partial.xdpfw'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${refused}: not verified: rules were refused, and a proof of the rest would prove nothing\n`);
  });

  it('pairs a limit with its source rule by the comment above it, and follows the limit both ways', async () => {
    const limited = join(dir, 'limited.xdpfw');
    writeFileSync(
      limited,
      (await translation()).replace('allow tcp dport { 80, 443 }', 'allow tcp dport { 80, 443 } limit rate 100/second'),
    );
    const r = await runCli('import', 'iptables', file, '--verify', limited);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `  ${limited}: drop, by the default\n` +
        `  when the limit or set of ${file}:6 (-A web -p tcp -m multiport --dports 80,443 -j ACCEPT) does not hold for it\n`,
    );
  });

  it('says which rule it cannot pair, and that a policy file with errors is not proved', async () => {
    const bare = join(dir, 'bare.xdpfw');
    writeFileSync(bare, 'interface eth0 {\n  default drop\n  allow tcp dport { 80, 443 } limit rate 100/second\n}\n');
    const r = await runCli('import', 'iptables', file, '--verify', bare);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${file}: not verified: on interface 'eth0', rule 'allow tcp dport { 80, 443 } limit rate 100/second' has a limit or a dynamic set, and no '# FILE:LINE:' comment above it names the source rule it comes from\n`,
    );
    const broken = join(dir, 'broken.xdpfw');
    writeFileSync(broken, 'interface eth0 { allow tcp dport 99999 }\n');
    const b = await runCli('import', 'iptables', file, '--verify', broken);
    expect(b.code).toBe(1);
    expect(b.stderr).toContain(`${broken}: 1 error(s); nothing was applied`);
  });

  it('says when the proof grows too large', () => {
    const report = { outcome: { kind: 'too-large' as const, iface: 'eth0' }, policyFile: 'p.xdpfw', milliseconds: 1 };
    expect(verifyLines(report, 'rules.v4')).toEqual({
      ok: false,
      lines: ["rules.v4: not verified: on interface 'eth0' the proof cuts the header space into more than 1,000,000 regions"],
    });
  });
});

describe('xdpfw import iptables --ip6', () => {
  it('merges the ip6tables dump into the policy and proves each family against its own dump', async () => {
    const v6 = join(dir, 'web.v6.rules');
    writeFileSync(v6, `# Generated by ip6tables-save v1.8.9\n${DUMP.replace('-A web -p tcp', '-A web -s 2001:db8::/32 -p tcp')}`);
    const r = await runCli('import', 'iptables', file, '--ip6', v6, '--verify');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`  # ${file}:4: -A INPUT -i eth0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n  # ${v6}:5:`);
    expect(r.stdout).toContain('  allow tcp dport { 80, 443 } src 2001:db8::/32\n');
    expect(r.stdout).not.toContain('allow ip6\n');
    expect(r.stderr).toContain(
      `${file} and ${v6}: verified: the translation decides every packet as ${file} and ${v6} do on interface 'eth0'`,
    );
    const alone = await runCli('import', 'iptables', v6);
    expect(alone.stdout).toContain(`  # ${v6} holds ip6tables rules: IPv4 packets were never judged by them, and pass\n  allow ip4\n`);
  });
});
