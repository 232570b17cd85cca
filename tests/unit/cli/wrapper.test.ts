/**
 * bin/xdpfw, the command an operator runs: a shell wrapper that starts Node
 * on bin/xdpfw.js with glibc's malloc backing large blocks with huge pages.
 * Needs the build (dist/), as the test command makes it.
 */
import { spawnSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../support/scratch.js';

const WRAPPER = resolve(import.meta.dirname, '../../../bin/xdpfw');
const POLICY = 'interface eth9 {\n  default allow\n  drop tcp dport 22 name "ssh"\n}\n';
const dir = scratchDir('xdpfw-wrapper-');
/** As npm installs it: a symlink in another directory (/usr/bin/xdpfw). */
const linked = join(dir, 'xdpfw');
symlinkSync(WRAPPER, linked);

/** Preloaded into the Node process the wrapper starts: prints the GLIBC_TUNABLES and NODE_EXTRA_CA_CERTS it was given. */
const SHOW = `data:text/javascript,${encodeURIComponent(
  'process.stderr.write(`GLIBC_TUNABLES=${process.env.GLIBC_TUNABLES}\\nNODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}\\n`)',
)}`;

/** `xdpfw check` of a valid policy through the link, with `tunables` (undefined: none) in the caller's environment. */
function tunablesSeen(tunables: string | undefined): {
  seen: string | undefined;
  certs: string | undefined;
  status: number | null;
  stdout: string;
} {
  const file = join(dir, 'good.xdpfw');
  writeFileSync(file, POLICY);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: `--import=${SHOW}`,
    NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt',
  };
  if (tunables === undefined) delete env.GLIBC_TUNABLES;
  else env.GLIBC_TUNABLES = tunables;
  const r = spawnSync(linked, ['check', file], { encoding: 'utf8', env });
  const shown = (name: string) => new RegExp(`^${name}=(.*)$`, 'm').exec(r.stderr)?.[1];
  return { seen: shown('GLIBC_TUNABLES'), certs: shown('NODE_EXTRA_CA_CERTS'), status: r.status, stdout: r.stdout };
}

describe('bin/xdpfw', () => {
  it('runs the CLI through a symlink and passes arguments as given, spaces included', () => {
    const file = join(dir, 'a policy.xdpfw');
    writeFileSync(file, POLICY);
    const r = spawnSync(linked, ['check', file], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('a policy.xdpfw: ok (eth9: 1 rules, default allow)');
  });

  it('starts Node with glibc.malloc.hugetlb=1', () => {
    const r = tunablesSeen(undefined);
    expect(r.seen).toBe('glibc.malloc.hugetlb=1');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('good.xdpfw: ok (eth9: 1 rules, default allow)');
  });

  it('starts Node without NODE_EXTRA_CA_CERTS (certificates it would parse at start, for no TLS it makes)', () => {
    expect(tunablesSeen(undefined).certs).toBe('undefined');
  });

  it("keeps the caller's GLIBC_TUNABLES after its own, so the caller's win", () => {
    const r = tunablesSeen('glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2');
    expect(r.seen).toBe('glibc.malloc.hugetlb=1:glibc.malloc.hugetlb=0:glibc.malloc.arena_max=2');
    expect(r.status).toBe(0);
  });
});
