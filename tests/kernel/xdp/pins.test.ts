import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { objPin } from '../../../src/xdp/libbpf.js';
import { loadObject } from '../../../src/xdp/object.js';
import {
  ensureBpffs,
  interfacePinDir,
  netnsId,
  pinFd,
  pinName,
  pinnedInterfaces,
  readState,
  removeState,
  statePath,
  writeState,
} from '../../../src/xdp/pins.js';
import { REPO, TS_LOADER, fixtureObject, run, skipWithoutRoot } from './helpers/env.js';
import { scratchDir } from '../../support/scratch.js';

const runRoot = scratchDir('xdpfw-run-');
const tmpRunDir = (): string => fs.mkdtempSync(path.join(runRoot, 'r-'));

describe('pin and state paths', () => {
  it('keys pins by network namespace inode and interface', () => {
    expect(netnsId()).toBe(`net-${fs.statSync('/proc/self/ns/net').ino}`);
    expect(interfacePinDir('eth0', { netnsId: 'net-42' })).toBe('/run/xdpfw/bpffs/net-42/eth0');
    expect(statePath('eth0', { runDir: '/x', netnsId: 'net-42' })).toBe('/x/state/net-42/eth0.json');
  });

  it('encodes the dots of VLAN interface names, which bpffs refuses', () => {
    expect(pinName('eth0.100')).toBe('eth0%2e100');
    expect(pinName('a%b')).toBe('a%25b');
    expect(() => pinName('../etc')).toThrow(/invalid interface name/);
    expect(() => pinName('a/b')).toThrow(/invalid interface name/);
  });

  it('writes, reads and removes state JSON atomically', () => {
    const runDir = tmpRunDir();
    try {
      const o = { runDir, netnsId: 'net-1' };
      expect(readState('eth0', o)).toBeUndefined();
      writeState('eth0', { hash: 'abc', rules: [{ name: 'ssh' }] }, o);
      expect(readState('eth0', o)).toEqual({ hash: 'abc', rules: [{ name: 'ssh' }] });
      expect(fs.readdirSync(path.dirname(statePath('eth0', o)))).toEqual(['eth0.json']);
      fs.writeFileSync(statePath('eth0', o), '{nope');
      expect(() => readState('eth0', o)).toThrow(/is not valid JSON/);
      writeState('eth1', {}, o);
      removeState('eth0', o);
      expect(readState('eth0', o)).toBeUndefined();
      expect(fs.existsSync(path.dirname(statePath('eth0', o)))).toBe(true);
      removeState('eth1', o);
      expect(fs.existsSync(path.dirname(statePath('eth0', o)))).toBe(false); // no empty directories left behind
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skipWithoutRoot('bpffs tests'))('the bpffs', () => {
  const runDir = tmpRunDir();
  afterAll(() => {
    try {
      run('umount', [path.join(runDir, 'bpffs')]);
    } catch {
      /* not mounted */
    }
    fs.rmSync(runDir, { recursive: true, force: true });
  });

  it('is mounted once and found mounted afterwards', () => {
    expect(ensureBpffs({ runDir })).toEqual({ mounted: true, path: path.join(runDir, 'bpffs') });
    expect(ensureBpffs({ runDir })).toEqual({ mounted: false, path: path.join(runDir, 'bpffs') });
    expect(run('stat', ['-f', '-c', '%t', path.join(runDir, 'bpffs')]).trim()).toBe('cafe4a11');
  });

  it('holds pins under encoded interface names; a dotted pin name is refused by the kernel', () => {
    const o = loadObject(fixtureObject('mini'));
    try {
      const fd = o.maps.get('xdpfw_counters')!.fd;
      const dir = interfacePinDir('eth0.7', { runDir });
      pinFd(fd, path.join(dir, 'counters'), 'map counters');
      pinFd(fd, path.join(dir, 'counters'), 'map counters'); // replacing a pin is fine
      expect(fs.readdirSync(dir)).toEqual(['counters']);
      expect(pinnedInterfaces({ runDir })).toEqual(['eth0.7']);
      expect(() => pinFd(fd, path.join(runDir, 'bpffs', 'a.b'), 'map counters')).toThrow(/refuses names with dots/);
      expect(objPin(fd, path.join(runDir, 'bpffs', 'a.b'))).toBe(-1); // the kernel's answer: -EPERM
    } finally {
      o.close();
    }
  });

  it('is not mounted from a private mount namespace, where it would vanish with the process', () => {
    const other = tmpRunDir();
    try {
      // As the CLI reports it: an error the operator can act on, not "internal error (a bug)".
      const script = `import { ensureBpffs } from '${REPO}src/xdp/pins.ts';
        import { toUserError } from '${REPO}src/app/kernel-errors.ts';
        try { ensureBpffs({ runDir: '${other}' }); console.log('mounted'); }
        catch (e) { const u = toUserError(e); console.log(u ? [u.code, u.exitCode, u.message, u.hint].join('|') : 'a bug: ' + e.message); }`;
      const out = run('unshare', ['-m', process.execPath, '--import', TS_LOADER, '--input-type=module', '-e', script]);
      const root = path.join(other, 'bpffs');
      expect(out.trim()).toBe(
        [
          'bpffs-private-mount',
          3,
          `no bpffs is mounted at ${root}, and this process runs in a private mount namespace (ip netns exec?): ` +
            'pins made there would vanish with it, detaching the program',
          `mount it in the host first: mkdir -p ${root} && mount -t bpf bpf ${root}`,
        ].join('|'),
      );
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
