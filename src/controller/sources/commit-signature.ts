/**
 * Signed commits for a git source (`requireSigned`): the commit about to be
 * deployed must carry a signature of the kind configured, by a key allowed:
 * SSH signatures checked against an allowed-signers file
 * (gpg.ssh.allowedSignersFile), or OpenPGP ones against a keyring imported
 * into a GNUPGHOME of the daemon's own, made afresh for each check so that a
 * key removed from the file is no longer trusted.
 *
 * git's %G? decides: for SSH only G (good, and the key is an allowed
 * signer's; U there means a good signature by a key the file does not
 * allow); for OpenPGP G or U, because a freshly imported keyring has no
 * owner trust, so every good signature by one of its keys is U. B, X, Y, R,
 * E and N (bad, expired, by an expired or revoked key, not checkable,
 * unsigned) never pass. The signature's kind is read from the commit itself
 * first: the other kind's check would otherwise answer for it.
 */

import { execFile } from 'node:child_process';
import fs from 'node:fs';

export type SignatureRequirement = { allowedSigners: string } | { keyring: string };

/** A commit refused for its signature: its content is at fault, as with a policy error. */
export class UnsignedCommitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsignedCommitError';
  }
}

const MEANING: Record<string, string> = {
  B: 'a bad signature',
  U: 'a good signature by a key that is not allowed',
  X: 'an expired signature',
  Y: 'a signature by an expired key',
  R: 'a signature by a revoked key',
  E: 'a signature that cannot be checked (no such key)',
  N: 'no signature',
};

export type GitRunner = (args: string[], env?: NodeJS.ProcessEnv) => Promise<string>;

/** Resolves when `commit` may be deployed; rejects with UnsignedCommitError when refused, Error when it could not be checked. */
export async function verifyCommitSignature(git: GitRunner, commit: string, need: SignatureRequirement, gnupgHome: string): Promise<void> {
  const short = commit.slice(0, 12);
  const wanted = 'allowedSigners' in need ? 'SSH' : 'PGP';
  const trust = 'allowedSigners' in need ? need.allowedSigners : need.keyring;
  try {
    fs.accessSync(trust, fs.constants.R_OK);
  } catch (error) {
    throw new Error(
      `cannot read ${'allowedSigners' in need ? 'the allowed signers' : 'the keyring'} ${trust}: ${(error as NodeJS.ErrnoException).code}`,
    );
  }
  const raw = await git(['cat-file', 'commit', commit]);
  const kind = /^gpgsig(?:-sha256)? -----BEGIN (SSH|PGP) SIGNATURE-----/m.exec(raw.split('\n\n')[0])?.[1];
  if (kind === undefined) throw new UnsignedCommitError(`commit ${short} is not signed (signatures are required)`);
  const name = (k: string) => (k === 'SSH' ? 'SSH' : 'OpenPGP');
  if (kind !== wanted) {
    throw new UnsignedCommitError(
      `commit ${short} has an ${name(kind)} signature; only ${name(wanted)} signatures by keys in ${trust} are accepted`,
    );
  }
  // An empty GNUPGHOME of our own also for SSH: root's keyring must never vouch for anything.
  fs.rmSync(gnupgHome, { recursive: true, force: true });
  fs.mkdirSync(gnupgHome, { recursive: true, mode: 0o700 });
  if ('keyring' in need) await importKeyring(need.keyring, gnupgHome);
  const allowed = 'allowedSigners' in need ? need.allowedSigners : '/dev/null';
  const out = await git(['-c', `gpg.ssh.allowedSignersFile=${allowed}`, 'log', '-1', '--format=%G?%x00%GG', commit], {
    GNUPGHOME: gnupgHome,
  });
  const [letter, report = ''] = out.split('\0');
  const passes = kind === 'SSH' ? letter === 'G' : letter === 'G' || letter === 'U';
  if (passes) return;
  const essence = report
    .split('\n')
    .map((l) => l.replace(/^gpg: /, '').trim())
    .filter(Boolean)
    .slice(-2)
    .join(' / ');
  throw new UnsignedCommitError(
    `commit ${short} has ${MEANING[letter.trim()] ?? `a signature git rates '${letter}'`} (checked against ${trust})${essence ? `: ${essence}` : ''}`,
  );
}

function importKeyring(keyring: string, home: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('gpg', ['--batch', '--quiet', '--homedir', home, '--import', keyring], { timeout: 30_000 }, (error, _out, stderr) => {
      if (error)
        reject(new Error(`importing the keyring ${keyring} failed: ${stderr.trim().split('\n').slice(-2).join(' / ') || error.message}`));
      else resolve();
    });
  });
}
