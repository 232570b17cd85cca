import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { humanLine } from '../../../src/controller/logger.js';
import { FileSource } from '../../../src/controller/sources/file-source.js';
import { memoryLogger } from './fakes.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-file-source-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('file policy source (real files, inotify)', () => {
  it('reloads once for a burst of writes to the policy and to an included file', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'a-'));
    const policy = path.join(dir, 'edge.xdpfw');
    fs.mkdirSync(path.join(dir, 'inc'));
    fs.writeFileSync(path.join(dir, 'inc', 'common.xdpfw'), 'define dns = { 53 }\n');
    fs.writeFileSync(policy, 'include "inc/common.xdpfw"\ninterface eth0 { allow udp dport $dns }\n');
    const source = new FileSource(policy, 150, memoryLogger().log);
    let changes = 0;
    // As the controller does: each change is loaded, and later looks compare with that.
    source.start(() => {
      changes++;
      void source.read().then((r) => r.revision!.load());
    });
    try {
      const loaded = await (await source.read()).revision!.load();
      expect(loaded.compiled?.interfaces[0].name).toBe('eth0');
      await new Promise((r) => setTimeout(r, 300)); // let the watcher settle
      fs.writeFileSync(path.join(dir, 'inc', 'common.xdpfw'), 'define dns = { 53, 853 }\n');
      fs.appendFileSync(policy, '# a comment\n');
      fs.appendFileSync(policy, '# another\n');
      await until(() => changes > 0);
      await new Promise((r) => setTimeout(r, 400));
      expect(changes).toBe(1);
      fs.writeFileSync(path.join(dir, 'unrelated.log'), 'x');
      await new Promise((r) => setTimeout(r, 400));
      expect(changes).toBe(1); // a file the policy does not read is no reason to reload
    } finally {
      await source.close();
    }
  });

  it('a directory source reads every *.xdpfw file in it as one policy', async () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'd-'));
    fs.writeFileSync(path.join(dir, '10-defs.xdpfw'), 'define web = { 80, 443 }\n');
    fs.writeFileSync(path.join(dir, '20-eth0.xdpfw'), 'interface eth0 { allow tcp dport $web }\n');
    fs.writeFileSync(path.join(dir, 'README'), 'not a policy');
    const source = new FileSource(dir, 50, memoryLogger().log);
    const loaded = await (await source.read()).revision!.load();
    expect(loaded.rendered).toEqual([]);
    expect(loaded.compiled?.interfaces.map((i) => i.name)).toEqual(['eth0']);
    await source.close();
  });
});

describe('human log lines (stdout on a terminal)', () => {
  it('are one compact line with component, interface, message and fields', () => {
    const line = humanLine(
      JSON.stringify({
        level: 50,
        time: '2024-05-01T12:00:01.000Z',
        pid: 1,
        component: 'git',
        interface: 'eth0',
        commit: 'abc',
        msg: 'reload refused',
      }),
    );
    expect(line).toBe('12:00:01 ERROR git eth0  reload refused commit=abc\n');
  });
});
