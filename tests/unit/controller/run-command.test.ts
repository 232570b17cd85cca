import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';

const dir = scratchDir('xdpfw-run-');

describe('xdpfw run: the command line', () => {
  it('exits 2 with every configuration problem when the source is missing', async () => {
    const r = await runCli('run', '--branch', 'x');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('error[config-invalid]: give at least one --iface (or a --config file)');
    expect(r.stderr).toContain('give exactly one of --policy FILE and --git REPO');
    expect(r.stderr).toContain('--branch needs --git');
  });

  it('exits 2 when --config is mixed with per-interface flags', async () => {
    const r = await runCli('run', '--config', '/nonexistent.yaml', '--iface', 'eth0');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--config cannot be combined with --iface');
  });

  it('exits 2 with the file named when the YAML configuration is invalid', async () => {
    const file = path.join(dir, 'run.yaml');
    fs.writeFileSync(file, 'interfaces:\n  - name: eth0\n    policy: p\n    mode: turbo\n');
    const r = await runCli('run', '--config', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: interfaces[0]: mode must be native, generic or auto, not 'turbo'`);
  });

  it('exits 2 naming the configuration file it cannot read', async () => {
    const missing = path.join(dir, 'missing.yaml');
    const r = await runCli('run', '--config', missing);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`error[config-not-found]: cannot read ${missing}: `);
  });

  it('--help lists the controller options', async () => {
    const r = await runCli('run', '--help');
    expect(r.code).toBe(0);
    for (const flag of ['--config', '--policy', '--git', '--branch', '--path', '--poll', '--metrics', '--detach-on-exit']) {
      expect(r.stdout).toContain(flag);
    }
  });
});
