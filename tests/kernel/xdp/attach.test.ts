/**
 * Attach, replace and detach on a veth inside throwaway namespaces. Every
 * xdpfw call runs in a child `ip netns exec NS node …` that exits right after,
 * as the CLI would: what survives is what the pins keep.
 */

import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureBpffs } from '../../../src/xdp/index.js';
import { bpffsRoot } from '../../../src/xdp/pins.js';
import { REPO, TestNetns, fixtureObject, run, skipWithoutRoot } from './helpers/env.js';
import { netnsKeyOf } from './helpers/netns-key.js';

const CHILD = path.join(REPO, 'tests/kernel/xdp/helpers/attach-child.ts');
const XDP_ATTACHED_DRV = 1;
const XDP_ATTACHED_SKB = 2;

interface ChildError {
  error: { name: string; code?: string; message: string; errnoName?: string };
}

describe.skipIf(skipWithoutRoot('xdp attach tests'))('attaching to a veth in a test namespace', () => {
  const ns = new TestNetns('attach');
  let object: string;
  let netnsPins: string;

  /** Runs one xdpfw operation in a fresh process inside the namespace. */
  function child<T>(command: string, ifname: string, arg = ''): T | ChildError {
    try {
      return JSON.parse(ns.node(CHILD, [command, object, ifname, arg])) as T;
    } catch (err) {
      const out = (err as { stdout?: string }).stdout;
      if (out) return JSON.parse(out) as ChildError;
      throw err;
    }
  }
  function ok<T>(command: string, ifname: string, arg = ''): T {
    const r = child<T>(command, ifname, arg);
    if (r && typeof r === 'object' && 'error' in r) throw new Error(`child ${command} failed: ${r.error.message}`);
    return r as T;
  }

  beforeAll(() => {
    object = fixtureObject('mini');
    ensureBpffs(); // in the host mount namespace, so the children's pins outlive them
    ns.create();
    netnsPins = path.join(bpffsRoot(), netnsKeyOf(ns.name));
  });

  afterAll(() => {
    try {
      if (netnsPins && fs.existsSync(netnsPins)) child('detach', 'veth0');
    } finally {
      ns.destroy();
      if (netnsPins) fs.rmSync(netnsPins, { recursive: true, force: true });
    }
  });

  let firstProgId = 0;

  it('attaches in auto mode (native on veth), and the pinned link keeps it attached after the process exits', () => {
    const r = ok<{ mode: string; progId: number; pinDir: string }>('attach', 'veth0', 'auto:drop');
    expect(r.mode).toBe('native');
    expect(r.pinDir).toBe(path.join(netnsPins, 'veth0'));
    // the child has exited: only the pin holds the link now
    expect(ns.xdpProg()).toEqual({ id: r.progId, mode: XDP_ATTACHED_DRV });
    expect(fs.readdirSync(r.pinDir).sort()).toEqual(['counters', 'link', 'rule_counters']);
    firstProgId = r.progId;

    const s = ok<{ link: { progId: number }; xdp: { mode: string } }>('status', 'veth0');
    expect(s.link.progId).toBe(r.progId);
    expect(s.xdp.mode).toBe('native');
  });

  it('enforces the attached policy on real traffic and counts it in the pinned maps', () => {
    expect(ns.pingFromPeer()).toBe(false); // default drop
    const c = ok<{ default: string }>('counters', 'veth0');
    expect(Number(c.default)).toBeGreaterThan(0);
  });

  it('refuses a second attach to the same interface as a lost race (another writer attached first)', () => {
    const r = child('attach', 'veth0', 'auto:allow') as ChildError;
    expect(r.error).toMatchObject({ name: 'AttachmentError', code: 'swap-lost' });
    expect(r.error.message).toBe(
      'another writer changed the program on veth0 while xdpfw replaced it (it attached xdpfw first); nothing was changed by this command',
    );
    expect(ns.xdpProg()?.id).toBe(firstProgId);
  });

  it('refuses a compare-and-swap against a program that no longer runs, and leaves the running one', () => {
    const r = child('replace', 'veth0', `allow:${firstProgId + 100000}`) as ChildError;
    expect(r.error).toMatchObject({ name: 'AttachmentError', code: 'swap-lost' });
    expect(r.error.message).toBe(
      `another writer changed the program on veth0 while xdpfw replaced it (program ${firstProgId} runs, not ${firstProgId + 100000}); nothing was changed by this command`,
    );
    expect(ns.xdpProg()?.id).toBe(firstProgId);
  });

  it('says xdpfw is not attached when replacing or reading counters of an interface without its pins', () => {
    expect((child('replace', 'lo', 'allow') as ChildError).error).toMatchObject({
      code: 'not-attached',
      message: 'xdpfw is not attached to lo',
    });
    expect((child('counters', 'lo') as ChildError).error).toMatchObject({ code: 'not-attached' });
  });

  it('replaces the program atomically: ip link shows the new id and traffic follows the new policy', () => {
    const r = ok<{ oldProgId: number; newProgId: number }>('replace', 'veth0', 'allow');
    expect(r.oldProgId).toBe(firstProgId);
    expect(r.newProgId).not.toBe(firstProgId);
    expect(ns.xdpProg()).toEqual({ id: r.newProgId, mode: XDP_ATTACHED_DRV });
    expect(ns.pingFromPeer()).toBe(true);
  });

  it('detaches: ip link shows no program and the pins are gone', () => {
    expect(ok<{ detached: boolean }>('detach', 'veth0')).toEqual({ detached: true });
    expect(ns.xdpProg()).toBeNull();
    expect(fs.existsSync(path.join(netnsPins, 'veth0'))).toBe(false);
    expect(ok<{ detached: boolean }>('detach', 'veth0')).toEqual({ detached: false });
  });

  it('attaches in generic mode when asked', () => {
    const r = ok<{ mode: string; progId: number }>('attach', 'veth0', 'generic:allow');
    expect(r.mode).toBe('generic');
    expect(ns.xdpProg()).toEqual({ id: r.progId, mode: XDP_ATTACHED_SKB });
    ok('detach', 'veth0');
    expect(ns.xdpProg()).toBeNull();
  });

  it('falls back to generic in auto mode where the driver has no native XDP (lo), and says why', () => {
    const native = child('attach', 'lo', 'native:allow') as ChildError;
    expect(native.error.errnoName).toBe('EOPNOTSUPP');
    expect(native.error.message).toBe(
      'attaching the XDP program to lo in native mode: EOPNOTSUPP: the driver does not support native XDP: use --mode generic or auto',
    );
    const auto = ok<{ mode: string; nativeError: string }>('attach', 'lo', 'auto:allow');
    expect(auto).toMatchObject({ mode: 'generic', nativeError: 'EOPNOTSUPP' });
    ok('detach', 'lo');
  });

  it('says another XDP program is attached when a program attached by someone else (netlink) is in the way', () => {
    const pinDir = path.join(bpffsRoot(), `xdpfw-t-foreign-${process.pid}`);
    fs.mkdirSync(pinDir, { recursive: true });
    try {
      run('bpftool', ['prog', 'load', object, path.join(pinDir, 'prog'), 'type', 'xdp']);
      run('ip', ['netns', 'exec', ns.name, 'bpftool', 'net', 'attach', 'xdpgeneric', 'pinned', path.join(pinDir, 'prog'), 'dev', 'veth0']);
      const foreign = ns.xdpProg()!.id;
      const r = child('attach', 'veth0', 'generic:allow') as ChildError;
      expect(r.error).toMatchObject({ name: 'AttachmentError', code: 'foreign-xdp' });
      expect(r.error.message).toBe(
        `veth0 runs an XDP program that is not xdpfw's: program ${foreign} "xdpfw_mini" (generic mode, attached through netlink); xdpfw will not remove it`,
      );
    } finally {
      try {
        run('ip', ['netns', 'exec', ns.name, 'bpftool', 'net', 'detach', 'xdpgeneric', 'dev', 'veth0']);
      } finally {
        fs.rmSync(pinDir, { recursive: true, force: true });
      }
    }
  });
});

describe.skipIf(skipWithoutRoot('xdp link-gone test'))('an interface removed under xdpfw', () => {
  const ns = new TestNetns('gone');
  let object: string;

  beforeAll(() => {
    object = fixtureObject('mini');
    ensureBpffs();
    ns.create();
  });
  afterAll(() => ns.destroy());

  it('says the link is gone when replacing the program of a removed interface', () => {
    const node = (command: string, arg = ''): string => {
      try {
        return ns.node(CHILD, [command, object, 'veth0', arg]);
      } catch (err) {
        return (err as { stdout: string }).stdout;
      }
    };
    const netnsPins = path.join(bpffsRoot(), netnsKeyOf(ns.name));
    try {
      expect(JSON.parse(node('attach', 'auto:drop'))).toHaveProperty('progId');
      run('ip', ['-n', ns.name, 'link', 'del', 'veth0']);
      expect(JSON.parse(node('replace', 'allow')).error).toMatchObject({
        name: 'AttachmentError',
        code: 'link-gone',
        message: "xdpfw's XDP link of veth0 is detached: the interface was removed, or something detached the link",
      });
    } finally {
      fs.rmSync(netnsPins, { recursive: true, force: true });
    }
  });
});
