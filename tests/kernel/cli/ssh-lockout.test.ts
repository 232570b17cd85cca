/**
 * `apply` run over SSH (SSH_CONNECTION in its environment) in a test
 * namespace: a policy that drops the session's packets on veth0 is refused
 * with `lockout`, exit 1, and nothing is attached; the same policy goes on
 * with --force, and a policy that allows the session goes on without it.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { skipWithoutRoot } from '../../support/kernel.js';
import { scratchDir } from '../../support/scratch.js';
import type { TestNetns } from '../xdp/helpers/env.js';
import { CLI, cliNamespace, xdpfwIn, type Exit } from './netns-cli.js';
import { REPO } from '../xdp/helpers/env.js';

const SESSION = '10.99.0.2 50022 10.99.0.1 22';

/** xdpfw in `ns` with SSH_CONNECTION set, as sshd sets it for a login shell. */
function xdpfwOverSsh(ns: TestNetns, ...args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    const env = { ...process.env, SSH_CONNECTION: SESSION };
    const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CLI, ...args], { cwd: REPO, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.skipIf(skipWithoutRoot('apply over SSH'))('apply over SSH refuses to cut its own session', () => {
  const { ns } = cliNamespace('sshlock');
  const dir = scratchDir('xdpfw-ssh-lockout-');
  const cutting = join(dir, 'cutting.xdpfw');
  writeFileSync(cutting, 'interface veth0 {\n  allow icmpv6\n  allow tcp dport 22 src 192.0.2.0/24 name "admins"\n  default drop\n}\n');
  const keeping = join(dir, 'keeping.xdpfw');
  writeFileSync(keeping, 'interface veth0 {\n  allow icmpv6\n  allow tcp dport 22 src 10.99.0.0/24 name "admins"\n  default drop\n}\n');

  it('a policy that drops the session is refused with lockout, exit 1, and nothing is attached', async () => {
    const r = await xdpfwOverSsh(ns, 'apply', cutting);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(
      "error[lockout]: this policy would cut the SSH session apply runs in (tcp 10.99.0.2:50022 > 10.99.0.1:22): on interface 'veth0', " +
        `'default drop' at ${cutting}:4:3 drops: tcp 10.99.0.2:50022 > 10.99.0.1:22 flags A ct established; nothing was applied`,
    );
    expect(r.stderr).toContain(
      "hint: allow the session's traffic (and add 'protect tcp dport 22 src 10.99.0.2' so check proves it), or pass --force to apply anyway",
    );
    const status = await xdpfwIn(ns, 'status', '--json');
    expect(status.stdout).not.toContain('"veth0"');
  });

  it('a policy that allows the session is applied', async () => {
    const r = await xdpfwOverSsh(ns, 'apply', keeping);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('veth0: attached policy');
  });

  it('--force applies a policy that drops the session', async () => {
    const r = await xdpfwOverSsh(ns, 'apply', '--force', cutting);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('veth0: replaced policy');
  });
});
