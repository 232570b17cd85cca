import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { objPin } from '../../../src/xdp/libbpf.js';
import { existingMountVisible, mountHolding, newMountVisible, parseMountinfo } from '../../../src/xdp/mount-visibility.js';
import { loadObject } from '../../../src/xdp/object.js';
import {
  checkBpffs,
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

/** The content of `file` once it exists (a detached child writes it); throws after 20 s. */
async function waitForFile(file: string): Promise<string> {
  for (let waited = 0; waited < 20_000; waited += 50) {
    if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${file} did not appear within 20 s`);
}

describe('whether a mount is one other processes see', () => {
  const line = (id: number, parent: number, dev: string, mountPoint: string, tags: string, fsType = 'ext4') =>
    `${id} ${parent} ${dev} / ${mountPoint} rw,relatime ${tags}${tags ? ' ' : ''}- ${fsType} src rw`;
  const host = [line(26, 1, '254:0', '/', ''), line(45, 26, '254:0', '/run/netns', 'shared:1')].join('\n');

  it('reads mountinfo, its octal escapes and its peer groups', () => {
    const [m] = parseMountinfo(line(7, 2, '0:39', '/run/a\\040b', 'shared:4 master:2', 'bpf'));
    expect(m).toEqual({ id: 7, parentId: 2, device: '0:39', root: '/', mountPoint: '/run/a b', shared: 4, master: 2, fsType: 'bpf' });
    expect(mountHolding(parseMountinfo(host), '/run/netns/x')?.id).toBe(45);
    expect(mountHolding(parseMountinfo(host), '/run/netnsx')?.id).toBe(26);
  });

  it("allows a new mount in PID 1's mount namespace, or on a mount shared with it, and nowhere else", () => {
    const tables = (self: string) => ({ self: parseMountinfo(self), init: parseMountinfo(host) });
    expect(newMountVisible('/run/xdpfw/bpffs', tables(host))).toBe(true);
    // ip netns exec: copies of the host's mounts, slaves of their peer groups
    const netnsExec = [line(90, 80, '254:0', '/', ''), line(91, 90, '254:0', '/run/netns', 'master:1')].join('\n');
    expect(newMountVisible('/run/xdpfw/bpffs', tables(netnsExec))).toBe(false);
    expect(newMountVisible('/run/netns/x', tables(netnsExec))).toBe(false);
    const peer = [line(90, 80, '254:0', '/', ''), line(91, 90, '254:0', '/run/netns', 'shared:1')].join('\n');
    expect(newMountVisible('/run/netns/x', tables(peer))).toBe(true);
    expect(newMountVisible('/run/xdpfw/bpffs', { self: parseMountinfo(host), init: null })).toBe(false);
  });

  it('takes an existing bpffs as visible when PID 1 has the same filesystem at the same place', () => {
    const withBpffs = (id: number, dev: string) => `${host}\n${line(id, 26, dev, '/run/xdpfw/bpffs', '', 'bpf')}`;
    const init = parseMountinfo(withBpffs(44, '0:39'));
    expect(existingMountVisible('/run/xdpfw/bpffs', { self: parseMountinfo(withBpffs(44, '0:39')), init })).toBe(true);
    expect(existingMountVisible('/run/xdpfw/bpffs', { self: parseMountinfo(withBpffs(95, '0:39')), init })).toBe(true);
    expect(existingMountVisible('/run/xdpfw/bpffs', { self: parseMountinfo(withBpffs(95, '0:52')), init })).toBe(false);
  });
});

describe('pin and state paths', () => {
  it('keys pins by network namespace inode and cookie, and interface', () => {
    const [, inode, cookie] = /^net-(\d+)-(\d+)$/.exec(netnsId()) ?? [];
    expect(Number(inode)).toBe(fs.statSync('/proc/self/ns/net').ino);
    expect(BigInt(cookie)).toBeGreaterThan(0n);
    expect(interfacePinDir('eth0', { netnsId: 'net-42' })).toBe('/run/xdpfw/bpffs/net-42/eth0');
    expect(statePath('eth0', { runDir: '/x', netnsId: 'net-42' })).toBe('/x/state/net-42/eth0.json');
  });

  it("adopts an earlier version's net-<inode> directory of this namespace, and keeps the one it has", () => {
    const runDir = tmpRunDir();
    try {
      const legacy = path.join(runDir, 'state', `net-${fs.statSync('/proc/thread-self/ns/net').ino}`);
      fs.mkdirSync(legacy, { recursive: true });
      fs.writeFileSync(path.join(legacy, 'eth0.json'), '{"old":true}');
      expect(readState('eth0', { runDir })).toEqual({ old: true });
      expect(fs.existsSync(legacy)).toBe(false);
      expect(path.basename(path.dirname(statePath('eth0', { runDir })))).toBe(netnsId());
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
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

  it('is not mounted from ip netns exec started with PID 1 as its parent (setsid), where /proc/1 tells nothing', async () => {
    const other = tmpRunDir();
    const ns = `xdpfw-t-pins-${process.pid}`;
    run('ip', ['netns', 'add', ns]);
    try {
      const result = path.join(other, 'result');
      const script = `import fs from 'node:fs';
        import { ensureBpffs } from '${REPO}src/xdp/pins.ts';
        let said;
        try { ensureBpffs({ runDir: '${other}' }); said = 'mounted'; } catch (e) { said = e.code ?? e.message; }
        fs.writeFileSync('${result}-tmp', process.ppid + ' ' + said);
        fs.renameSync('${result}-tmp', '${result}');`;
      // setsid -f forks: the command's parent exits at once and PID 1 adopts it, as systemd would start it.
      const child = `setsid -f ip netns exec ${ns} ${process.execPath} --import ${TS_LOADER} --input-type=module -e "$0" </dev/null >/dev/null 2>&1`;
      run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', child, script]);
      const said = await waitForFile(result);
      expect(said).toMatch(/^1 /); // the scenario: PID 1 is the parent
      expect(said).toBe('1 bpffs-missing');
      expect(fs.existsSync(path.join(other, 'bpffs'))).toBe(false);
    } finally {
      run('ip', ['netns', 'del', ns]);
      fs.rmSync(other, { recursive: true, force: true });
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
          'bpffs-missing',
          3,
          `no bpffs that other processes see is mounted at ${root}: this process runs in a mount namespace the host ` +
            'does not share (ip netns exec, a private service?): pins mounted here would vanish with it, detaching the program',
          `mount it on the host: mkdir -p ${root} && mount -t bpf bpf ${root}`,
        ].join('|'),
      );
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('is not pinned into when the bpffs there is private to the mount namespace', () => {
    const other = tmpRunDir();
    try {
      const root = path.join(other, 'bpffs');
      fs.mkdirSync(root);
      const script = `import { ensureBpffs } from '${REPO}src/xdp/pins.ts';
        try { ensureBpffs({ runDir: '${other}' }); console.log('pinned there'); } catch (e) { console.log(e.code); }`;
      const child = `mount -t bpf bpf ${root} && exec ${process.execPath} --import ${TS_LOADER} --input-type=module -e "$0"`;
      expect(run('unshare', ['-m', '--propagation', 'private', 'sh', '-c', child, script]).trim()).toBe('bpffs-missing');
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('is checked at every change: unmounted or replaced under a running process, it is refused, not mounted anew', () => {
    const other = tmpRunDir();
    const root = path.join(other, 'bpffs');
    try {
      expect(ensureBpffs({ runDir: other }).mounted).toBe(true);
      expect(() => checkBpffs({ runDir: other })).not.toThrow();
      run('umount', [root]);
      expect(() => checkBpffs({ runDir: other })).toThrow(expect.objectContaining({ code: 'bpffs-missing' }));
      expect(run('stat', ['-f', '-c', '%t', root]).trim()).not.toBe('cafe4a11'); // and not mounted again
      run('mount', ['-t', 'bpf', 'bpf', root]);
      expect(() => checkBpffs({ runDir: other })).toThrow(expect.objectContaining({ code: 'bpffs-replaced' }));
      expect(() => ensureBpffs({ runDir: other })).toThrow(expect.objectContaining({ code: 'bpffs-replaced' }));
    } finally {
      try {
        run('umount', [root]);
      } catch {
        /* not mounted */
      }
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});
