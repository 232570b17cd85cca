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
    const r = await runCli('test', edge, '--packet', 'tcp 203.0.113.9:1000 > 192.0.2.1:80 flags S', '--packet', 'tcp 198.51.100.1:4242 > 192.0.2.1:22 flags S');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tcp 203.0.113.9:1000 > 192.0.2.1:80 flags S => drop by rule 0 ("blocklist", ');
    expect(r.stdout).toContain('tcp 198.51.100.1:4242 > 192.0.2.1:22 flags S => drop by default');
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

  it('lists each mismatching case with its line and what was expected, exit 1', async () => {
    const cases = join(dir, 'bad.cases');
    writeFileSync(cases, 'tcp 192.0.2.3:4242 > 192.0.2.1:22 flags S => drop\nudp 10.0.0.1:1 > 192.0.2.1:53 => allow default\n');
    const r = await runCli('test', edge, '--cases', cases, '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ passed: 0, failed: 2 });
    expect(report.cases[0]).toMatchObject({ line: 1, verdict: 'allow', ok: false, expected: { action: 'drop' } });
    expect(report.cases[1]).toMatchObject({ line: 2, verdict: 'drop', ok: false });
    const human = await runCli('test', edge, '--cases', cases);
    expect(human.stdout).toContain(`MISMATCH ${cases}:1: tcp 192.0.2.3:4242 > 192.0.2.1:22 flags S => allow by rule 3 ("ssh-admins", `);
    expect(human.stdout).toContain('(expected drop)');
  });
});
