/**
 * What a rollback restores must be the policy as it was applied, not the
 * file as it is now: the usual way to try a change is to edit the policy in
 * place and `apply --confirm` it. So every `apply` keeps the texts it
 * compiled per interface, and a rollback compiles those texts again, through
 * the same pipeline, to the same hash.
 */

import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import type { SourceHost } from '../policy/source-host.js';
import type { PinOptions } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import { loadAndCompile } from './policy-loader.js';
import { appliedSourcesPath, readJson, writeJson, type RestorePolicy } from './rollback-record.js';
import { FileSourceHost } from './source-host.js';
import type { AppliedState } from './state.js';
import { UserError } from './user-error.js';

/** The policy an interface enforces, with the texts it was compiled from. */
type KeptSources = Omit<RestorePolicy, 'mode'>;

/** Keeps the texts of the policy just applied to `ifname`, for a later rollback to it. */
export function keepAppliedSources(ifname: string, kept: KeptSources, o: PinOptions = {}): void {
  writeJson(appliedSourcesPath(ifname, o), kept);
}

/** Drops the texts kept for `ifname` (its interface is gone). */
export function forgetAppliedSources(ifname: string, o: PinOptions = {}): void {
  rmSync(appliedSourcesPath(ifname, o), { force: true });
}

/** A source host over kept texts, resolving paths as the file host does. */
export class KeptSourceHost implements SourceHost {
  constructor(private readonly texts: Record<string, string>) {}

  readFile(path: string): string {
    const text = Object.hasOwn(this.texts, path) ? this.texts[path] : undefined;
    if (text === undefined) throw new Error(`${path} was not kept with the policy`);
    return text;
  }

  resolve(fromFile: string, path: string): string {
    return resolve(dirname(fromFile), path);
  }
}

/**
 * What a rollback gives `ifname` back: the policy in force (`state`) with
 * its texts, or null when xdpfw enforces nothing there. The texts are those
 * `apply` kept; else, for a policy applied before they were kept or by the
 * controller from a file, the file itself if it still compiles to the hash
 * in force. A policy that cannot be had again is `rollback-unavailable`.
 */
export function restorePolicyFor(
  ifname: string,
  state: AppliedState | undefined,
  attached: boolean,
  o: PinOptions = {},
): RestorePolicy | null {
  if (!attached) return null;
  if (!state) throw unavailable(ifname, 'xdpfw has no record of the policy in force there');
  const kept = readJson<KeptSources>(appliedSourcesPath(ifname, o));
  if (kept && kept.policyHash === state.policyHash) return { ...kept, mode: state.mode };
  if (state.source && !state.source.startsWith('file ')) {
    throw unavailable(ifname, `its policy came from ${state.source}, whose text xdpfw did not keep`);
  }
  const host = new FileSourceHost();
  let hash: string | undefined;
  try {
    hash = loadAndCompile(state.policyFile, host).compiled?.interfaces.find((i) => i.name === ifname)?.hash;
  } catch {
    hash = undefined; // unreadable: the message below says the file is not that policy any more
  }
  if (hash !== state.policyHash) {
    throw unavailable(ifname, `${state.policyFile} has changed since it was applied, and its text then was not kept`);
  }
  return { policyFile: state.policyFile, policyHash: state.policyHash, mode: state.mode, texts: Object.fromEntries(host.texts) };
}

function unavailable(ifname: string, why: string): UserError {
  return new UserError(
    'rollback-unavailable',
    `cannot roll ${ifname} back to the policy in force there: ${why}; nothing was applied`,
    ExitCode.policy,
    'apply the policy in force again (without --confirm) so that xdpfw keeps its text, then apply --confirm',
  );
}
