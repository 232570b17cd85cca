/**
 * A running controller (real file source, real inotify watches, fake
 * kernel) follows its policy through every way an operator,
 * an editor, a deploy tool or Kubernetes replaces it. After each way the
 * policy in force must be what a fresh compile of the disk gives, and each
 * way changes the policy, so a missed edit fails the test.
 */

import fs from 'node:fs';
import path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { loadAndCompile } from '../../../src/app/policy-loader.js';
import type { ControllerConfig } from '../../../src/controller/config.js';
import { Controller } from '../../../src/controller/controller.js';
import { DirectorySourceHost } from '../../../src/controller/sources/file-source.js';
import { scratchDir } from '../../support/scratch.js';
import { FakeKernel, memoryLogger } from './fakes.js';

const tmp = scratchDir('xdpfw-replace-');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let version = 0;
/** A policy whose hash differs from every earlier one. */
const policy = () => `interface eth0 {\n  default allow\n  drop udp dport ${2000 + ++version} name "v${version}"\n}\n`;
const ruleOnly = () => `interface eth0 {\n  default allow\n  drop udp dport $ports\n}\n`;

/** What the disk says now, compiled afresh. */
function hashOnDisk(p: string): string | undefined {
  const host = fs.statSync(p).isDirectory() ? new DirectorySourceHost(p) : undefined;
  return loadAndCompile(p, host).compiled?.interfaces[0].hash;
}

const running: Controller[] = [];
afterEach(async () => {
  for (const c of running.splice(0)) await c.stop();
});

async function startOn(p: string, debounceMs = 40) {
  const kernel = new FakeKernel('eth0');
  const { log, events } = memoryLogger();
  const config: ControllerConfig = {
    interfaces: [{ name: 'eth0', mode: 'generic', source: { kind: 'file', path: p } }],
    detachOnExit: false,
    debounceMs,
    cacheDir: tmp,
    logLevel: 'debug',
  };
  const controller = new Controller(config, log, { kernel });
  running.push(controller);
  await controller.start();
  const inForce = () => kernel.inspect('eth0').stateHash;
  /** Runs `way`, then waits until the policy in force is what the disk says, and that it is new. */
  const follows = async (name: string, way: () => void | Promise<void>, withinMs = 4000) => {
    const before = inForce();
    await way();
    const wanted = hashOnDisk(p);
    expect(wanted, `${name}: the disk holds a valid policy`).toBeDefined();
    expect(wanted, `${name}: the way changed the policy`).not.toBe(before);
    const end = Date.now() + withinMs;
    while (inForce() !== wanted && Date.now() < end) await sleep(20);
    expect(inForce(), `${name}: the edit is in force`).toBe(wanted);
  };
  return { kernel, events, controller, inForce, follows };
}

/** Writes `text` to a temporary name in the same directory and renames it over `file`, as editors and deploy tools do. */
function renameOver(file: string, text: string, tmpName = `.${path.basename(file)}.tmp`): void {
  const t = path.join(path.dirname(file), tmpName);
  fs.writeFileSync(t, text);
  fs.renameSync(t, file);
}

/** `ln -sfn target link` done atomically: a new symlink renamed over the old one. */
function swapSymlink(link: string, target: string): void {
  const t = `${link}.swap`;
  fs.rmSync(t, { force: true });
  fs.symlinkSync(target, t);
  fs.renameSync(t, link);
}

describe('the file source follows every way a policy is replaced', () => {
  it('a policy file: written, truncated, renamed over, recreated, swapped for a symlink, briefly a directory, its directory replaced', async () => {
    const root = fs.mkdtempSync(path.join(tmp, 'file-'));
    const dir = path.join(root, 'etc');
    fs.mkdirSync(path.join(dir, 'inc'), { recursive: true });
    fs.mkdirSync(path.join(root, 'versions'));
    const p = path.join(dir, 'edge.xdpfw');
    fs.writeFileSync(p, policy());
    const { follows } = await startOn(p);

    await follows('written in place', () => fs.writeFileSync(p, policy()));
    await follows('truncated, then written a moment later', async () => {
      fs.truncateSync(p, 0);
      await sleep(100);
      fs.writeFileSync(p, policy());
    });
    await follows('an editor writes a temporary file and renames it over', () => renameOver(p, policy(), '.edge.xdpfw.swp'));
    await follows('renamed over from another directory', () => {
      const elsewhere = path.join(root, 'staged.xdpfw');
      fs.writeFileSync(elsewhere, policy());
      fs.renameSync(elsewhere, p);
    });
    await follows('removed, then written again', async () => {
      fs.rmSync(p);
      await sleep(100);
      fs.writeFileSync(p, policy());
    });
    await follows('kept as a backup (vim): renamed away, written anew, backup removed', () => {
      fs.renameSync(p, `${p}~`);
      fs.writeFileSync(p, policy());
      fs.rmSync(`${p}~`);
    });
    await follows('briefly a directory, then a file again', async () => {
      fs.rmSync(p);
      fs.mkdirSync(p);
      await sleep(150);
      fs.rmdirSync(p);
      fs.writeFileSync(p, policy());
    });
    await follows('swapped for a symlink to a released version', () => {
      const v = path.join(root, 'versions', `v${version + 1}.xdpfw`);
      fs.writeFileSync(v, policy());
      swapSymlink(p, v);
    });
    await follows('the symlink swapped to the next version', () => {
      const v = path.join(root, 'versions', `v${version + 1}.xdpfw`);
      fs.writeFileSync(v, policy());
      swapSymlink(p, v);
    });
    await follows('the symlink’s target edited in place', () => fs.writeFileSync(fs.realpathSync(p), policy()));
    fs.writeFileSync(path.join(dir, 'inc', 'ports.xdpfw'), `define ports = { ${++version} }\n`);
    await follows('a regular file again, renamed over the symlink', () => renameOver(p, `include "inc/ports.xdpfw"\n${ruleOnly()}`));
    await follows('an include edited in place', () =>
      fs.writeFileSync(path.join(dir, 'inc', 'ports.xdpfw'), `define ports = { ${++version} }\n`),
    );
    await follows('an include renamed over', () => renameOver(path.join(dir, 'inc', 'ports.xdpfw'), `define ports = { ${++version} }\n`));
    await follows('the include’s directory removed and made again', async () => {
      fs.rmSync(path.join(dir, 'inc'), { recursive: true });
      await sleep(100);
      fs.mkdirSync(path.join(dir, 'inc'));
      fs.writeFileSync(path.join(dir, 'inc', 'ports.xdpfw'), `define ports = { ${++version} }\n`);
    });
    // The directory holding the policy is replaced: its parent is not watched, the periodic re-arm finds it.
    await follows(
      'the directory holding the policy replaced',
      () => {
        fs.renameSync(dir, `${dir}.old`);
        fs.mkdirSync(path.join(dir, 'inc'), { recursive: true });
        fs.writeFileSync(path.join(dir, 'inc', 'ports.xdpfw'), `define ports = { ${++version} }\n`);
        fs.writeFileSync(p, `include "inc/ports.xdpfw"\n${ruleOnly()}`);
      },
      6000,
    );
  }, 60_000);

  it('a policy directory: files added and removed, the directory removed and made again, renamed in, swapped as a symlink', async () => {
    const root = fs.mkdtempSync(path.join(tmp, 'dir-'));
    const d = path.join(root, 'policy.d');
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, '00-ports-a.xdpfw'), `define ports = { ${++version} }\n`);
    fs.writeFileSync(path.join(d, '10-eth0.xdpfw'), ruleOnly());
    const { follows } = await startOn(d);

    await follows('a file added and another removed', () => {
      fs.writeFileSync(path.join(d, '00-ports-b.xdpfw'), `define ports = { ${++version} }\n`);
      fs.rmSync(path.join(d, '00-ports-a.xdpfw'));
    });
    await follows('a file edited in place', () => fs.writeFileSync(path.join(d, '00-ports-b.xdpfw'), `define ports = { ${++version} }\n`));
    await follows('the directory removed, made again and written', () => {
      fs.rmSync(d, { recursive: true });
      fs.mkdirSync(d);
      fs.writeFileSync(path.join(d, '10-eth0.xdpfw'), policy());
    });
    await follows('the directory removed, and made again a moment later', async () => {
      fs.rmSync(d, { recursive: true });
      await sleep(150);
      fs.mkdirSync(d);
      await sleep(150);
      fs.writeFileSync(path.join(d, '10-eth0.xdpfw'), policy());
    });
    await follows('a staged directory renamed in place of the old one', () => {
      const staged = path.join(root, 'staged');
      fs.mkdirSync(staged);
      fs.writeFileSync(path.join(staged, '10-eth0.xdpfw'), policy());
      fs.renameSync(d, path.join(root, 'old'));
      fs.renameSync(staged, d);
      fs.rmSync(path.join(root, 'old'), { recursive: true });
    });
    await follows('the directory swapped for a symlink to a release directory', () => {
      const release = path.join(root, `release-${version + 1}`);
      fs.mkdirSync(release);
      fs.writeFileSync(path.join(release, '10-eth0.xdpfw'), policy());
      fs.rmSync(d, { recursive: true });
      swapSymlink(d, release);
    });
    await follows('the symlink swapped to the next release', () => {
      const release = path.join(root, `release-${version + 1}`);
      fs.mkdirSync(release);
      fs.writeFileSync(path.join(release, '10-eth0.xdpfw'), policy());
      swapSymlink(d, release);
    });
  }, 60_000);

  it('a Kubernetes ConfigMap volume: the ..data symlink swapped atomically, once and twice in a row', async () => {
    const d = fs.mkdtempSync(path.join(tmp, 'configmap-'));
    let n = 0;
    /** What the kubelet does: a new timestamped directory, `..data` renamed to point at it, the old one removed. */
    const kubeletUpdate = (text: string) => {
      const previous = fs.existsSync(path.join(d, '..data')) ? fs.readlinkSync(path.join(d, '..data')) : undefined;
      const fresh = `..2024_01_01_00_00_${String(++n).padStart(2, '0')}`;
      fs.mkdirSync(path.join(d, fresh));
      fs.writeFileSync(path.join(d, fresh, 'edge.xdpfw'), text);
      swapSymlink(path.join(d, '..data'), fresh);
      if (previous) fs.rmSync(path.join(d, previous), { recursive: true });
    };
    kubeletUpdate(policy());
    fs.symlinkSync('..data/edge.xdpfw', path.join(d, 'edge.xdpfw'));
    const { follows } = await startOn(d);

    await follows('..data swapped', () => kubeletUpdate(policy()));
    await follows('..data swapped twice within the debounce: the last one is in force', () => {
      kubeletUpdate(policy());
      kubeletUpdate(policy());
    });
    await follows('..data swapped again', () => kubeletUpdate(policy()));
  }, 30_000);

  it('an edit made right after the controller says it runs is applied', async () => {
    const p = path.join(fs.mkdtempSync(path.join(tmp, 'early-')), 'edge.xdpfw');
    fs.writeFileSync(p, policy());
    const { follows } = await startOn(p);
    await follows('written at once after start', () => fs.writeFileSync(p, policy()));
  });

  it('an edit made between the first load and the watch is applied', async () => {
    const p = path.join(fs.mkdtempSync(path.join(tmp, 'gap-')), 'edge.xdpfw');
    fs.writeFileSync(p, policy());
    const { log } = memoryLogger();
    const { FileSource } = await import('../../../src/controller/sources/file-source.js');
    const source = new FileSource(p, 20, log);
    const first = await (await source.read()).revision!.load();
    fs.writeFileSync(p, policy()); // no watch exists yet
    let changes = 0;
    source.start(() => changes++);
    try {
      expect(first.compiled).toBeDefined();
      expect(changes).toBe(1);
    } finally {
      await source.close();
    }
  });

  it('SIGHUP re-reads and applies the file even when no watch reported the change', async () => {
    const p = path.join(fs.mkdtempSync(path.join(tmp, 'hup-')), 'edge.xdpfw');
    fs.writeFileSync(p, policy());
    const { controller, inForce } = await startOn(p, 60_000); // a debounce no test waits for
    fs.writeFileSync(p, policy());
    const wanted = hashOnDisk(p);
    await sleep(100);
    expect(inForce()).not.toBe(wanted);
    controller.reloadAll();
    const end = Date.now() + 3000;
    while (inForce() !== wanted && Date.now() < end) await sleep(20);
    expect(inForce()).toBe(wanted);
  });
});
