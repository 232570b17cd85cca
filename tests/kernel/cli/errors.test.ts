import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';
import { skipWithoutRoot } from '../../support/kernel.js';

const dir = scratchDir('xdpfw-cli-errors-');
// An interface name no host has: apply must stop before touching anything.
const policy = join(dir, 'missing-iface.xdpfw');
writeFileSync(policy, 'interface xdpfw-nope0 {\n  default drop\n  allow icmp\n}\n');

describe.skipIf(skipWithoutRoot('CLI kernel errors'))('errors of commands that reach the kernel', () => {
  it('apply names an interface that does not exist, exit 3, and attaches nothing', async () => {
    const r = await runCli('apply', policy);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain("error[interface-not-found]: interface 'xdpfw-nope0' does not exist in this network namespace");
    expect(r.stderr).toContain("hint: list interfaces with 'ip link'");
  });

  it('stats on an interface xdpfw does not enforce says so, exit 1', async () => {
    const r = await runCli('stats', '--iface', 'xdpfw-nope0');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[not-attached]: xdpfw is not attached to xdpfw-nope0');
  });

  it('detach of an interface xdpfw does not enforce says so, exit 1', async () => {
    const r = await runCli('detach', '--iface', 'xdpfw-nope0');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error[not-attached]: xdpfw is not attached to xdpfw-nope0');
  });
});
