import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { configFromYaml } from '../../../src/controller/config.js';
import { KOFFI_ADDON, loadKoffiAddon, prepareRuntimeRoot, runtimeBase, sha256 } from '../../../src/cli/sea-runtime.js';
import { scratchDir } from '../../support/scratch.js';

const ASSETS: Record<string, Buffer> = {
  'package.json': Buffer.from('{"version":"9.9.9","type":"module"}'),
  'bpf/xdpfw.bpf.o': Buffer.from('not really an ELF object'),
  [KOFFI_ADDON]: Buffer.from('not really an addon'),
};
const MANIFEST = JSON.stringify({
  files: Object.entries(ASSETS).map(([p, data]) => ({ path: p, sha256: sha256(data), size: data.length })),
});

function counted(assets = ASSETS): { read: (key: string) => Buffer; reads: () => number } {
  let reads = 0;
  return {
    read: (key) => {
      reads++;
      return assets[key];
    },
    reads: () => reads,
  };
}

describe('the single executable’s embedded files', () => {
  const dir = scratchDir('xdpfw-sea-runtime-');

  it('are written once into a private directory named by their manifest, laid out as the package is', () => {
    const base = path.join(dir, 'once');
    const assets = counted();
    const root = prepareRuntimeRoot(base, MANIFEST, assets.read);
    expect(path.dirname(root)).toBe(base);
    expect(path.basename(root)).toBe(sha256(Buffer.from(MANIFEST)).slice(0, 32));
    expect(fs.statSync(base).mode & 0o777).toBe(0o700);
    expect(fs.readFileSync(path.join(root, 'bpf/xdpfw.bpf.o'))).toEqual(ASSETS['bpf/xdpfw.bpf.o']);
    expect(prepareRuntimeRoot(base, MANIFEST, assets.read)).toBe(root);
    expect(assets.reads()).toBe(3);
    expect(fs.readdirSync(base)).toEqual([path.basename(root)]);
  });

  it('are written again when a cleaner removed one of them', () => {
    const base = path.join(dir, 'cleaned');
    const root = prepareRuntimeRoot(base, MANIFEST, counted().read);
    fs.rmSync(path.join(root, 'package.json'));
    expect(prepareRuntimeRoot(base, MANIFEST, counted().read)).toBe(root);
    expect(fs.readFileSync(path.join(root, 'package.json'))).toEqual(ASSETS['package.json']);
    expect(fs.readdirSync(base)).toEqual([path.basename(root)]);
  });

  it('are refused when an embedded one does not match its digest', () => {
    const base = path.join(dir, 'corrupt');
    const bad = counted({ ...ASSETS, 'package.json': Buffer.from('{}') });
    expect(() => prepareRuntimeRoot(base, MANIFEST, bad.read)).toThrow(/embedded package.json does not match its digest/);
    expect(fs.readdirSync(base)).toEqual([]);
  });

  it('are never written through a link someone put where the directory goes', () => {
    const base = path.join(dir, 'linked');
    fs.mkdirSync(path.join(dir, 'elsewhere'));
    fs.symlinkSync(path.join(dir, 'elsewhere'), base);
    expect(() => prepareRuntimeRoot(base, MANIFEST, counted().read)).toThrow(/refusing to run code from it/);
  });

  it('include an addon that is hashed again before it is loaded', () => {
    const root = prepareRuntimeRoot(path.join(dir, 'addon'), MANIFEST, counted().read);
    fs.writeFileSync(path.join(root, KOFFI_ADDON), 'swapped!!!!!!!!!!!!');
    expect(() => loadKoffiAddon(root, MANIFEST)).toThrow(/koffi.node does not match its digest/);
  });

  it('go to $XDG_RUNTIME_DIR, else /run for root, else the temporary directory', () => {
    expect(runtimeBase({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('/run/user/1000/xdpfw');
    expect(runtimeBase({}, 0)).toBe('/run/xdpfw/lib');
    expect(runtimeBase({}, 1000)).toMatch(/\/xdpfw-1000$/);
  });
});

describe('the packaged example configuration', () => {
  it('is a valid run configuration', () => {
    const file = path.join(import.meta.dirname, '../../../deploy/run.yaml');
    const config = configFromYaml(fs.readFileSync(file, 'utf8'), '/etc/xdpfw/run.yaml');
    expect(config.interfaces.map((i) => i.name)).toEqual(['eth0']);
  });
});
