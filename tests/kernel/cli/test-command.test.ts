import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';
import { skipWithoutRoot } from '../../support/kernel.js';

const dir = scratchDir('xdpfw-test-cmd-');
const edge = join(import.meta.dirname, '../../../policies/edge.xdpfw');

describe.skipIf(skipWithoutRoot('xdpfw test'))('xdpfw test judges packets with the kernel program', () => {
  it('prints the verdict and the rule that matched, with its location', async () => {
    const r = await runCli(
      'test',
      edge,
      '--packet',
      'tcp 203.0.113.9:1000 > 192.0.2.1:80 flags S',
      '--packet',
      'tcp 198.51.100.1:4242 > 192.0.2.1:22 flags S',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tcp 203.0.113.9:1000 > 192.0.2.1:80 flags S => drop by rule 0 ("blocklist", ');
    expect(r.stdout).toContain('tcp 198.51.100.1:4242 > 192.0.2.1:22 flags S => drop by default');
  });

  it('judges ct state rules in the state a packet names (new when it names none), touching no table', async () => {
    const policy = join(dir, 'ct.xdpfw');
    writeFileSync(
      policy,
      'interface eth0 {\n  default drop\n  allow ct state established,related name "return"\n  drop ct state invalid name "invalid"\n  allow tcp dport 22 ct state new name "ssh"\n}\n',
    );
    const r = await runCli(
      'test',
      policy,
      '--packet',
      'tcp 198.51.100.1:443 > 192.0.2.1:40000 flags SA ct established',
      '--packet',
      'tcp 198.51.100.1:443 > 192.0.2.1:40000 flags A ct invalid',
      '--packet',
      'tcp 198.51.100.1:4242 > 192.0.2.1:22 flags S',
      '--packet',
      'tcp 198.51.100.1:443 > 192.0.2.1:40000 flags SA',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('ct established => allow by rule 0 ("return", ');
    expect(r.stdout).toContain('ct invalid => drop by rule 1 ("invalid", ');
    expect(r.stdout).toContain('192.0.2.1:22 flags S => allow by rule 2 ("ssh", ');
    expect(r.stdout).toContain('192.0.2.1:40000 flags SA => drop by default');
  });

  it('says which audit rules counted a packet, and that mode audit passes what the policy drops', async () => {
    const policy = join(dir, 'audit.xdpfw');
    writeFileSync(
      policy,
      'interface eth0 {\n  default drop\n  audit reject tcp dport 25 name "no-smtp"\n  allow tcp dport 25\n}\n' +
        'interface eth1 {\n  mode audit\n  drop udp name "no-udp"\n}\n',
    );
    const smtp = await runCli('test', policy, '--iface', 'eth0', '--packet', 'tcp 198.51.100.1:4242 > 192.0.2.1:25 flags S');
    expect(smtp.code, smtp.stderr).toBe(0);
    expect(smtp.stdout).toMatch(
      /flags S => allow by rule 1 \(allow tcp dport 25, .*\) \[audited by rule 0 \("no-smtp", .*audit\.xdpfw:3:3\)\]$/m,
    );
    const udp = await runCli('test', policy, '--iface', 'eth1', '--packet', 'udp 198.51.100.1:4242 > 192.0.2.1:53', '--json');
    expect(udp.code, udp.stderr).toBe(0);
    expect(JSON.parse(udp.stdout).cases[0]).toMatchObject({ verdict: 'drop', enforced: false, rule: { name: 'no-udp' }, audited: [] });
  });

  it('passes a cases file whose every case holds, exit 0', async () => {
    const cases = join(dir, 'ok.cases');
    writeFileSync(
      cases,
      [
        '# the SPEC example, as a GitOps pipeline would test it',
        'tcp 192.0.2.3:4242 > 192.0.2.1:22 flags S => allow ssh-admins',
        'tcp 198.51.100.7:4242 > 192.0.2.1:443 flags S => drop blocklist',
        'udp [2001:db8::1]:5353 > [2001:db8::2]:53 => allow',
        'icmp 198.51.100.1 > 192.0.2.1 type echo-request => allow',
        'icmp 198.51.100.1 > 192.0.2.1 type echo-reply => drop default',
        'icmpv6 2001:db8::1 > 2001:db8::2 type nd-neighbor-solicit => allow',
      ].join('\n'),
    );
    const r = await runCli('test', edge, '--cases', cases);
    expect(r.stdout).toContain('6 passed, 0 failed');
    expect(r.code).toBe(0);
  });

  it('lists each mismatching case with its line and what was expected, exit 1; --json names rules as objects', async () => {
    const cases = join(dir, 'bad.cases');
    writeFileSync(
      cases,
      'tcp 192.0.2.3:4242 > 192.0.2.1:22 flags S => drop\nudp 10.0.0.1:1 > 192.0.2.1:53 => allow default\nicmp 198.51.100.1 > 192.0.2.1 type echo-reply => allow\n',
    );
    const r = await runCli('test', edge, '--cases', cases, '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toEqual({
      interface: 'eth0',
      passed: 0,
      failed: 3,
      cases: [
        {
          line: 1,
          packet: 'tcp 192.0.2.3:4242 > 192.0.2.1:22 flags S',
          verdict: 'allow',
          decidedBy: 'rule',
          enforced: true,
          audited: [],
          rule: { index: 3, id: 'ssh-admins', name: 'ssh-admins', file: edge, line: 17, col: 3 },
          fragment: false,
          expected: { verdict: 'drop', rule: null },
          ok: false,
        },
        {
          line: 2,
          packet: 'udp 10.0.0.1:1 > 192.0.2.1:53',
          verdict: 'drop',
          decidedBy: 'rule',
          enforced: true,
          audited: [],
          rule: { index: 1, id: expect.stringMatching(/^rule-[0-9a-f]{12}$/), name: null, file: edge, line: 15, col: 3 },
          fragment: false,
          expected: { verdict: 'allow', rule: 'default' },
          ok: false,
        },
        {
          line: 3,
          packet: 'icmp 198.51.100.1 > 192.0.2.1 type echo-reply',
          verdict: 'drop',
          decidedBy: 'default',
          enforced: true,
          audited: [],
          rule: null,
          fragment: false,
          expected: { verdict: 'allow', rule: null },
          ok: false,
        },
      ],
    });
    const human = await runCli('test', edge, '--cases', cases);
    expect(human.stdout).toContain(`MISMATCH ${cases}:1: tcp 192.0.2.3:4242 > 192.0.2.1:22 flags S => allow by rule 3 ("ssh-admins", `);
    expect(human.stdout).toContain('(expected drop)');
  });
});
