/**
 * `npm run package`'s Debian package: its metadata and file list, and its
 * executable, unpacked (never installed), doing what bin/xdpfw does with no
 * Node on the host. Each command runs in a mount namespace where the
 * package's usr/bin lies over /usr/bin (so it is /usr/bin/xdpfw, as the
 * units name it) and Node's binary is /dev/null; its outputs must equal
 * bin/xdpfw's byte for byte. Building takes a few minutes (the xz of a
 * 100 MiB executable): once per file, or XDPFW_DEB names a package built
 * earlier in the same run.
 */

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureBpffs } from '../../../src/xdp/index.js';
import { bpffsRoot, stateRoot } from '../../../src/xdp/pins.js';
import { scratchDir } from '../../support/scratch.js';
import { buildCli } from '../cli/netns-cli.js';
import { sleep } from '../controller/daemon.js';
import { REPO, TestNetns, run, skipWithoutRoot } from '../xdp/helpers/env.js';
import { netnsKeyOf } from '../xdp/helpers/netns-key.js';

const POLICY = 'policies/edge.xdpfw';
const ALLOWED = 'tcp 198.51.100.1:4242 > 192.0.2.1:443 flags S';
const DROPPED = 'tcp 203.0.113.5:4242 > 192.0.2.1:443 flags S';

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe.skipIf(skipWithoutRoot('running the packaged executable in a mount namespace'))('the Debian package', () => {
  const dir = scratchDir('xdpfw-deb-');
  const unpacked = path.join(dir, 'root');
  const runtimeDir = path.join(dir, 'runtime');
  const version = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
  let deb = '';

  /** `command` (a shell line) with the package's usr/bin over /usr/bin and no Node. */
  const withoutNode = (command: string) => [
    'unshare',
    '-m',
    'sh',
    '-c',
    `mount --make-rprivate / && mount -t overlay overlay -o lowerdir=${unpacked}/usr/bin:/usr/bin /usr/bin && ` +
      `mount --bind /dev/null "$(readlink -f /usr/bin/node)" && ${command}`,
  ];
  const packaged = (...args: string[]): Exit => {
    const [cmd, ...rest] = withoutNode('exec /usr/bin/xdpfw "$@"');
    const r = spawnSync(cmd, [...rest, 'xdpfw', ...args], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const fromDist = (...args: string[]): Exit => {
    const r = spawnSync(path.join(REPO, 'bin/xdpfw'), args, { cwd: REPO, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(() => {
    buildCli();
    deb = process.env.XDPFW_DEB ?? '';
    if (!deb) {
      const out = run('npx', ['tsx', 'scripts/package/main.ts', '--out', path.join(dir, 'out')], { cwd: REPO, timeout: 900_000 });
      deb = path.join(REPO, out.trim().split(/\s+/)[0]);
    }
    run('dpkg', ['-x', deb, unpacked]);
  }, 900_000);

  it('is named and described for this version and architecture, and depends on libbpf, not on Node', () => {
    const arch = run('dpkg', ['--print-architecture']).trim();
    expect(path.basename(deb)).toBe(`xdpfw_${version}_${arch}.deb`);
    const field = (name: string) => run('dpkg-deb', ['-f', deb, name]).trim();
    expect(field('Package')).toBe('xdpfw');
    expect(field('Version')).toBe(version);
    expect(field('Architecture')).toBe(arch);
    expect(field('Section')).toBe('net');
    const depends = field('Depends').split(/,\s*/);
    expect(depends.some((d) => d.startsWith('libbpf1'))).toBe(true);
    expect(depends.some((d) => d.startsWith('libc6'))).toBe(true);
    expect(depends.filter((d) => /node/.test(d))).toEqual([]);
    expect(Number(field('Installed-Size'))).toBeGreaterThan(50_000);
  });

  it('holds the executable, the units, the example configuration as a conffile and the docs, all root-owned', () => {
    const listing = new Map(
      run('dpkg-deb', ['-c', deb])
        .trim()
        .split('\n')
        .map((line) => {
          const [mode, owner, , , , name] = line.split(/\s+/);
          return [name.replace(/^\./, ''), { mode, owner }] as const;
        }),
    );
    const expected: Record<string, string> = {
      '/usr/bin/xdpfw': '-rwxr-xr-x',
      '/usr/lib/systemd/system/xdpfw.service': '-rw-r--r--',
      '/usr/lib/systemd/system/run-xdpfw-bpffs.mount': '-rw-r--r--',
      '/etc/xdpfw/run.yaml': '-rw-r--r--',
      '/usr/share/doc/xdpfw/copyright': '-rw-r--r--',
      '/usr/share/doc/xdpfw/changelog.Debian.gz': '-rw-r--r--',
      '/usr/share/doc/xdpfw/examples/edge.xdpfw': '-rw-r--r--',
      '/usr/share/doc/xdpfw/examples/lists/bogons.txt': '-rw-r--r--',
    };
    for (const [file, mode] of Object.entries(expected)) expect(listing.get(file), file).toEqual({ mode, owner: 'root/root' });
    expect([...listing.values()].filter((e) => e.owner !== 'root/root')).toEqual([]);
    const control = path.join(dir, 'control');
    run('dpkg-deb', ['-e', deb, control]);
    expect(fs.readFileSync(path.join(control, 'conffiles'), 'utf8')).toBe('/etc/xdpfw/run.yaml\n');
    // Installed, never enabled nor started by the package.
    const postinstCommands = fs
      .readFileSync(path.join(control, 'postinst'), 'utf8')
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'));
    expect(postinstCommands.join('\n')).toContain('systemctl daemon-reload');
    expect(postinstCommands.filter((l) => /systemctl (enable|start|restart)|deb-systemd-invoke/.test(l))).toEqual([]);
    expect(fs.readFileSync(path.join(unpacked, 'usr/lib/systemd/system/xdpfw.service'))).toEqual(
      fs.readFileSync(path.join(REPO, 'deploy/xdpfw.service')),
    );
  });

  it('runs no Node: where Node cannot run, check, compile and test print what bin/xdpfw prints', () => {
    const [cmd, ...rest] = withoutNode('node --version');
    expect(spawnSync(cmd, rest).status).not.toBe(0);
    const commands = [['--version'], ['check', POLICY], ['compile', POLICY], ['test', POLICY, '--packet', ALLOWED, '--packet', DROPPED]];
    for (const args of commands) expect(packaged(...args), args.join(' ')).toEqual(fromDist(...args));
    expect(packaged('test', POLICY, '--packet', ALLOWED, '--packet', DROPPED).stdout).toMatch(
      new RegExp(`${ALLOWED} => allow[^\\n]*\\n${DROPPED} => drop by rule 0 \\("blocklist"`),
    );
  });

  it('writes its embedded files into a private directory and loads them from there', () => {
    const [root] = fs.readdirSync(path.join(runtimeDir, 'xdpfw')).filter((n) => !n.startsWith('.'));
    const tree = path.join(runtimeDir, 'xdpfw', root);
    expect(fs.statSync(path.join(runtimeDir, 'xdpfw')).mode & 0o777).toBe(0o700);
    expect(fs.existsSync(path.join(tree, 'koffi.node'))).toBe(true);
    expect(fs.readFileSync(path.join(tree, 'bpf/xdpfw.bpf.o'))).toEqual(fs.readFileSync(path.join(REPO, 'bpf/xdpfw.bpf.o')));
  });

  const systemdAnalyze = spawnSync('sh', ['-c', 'command -v systemd-analyze']).status === 0;
  if (!systemdAnalyze) console.warn('SKIP: systemd-analyze is not installed; the units are not verified');
  it.skipIf(!systemdAnalyze)('has units that systemd-analyze verifies', () => {
    const units = ['xdpfw.service', 'run-xdpfw-bpffs.mount'].map((u) => path.join(unpacked, 'usr/lib/systemd/system', u));
    const [cmd, ...rest] = withoutNode(`systemd-analyze verify --man=no ${units.join(' ')}`);
    const r = spawnSync(cmd, rest, { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  describe('xdpfw run', () => {
    const ns = new TestNetns('deb');
    let netns = '';
    let daemon: ChildProcess | undefined;

    beforeAll(() => {
      ensureBpffs();
      ns.create();
      netns = netnsKeyOf(ns.name);
    });

    afterAll(async () => {
      if (daemon && daemon.exitCode === null) {
        const closed = new Promise((r) => daemon!.once('close', r));
        daemon.kill('SIGTERM');
        await closed;
      }
      ns.destroy();
      fs.rmSync(path.join(bpffsRoot(), netns), { recursive: true, force: true });
      fs.rmSync(path.join(stateRoot(), netns), { recursive: true, force: true });
    });

    it('compiles its policy in a worker thread and attaches it', async () => {
      const policy = path.join(dir, 'veth0.xdpfw');
      fs.writeFileSync(policy, 'interface veth0 {\n  default allow\n  drop udp dport 4000 name "udp-4000"\n}\n');
      const [cmd, ...rest] = withoutNode(
        `exec ip netns exec ${ns.name} /usr/bin/xdpfw run --iface veth0 --policy ${policy} --detach-on-exit`,
      );
      const child = spawn(cmd, rest, { env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir } });
      daemon = child;
      let log = '';
      child.stdout.on('data', (d) => (log += d));
      child.stderr.on('data', (d) => (log += d));
      const events = () =>
        log
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg?: string; action?: string; interface?: string; hash?: string });
      const end = Date.now() + 30_000;
      while (!events().some((e) => e.msg === 'running') && child.exitCode === null && Date.now() < end) await sleep(50);
      const attached = events().find((e) => e.action === 'attached');
      expect(attached, log).toMatchObject({ interface: 'veth0' });
      // The worker's compile gives the hash that `xdpfw compile` gives in this process.
      const compiled = JSON.parse(packaged('compile', '--json', policy).stdout) as { interfaces: { hash: string }[] };
      expect(attached!.hash).toBe(compiled.interfaces[0].hash);
    }, 60_000);
  });
});
