import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import {
  BPFFS_MOUNT_PATH,
  SERVICE_PATH,
  allowedSyscalls,
  parseUnit,
  serviceList,
  serviceUnit,
  serviceValue,
} from '../../support/systemd-unit.js';

/** The most exposure `systemd-analyze security` may find in the shipped unit (0 = locked down, 10 = none). */
const MAX_EXPOSURE = 3.0;

const analyze = (...args: string[]) => spawnSync('systemd-analyze', args, { encoding: 'utf8' });

describe('the unit file parser', () => {
  it('keeps repeated keys, joins continued lines and skips comments', () => {
    const unit = parseUnit('# c\n[Service]\nA=1\n; c\nA=2 \\\n  3\n[Install]\nB=x=y\n');
    expect(unit.get('Service')?.get('A')).toEqual(['1', '2    3']);
    expect(serviceList(unit, 'A')).toEqual(['1', '2', '3']);
    expect(unit.get('Install')?.get('B')).toEqual(['x=y']);
  });
});

describe('deploy/xdpfw.service', () => {
  it(`scores at most ${MAX_EXPOSURE} in systemd-analyze security`, () => {
    // --threshold makes the exit status say "over"; the number is read from the text either way.
    const r = analyze('security', '--offline=true', `--threshold=${MAX_EXPOSURE * 10}`, SERVICE_PATH);
    const exposure = /Overall exposure level for xdpfw\.service: (\d+\.\d+)/.exec(r.stdout + r.stderr)?.[1];
    expect(exposure, r.stdout + r.stderr).toBeDefined();
    expect(Number(exposure)).toBeLessThanOrEqual(MAX_EXPOSURE);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  });

  it('passes systemd-analyze verify together with its bpffs mount unit', () => {
    // verify insists that ExecStart's program exists: an installed xdpfw is not there in a
    // checkout, so the copies run node instead, with the unit's arguments unchanged.
    const dir = scratchDir('xdpfw-units-');
    const service = fs.readFileSync(SERVICE_PATH, 'utf8');
    const rewritten = service.replace(/^ExecStart=\/usr\/bin\/xdpfw /m, `ExecStart=${process.execPath} `);
    expect(rewritten).not.toBe(service);
    fs.writeFileSync(path.join(dir, 'xdpfw.service'), rewritten);
    fs.copyFileSync(BPFFS_MOUNT_PATH, path.join(dir, 'run-xdpfw-bpffs.mount'));
    const r = analyze('verify', path.join(dir, 'xdpfw.service'), path.join(dir, 'run-xdpfw-bpffs.mount'));
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('pulls in the mount unit of the bpffs it pins into, whose name systemd derives from its Where=', () => {
    const unit = serviceUnit();
    const mount = parseUnit(fs.readFileSync(BPFFS_MOUNT_PATH, 'utf8')).get('Mount');
    const where = mount?.get('Where')?.[0] ?? '';
    const r = spawnSync('systemd-escape', ['--path', '--suffix=mount', where], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe(path.basename(BPFFS_MOUNT_PATH));
    expect(where).toBe('/run/xdpfw/bpffs');
    expect(mount?.get('Type')).toEqual(['bpf']);
    expect(unit.get('Unit')?.get('Requires')).toContain(path.basename(BPFFS_MOUNT_PATH));
    expect(unit.get('Unit')?.get('After')).toContain(path.basename(BPFFS_MOUNT_PATH));
    // The pins live under /run/xdpfw: a RuntimeDirectory= there would be deleted on stop.
    expect(serviceValue(unit, 'RuntimeDirectory')).toBeUndefined();
    expect(serviceList(unit, 'ReadWritePaths')).toContain('/run/xdpfw');
  });

  it('lets the daemon make the system calls it needs and no more of its kind', () => {
    const allowed = allowedSyscalls(serviceUnit());
    for (const needed of ['bpf', 'setns', 'socket', 'execve', 'mmap', 'epoll_wait']) expect(allowed, needed).toContain(needed);
    for (const denied of ['mount', 'init_module', 'kexec_load', 'settimeofday', 'sethostname', 'ptrace']) {
      expect(allowed, denied).not.toContain(denied);
    }
  });
});
