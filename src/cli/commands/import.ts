import { writeFileSync } from 'node:fs';

import { importIptables, importNft, type ImportResult } from '../../app/import.js';
import { verifyImport, type VerifyReport } from '../../app/import-verify.js';
import { ExitCode } from '../../app/exit-codes.js';
import { formatImportDiagnostic, type ImportDiagnostic } from '../../import/codes.js';
import type { CliIo } from '../io.js';
import { err, json } from '../io.js';
import { verifyJson, verifyLines } from './import-verify.js';

export interface ImportCommandOptions {
  output?: string;
  iface?: string[];
  chain?: string;
  ipset?: string;
  ip6?: string;
  partial?: boolean;
  json?: boolean;
  /** `--verify`: prove the translation; `--verify POLICY`: prove that policy file instead. */
  verify?: string | boolean;
}

/**
 * `xdpfw import iptables FILE`: the dump translated into a policy, written
 * to -o or stdout. Every rule that cannot be carried over is reported, all
 * at once, and nothing is written unless --partial, which writes the rest
 * with the refusals listed at its top; either way the exit code is 1.
 */
export function importIptablesCommand(file: string, options: ImportCommandOptions, io: CliIo): number {
  const r = importIptables(file, {
    ...(options.chain ? { chain: options.chain } : {}),
    ...(options.iface?.length ? { interfaces: options.iface } : {}),
    ...(options.output ? { policyName: options.output } : {}),
    ...(options.ipset !== undefined ? { ipsetFile: options.ipset } : {}),
    ...(options.ip6 !== undefined ? { ip6File: options.ip6 } : {}),
  });
  return writeImport(file, r, options, io);
}

/** `xdpfw import nft FILE`: the same, for an nftables ruleset (the JSON of `nft -j list ruleset`, or its text). */
export function importNftCommand(file: string, options: Omit<ImportCommandOptions, 'chain'>, io: CliIo): number {
  const r = importNft(file, {
    ...(options.iface?.length ? { interfaces: options.iface } : {}),
    ...(options.output ? { policyName: options.output } : {}),
  });
  return writeImport(file, r, options, io);
}

function writeImport(file: string, r: ImportResult, options: ImportCommandOptions, io: CliIo): number {
  const written = r.policy !== null && (r.errors.length === 0 || options.partial === true);
  // Nothing is proved of a translation that leaves rules out.
  let proof: VerifyReport | undefined;
  if (options.verify && r.proof && r.errors.length === 0) {
    const policy =
      typeof options.verify === 'string' ? { path: options.verify } : { ...r.proof, shown: options.output ?? 'the translation' };
    proof = verifyImport(r.proof.program, policy, (text) => err(io, text));
  }
  const verified = proof ? verifyLines(proof, file, options.ip6 ? `${file} and ${options.ip6}` : file) : undefined;
  if (options.json) {
    const j = (d: ImportDiagnostic) => ({ file: d.file ?? file, line: d.line, column: d.column, code: d.code, message: d.message });
    const diagnostics = { errors: r.errors.map(j), warnings: r.warnings.map(j) };
    json(io, {
      ok: r.errors.length === 0 && verified?.ok !== false,
      written,
      ...diagnostics,
      policy: r.policy,
      ...(proof ? { verify: verifyJson(proof) } : {}),
    });
  } else {
    for (const d of r.errors) err(io, formatImportDiagnostic(file, d));
    for (const d of r.warnings) err(io, formatImportDiagnostic(file, d));
    for (const line of verified?.lines ?? []) err(io, line);
    if (options.verify && !proof && r.policy !== null)
      err(io, `${file}: not verified: rules were refused, and a proof of the rest would prove nothing`);
  }
  if (written) {
    const refused = r.errors.map((d) => `# ${formatImportDiagnostic(file, d)}`);
    const text = refused.length > 0 ? `# Not translated (xdpfw import --partial):\n${refused.join('\n')}\n\n${r.policy}` : r.policy!;
    if (options.output) writeFileSync(options.output, text);
    else if (!options.json) io.stdout.write(text);
  }
  if (r.errors.length === 0) return verified?.ok === false ? ExitCode.policy : ExitCode.ok;
  if (!options.json) {
    err(
      io,
      r.policy === null
        ? `${file}: ${r.errors.length} error(s) reading the dump; nothing written`
        : written
          ? `${file}: ${r.errors.length} rule(s) not translated, listed at the top of the policy`
          : `${file}: ${r.errors.length} rule(s) cannot be translated; nothing written (--partial writes the rest)`,
    );
  }
  return ExitCode.policy;
}
