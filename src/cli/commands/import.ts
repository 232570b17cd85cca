import { writeFileSync } from 'node:fs';

import { importIptables, importNft, type ImportResult } from '../../app/import.js';
import { ExitCode } from '../../app/exit-codes.js';
import { formatImportDiagnostic, type ImportDiagnostic } from '../../import/codes.js';
import type { CliIo } from '../io.js';
import { err, json } from '../io.js';

export interface ImportCommandOptions {
  output?: string;
  iface?: string[];
  chain?: string;
  partial?: boolean;
  json?: boolean;
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
  });
  return writeImport(file, r, options, io);
}

/** `xdpfw import nft FILE`: the same, for an nftables ruleset (the JSON of `nft -j list ruleset`, or its text). */
export function importNftCommand(file: string, options: Omit<ImportCommandOptions, 'chain'>, io: CliIo): number {
  return writeImport(file, importNft(file, options.iface?.length ? { interfaces: options.iface } : {}), options, io);
}

function writeImport(file: string, r: ImportResult, options: ImportCommandOptions, io: CliIo): number {
  const written = r.policy !== null && (r.errors.length === 0 || options.partial === true);
  if (options.json) {
    const j = (d: ImportDiagnostic) => ({ file, line: d.line, column: d.column, code: d.code, message: d.message });
    json(io, { ok: r.errors.length === 0, written, errors: r.errors.map(j), warnings: r.warnings.map(j), policy: r.policy });
  } else {
    for (const d of r.errors) err(io, formatImportDiagnostic(file, d));
    for (const d of r.warnings) err(io, formatImportDiagnostic(file, d));
  }
  if (written) {
    const refused = r.errors.map((d) => `# ${formatImportDiagnostic(file, d)}`);
    const text = refused.length > 0 ? `# Not translated (xdpfw import --partial):\n${refused.join('\n')}\n\n${r.policy}` : r.policy!;
    if (options.output) writeFileSync(options.output, text);
    else if (!options.json) io.stdout.write(text);
  }
  if (r.errors.length === 0) return ExitCode.ok;
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
