import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { GitSource } from '../../../src/controller/sources/git-source.js';
import { memoryLogger } from './fakes.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xdpfw-git-test-'));
const repo = path.join(tmp, 'policies');
const cache = path.join(tmp, 'cache');

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' },
  }).trim();
}
function commit(files: Record<string, string>, message: string): string {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(repo, name)), { recursive: true });
    fs.writeFileSync(path.join(repo, name), text);
  }
  git('add', '-A');
  git('commit', '-q', '-m', message);
  return git('rev-parse', 'HEAD');
}

const POLICY = `include "common.xdpfw"
set bad from "lists/bad.txt"
interface eth0 {
  default allow
  drop src @bad name "bad"
  allow udp dport $dns name "dns"
}
`;

describe('git policy source (a real local repository)', () => {
  let c1: string;
  beforeAll(() => {
    fs.mkdirSync(repo);
    git('init', '-q', '-b', 'main');
    c1 = commit(
      { 'edge/policy.xdpfw': POLICY, 'edge/common.xdpfw': 'define dns = { 53 }\n', 'edge/lists/bad.txt': '192.0.2.0/24\n' },
      'first',
    );
  });
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  const source = () =>
    new GitSource({ repo, branch: 'main', path: 'edge/policy.xdpfw', pollSeconds: 30, cacheDir: cache }, memoryLogger().log);

  it('reads the head commit with its includes and set files from that commit', async () => {
    const reading = await source().read();
    expect(reading.error).toBeUndefined();
    expect(reading.revision?.commit).toBe(c1);
    const loaded = await reading.revision!.load();
    expect(loaded.rendered).toEqual([]);
    expect(loaded.compiled?.interfaces[0].rules.map((r) => r.id)).toEqual(['bad', 'dns']);
    expect(loaded.sources.sort()).toEqual(['edge/common.xdpfw', 'edge/lists/bad.txt', 'edge/policy.xdpfw']);
  });

  it('sees a new commit at the next read; an old revision still reads its own commit’s files', async () => {
    const s = source();
    const first = (await s.read()).revision!;
    const c2 = commit({ 'edge/common.xdpfw': 'define dns = { 53, 853 }\n' }, 'second');
    const second = (await s.read()).revision!;
    expect(second.commit).toBe(c2);
    expect((await first.load()).compiled!.interfaces[0].hash).not.toBe((await second.load()).compiled!.interfaces[0].hash);
  });

  it('a bad commit gives diagnostics located at repository-relative file:line:col', async () => {
    commit({ 'edge/policy.xdpfw': POLICY.replace('@bad', '@bda') }, 'typo');
    const loaded = await (await source().read()).revision!.load();
    expect(loaded.compiled).toBeUndefined();
    expect(loaded.rendered[0].split('\n')[0]).toBe("edge/policy.xdpfw:5:12: error[unknown-set]: unknown set '@bda' (did you mean '@bad'?)");
  });

  it('an include that leaves the repository is refused', async () => {
    commit({ 'edge/policy.xdpfw': 'include "../../../etc/x.xdpfw"\ninterface eth0 { default allow }\n' }, 'escape');
    const loaded = await (await source().read()).revision!.load();
    expect(loaded.diagnostics.map((d) => d.code)).toEqual(['include-not-found']);
    expect(loaded.rendered[0]).toContain('outside the repository');
  });

  it('an unreachable remote is an error, and the last fetched head is still offered', async () => {
    const s = source();
    const known = (await s.read()).revision!.commit;
    const moved = `${repo}-moved`;
    fs.renameSync(repo, moved);
    try {
      const reading = await s.read();
      expect(reading.error?.message).toMatch(/^fetching main from /);
      expect(reading.revision?.commit).toBe(known);
    } finally {
      fs.renameSync(moved, repo);
    }
  });

  it('a branch that does not exist is an error without a revision', async () => {
    const s = new GitSource({ repo, branch: 'nope', path: 'p', pollSeconds: 30, cacheDir: path.join(tmp, 'cache2') }, memoryLogger().log);
    const reading = await s.read();
    expect(reading.revision).toBeUndefined();
    expect(reading.error).toBeDefined();
  });
});
