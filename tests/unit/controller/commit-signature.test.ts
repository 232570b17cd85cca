import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import type { SignatureRequirement } from '../../../src/controller/sources/commit-signature.js';
import { GitSource } from '../../../src/controller/sources/git-source.js';
import { scratchDir } from '../../support/scratch.js';
import { memoryLogger } from './fakes.js';

const tmp = scratchDir('xdpfw-signed-');
const repo = path.join(tmp, 'policies');
const gnupg = path.join(tmp, 'signer-gnupg');
const POLICY = 'interface eth0 {\n  default allow\n  drop udp dport 9 name "discard"\n}\n';

function git(...args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: {
      ...process.env,
      GNUPGHOME: gnupg,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 'ops@example.net',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 'ops@example.net',
    },
  }).trim();
}

/** A commit on main, signed as `sign` says (git -c options), or not. */
function commit(message: string, sign: string[] = []): string {
  fs.writeFileSync(path.join(repo, 'policy.xdpfw'), `${POLICY}# ${message}\n`);
  git('add', '-A');
  git(...sign, 'commit', '-q', ...(sign.length ? ['-S'] : []), '-m', message);
  return git('rev-parse', 'HEAD');
}

const sshKey = (name: string) => {
  const key = path.join(tmp, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', key]);
  return key;
};
const sshSigned = (key: string) => ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}.pub`];

/** What loading the branch head says: 'loaded', or the error's message. */
async function load(requireSigned: SignatureRequirement): Promise<string> {
  const cacheDir = fs.mkdtempSync(path.join(tmp, 'cache-'));
  const reading = await new GitSource(
    { repo, branch: 'main', path: 'policy.xdpfw', pollSeconds: 30, cacheDir, requireSigned },
    memoryLogger().log,
  ).read();
  try {
    await reading.revision!.load();
    return 'loaded';
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

describe('a git source that requires signed commits', () => {
  let allowed: string;
  let good: string;
  let other: string;
  beforeAll(() => {
    fs.mkdirSync(repo);
    fs.mkdirSync(gnupg, { mode: 0o700 });
    git('init', '-q', '-b', 'main');
    good = sshKey('good');
    other = sshKey('other');
    allowed = path.join(tmp, 'allowed_signers');
    fs.writeFileSync(allowed, `ops@example.net ${fs.readFileSync(`${good}.pub`, 'utf8')}`);
  });

  it('deploys a commit signed by an allowed SSH key', async () => {
    commit('good', sshSigned(good));
    expect(await load({ allowedSigners: allowed })).toBe('loaded');
  });

  it('refuses a commit signed by an SSH key the allowed signers do not list, naming the commit and why', async () => {
    const sha = commit('other key', sshSigned(other));
    const fingerprint = execFileSync('ssh-keygen', ['-lf', `${other}.pub`], { encoding: 'utf8' }).split(' ')[1];
    expect(await load({ allowedSigners: allowed })).toBe(
      `UnsignedCommitError: commit ${sha.slice(0, 12)} has a good signature by a key that is not allowed (checked against ${allowed}): ` +
        `Good "git" signature with ED25519 key ${fingerprint} / No principal matched.`,
    );
  });

  it('refuses an unsigned commit', async () => {
    const sha = commit('unsigned');
    expect(await load({ allowedSigners: allowed })).toBe(
      `UnsignedCommitError: commit ${sha.slice(0, 12)} is not signed (signatures are required)`,
    );
  });

  it('an allowed signers file that cannot be read is a failure to check, not a refusal', async () => {
    commit('good again', sshSigned(good));
    const missing = path.join(tmp, 'missing_signers');
    expect(await load({ allowedSigners: missing })).toBe(`Error: cannot read the allowed signers ${missing}: ENOENT`);
  });

  it('with an OpenPGP keyring: deploys a commit its key signed, refuses an SSH-signed one and one signed by another OpenPGP key', async () => {
    const gpg = (...args: string[]) => execFileSync('gpg', ['--batch', '--quiet', '--homedir', gnupg, ...args], { encoding: 'utf8' });
    gpg('--passphrase', '', '--quick-gen-key', 'Ops <ops@example.net>', 'ed25519', 'sign', '1d');
    gpg('--passphrase', '', '--quick-gen-key', 'Intruder <intruder@example.net>', 'ed25519', 'sign', '1d');
    const keyring = path.join(tmp, 'ops.asc');
    fs.writeFileSync(keyring, gpg('--armor', '--export', 'ops@example.net'));
    commit('pgp', ['-c', 'user.signingkey=ops@example.net']);
    expect(await load({ keyring })).toBe('loaded');
    const intruder = commit('intruder', ['-c', 'user.signingkey=intruder@example.net']);
    expect(await load({ keyring })).toMatch(
      new RegExp(
        `^UnsignedCommitError: commit ${intruder.slice(0, 12)} has a signature that cannot be checked \\(no such key\\) \\(checked against ${keyring}\\)`,
      ),
    );
    const ssh = commit('ssh instead', sshSigned(good));
    expect(await load({ keyring })).toBe(
      `UnsignedCommitError: commit ${ssh.slice(0, 12)} has an SSH signature; only OpenPGP signatures by keys in ${keyring} are accepted`,
    );
  });
});
