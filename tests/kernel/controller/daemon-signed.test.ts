/**
 * `xdpfw run --git … --require-signed --allowed-signers FILE` in a test
 * namespace: a commit signed by an allowed SSH key is enforced (pings from
 * the peer say which policy runs); an unsigned commit and one signed by a
 * key the file does not list are refused like a policy with errors, and the
 * last good policy stays, until an allowed signature comes.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { scratchDir } from '../../support/scratch.js';
import { cliNamespace, xdpfwIn } from '../cli/netns-cli.js';
import { skipWithoutRoot } from '../xdp/helpers/env.js';
import { Daemon } from './daemon.js';

const policy = (icmp: 'allow' | 'drop') => `interface veth0 {\n  default allow\n  ${icmp} icmp name "ping-${icmp}"\n}\n`;

describe.skipIf(skipWithoutRoot('the daemon requiring signed commits'))('xdpfw run --require-signed', () => {
  let daemon: Daemon | undefined;
  const { ns } = cliNamespace('signed', () => daemon?.stop());
  const dir = scratchDir('xdpfw-signed-daemon-');
  const repo = path.join(dir, 'policies');
  const allowed = path.join(dir, 'allowed_signers');
  const key = (name: string) => path.join(dir, name);

  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: repo,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'ops',
        GIT_AUTHOR_EMAIL: 'ops@example.net',
        GIT_COMMITTER_NAME: 'ops',
        GIT_COMMITTER_EMAIL: 'ops@example.net',
      },
    }).trim();
  /** Commits `text` as the policy, signed with the SSH key `signer` or unsigned; its id. */
  const commit = (text: string, signer?: string) => {
    fs.writeFileSync(path.join(repo, 'policy.xdpfw'), text);
    git('add', '-A');
    const sign = signer ? ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key(signer)}.pub`, 'commit', '-S'] : ['commit'];
    git(...sign, '-q', '--allow-empty', '-m', `${signer ?? 'unsigned'}: ${text.length}`);
    return git('rev-parse', 'HEAD');
  };

  beforeAll(() => {
    fs.mkdirSync(repo);
    git('init', '-q', '-b', 'main');
    for (const name of ['ops', 'intruder']) execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key(name)]);
    fs.writeFileSync(allowed, `ops@example.net ${fs.readFileSync(`${key('ops')}.pub`, 'utf8')}`);
  });

  it('enforces what an allowed key signed, refuses the unsigned and the wrongly signed, and keeps the last good policy', async () => {
    commit(policy('drop'), 'ops');
    daemon = new Daemon(ns, [
      '--iface',
      'veth0',
      '--mode',
      'generic',
      '--git',
      repo,
      '--branch',
      'main',
      '--path',
      'policy.xdpfw',
      '--poll',
      '1s',
      '--require-signed',
      '--allowed-signers',
      allowed,
    ]);
    await daemon.waitFor((e) => e.msg === 'policy attached');
    expect(ns.pingFromPeer()).toBe(false);

    for (const signer of [undefined, 'intruder']) {
      const from = daemon.events().length;
      const sha = commit(policy('allow'), signer);
      const refused = await daemon.waitFor((e) => e.msg.startsWith('reload refused'), 15_000, from);
      expect(refused.msg).toContain(`commit ${sha.slice(0, 12)}`);
      expect(ns.pingFromPeer()).toBe(false); // the signed policy stays
      const status = await xdpfwIn(ns, 'status', '--json');
      expect(status.stdout).toContain(sha.slice(0, 12));
    }

    const from = daemon.events().length;
    commit(policy('allow'), 'ops');
    await daemon.waitFor((e) => e.msg === 'policy replaced atomically', 15_000, from);
    expect(ns.pingFromPeer()).toBe(true);
  });
});
