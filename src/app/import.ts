/**
 * `xdpfw import iptables` and `xdpfw import nft`: a dump read, translated
 * into an xdpfw policy, and that policy compiled before anything is
 * written, so that what import gives is a policy `check` accepts. Reading,
 * translating and refusing are src/import's; this layer reads the file
 * (a text nftables ruleset through nft, src/app/nft-text.ts) and compiles.
 */
import { readFileSync } from 'node:fs';

import { compileSource, type IrPolicy } from '../compiler/index.js';
import type { ImportDiagnostic } from '../import/codes.js';
import { parseIpsetSave, type IpsetSave } from '../import/ipset-save.js';
import { parseIptablesSave } from '../import/iptables-save.js';
import { dumpFamily, flattenIptables, translateIptables, type Translation } from '../import/iptables-translate.js';
import { mergeFamilies } from '../import/merge-families.js';
import { parseNftJson } from '../import/nft-json.js';
import { translateNft } from '../import/nft-translate.js';
import type { SourceProgram } from '../import/program.js';
import { findNft, nftTextToJson } from './nft-text.js';
import { ExitCode } from './exit-codes.js';
import { KeptSourceHost } from './rollback-sources.js';
import { UserError } from './user-error.js';

export interface ImportOptions {
  /** The chain whose packets the policy decides (INPUT). */
  chain?: string;
  /** Interfaces to write a block for; default: those the rules' `-i` name (src/import/iptables-emit.ts). */
  interfaces?: string[];
  /** The name the translation is compiled under, which its rules' locations show: the output file; default FILE.xdpfw. */
  policyName?: string;
  /** An `ipset save` file holding the sets `-m set` names. */
  ipsetFile?: string;
  /** An `ip6tables-save` dump to merge with the (IPv4) one into one policy. */
  ip6File?: string;
}

export interface ImportResult {
  /** The policy text; null when the dump could not be read (syntax errors). */
  policy: string | null;
  errors: ImportDiagnostic[];
  warnings: ImportDiagnostic[];
  /** What the dump means and the translation compiled, for --verify; absent when the dump could not be read. */
  proof?: { program: SourceProgram | readonly SourceProgram[]; file: string; text: string; ir: IrPolicy };
}

/** Reads and translates `file`; a translation `check` would refuse is a bug of the importer. */
export function importIptables(file: string, options: ImportOptions = {}): ImportResult {
  const text = readImported(file);
  const save = parseIptablesSave(text);
  let ipsets: IpsetSave | undefined;
  if (options.ipsetFile !== undefined) ipsets = parseIpsetSave(readImported(options.ipsetFile), options.ipsetFile);
  const save6 = options.ip6File !== undefined ? parseIptablesSave(readImported(options.ip6File)) : undefined;
  const in6 = (d: ImportDiagnostic): ImportDiagnostic => ({ ...d, file: options.ip6File });
  const errors = [...save.errors, ...(ipsets?.errors ?? []), ...(save6?.errors.map(in6) ?? [])];
  if (errors.length > 0) return { policy: null, errors, warnings: [] };
  const common = {
    ...(options.chain ? { chain: options.chain } : {}),
    ...(ipsets ? { ipsets } : {}),
  };
  if (!save6) {
    const family = dumpFamily(text, save);
    return compiledImport(
      file,
      translateIptables(save, { file, family, ...common, ...(options.interfaces ? { interfaces: options.interfaces } : {}) }),
      options,
    );
  }
  const v4 = flattenIptables(save, { file, family: 4, ...common });
  const v6 = flattenIptables(save6, { file: options.ip6File!, family: 6, ...common });
  if (!('program' in v4) || !('program' in v6)) {
    const refusals = [...v4.diagnostics().refusals, ...v6.diagnostics().refusals.map(in6)];
    return { policy: null, errors: refusals, warnings: [] };
  }
  const merged = mergeFamilies({
    v4: { dump: v4, file },
    v6: { dump: v6, file: options.ip6File! },
    ...(options.interfaces ? { interfaces: options.interfaces } : {}),
  });
  return compiledImport(file, { ...merged, program: merged.programs }, options);
}

/**
 * Reads and translates the nftables ruleset in `file`: the JSON of `nft -j
 * list ruleset`, or a text ruleset that nft converts (never in the host's
 * network namespace).
 */
export function importNft(file: string, options: Pick<ImportOptions, 'interfaces' | 'policyName'> = {}): ImportResult {
  let text = readImported(file);
  if (!text.trimStart().startsWith('{')) {
    const converted = nftTextToJson(file, findNft());
    if ('error' in converted) {
      const { line, column, error } = converted;
      return { policy: null, errors: [{ line, column, code: 'import-nft-text', message: `line ${line}: ${error}` }], warnings: [] };
    }
    text = converted.json;
  }
  const read = parseNftJson(text);
  if (!read.ruleset) return { policy: null, errors: read.errors, warnings: [] };
  return compiledImport(
    file,
    translateNft(read.ruleset, { file, ...(options.interfaces ? { interfaces: options.interfaces } : {}) }),
    options,
  );
}

function readImported(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new UserError('import-file', `cannot read ${file}: ${(error as Error).message}`, ExitCode.usage);
  }
}

function compiledImport(
  file: string,
  t: Omit<Translation, 'program'> & { program?: SourceProgram | readonly SourceProgram[] },
  options: Pick<ImportOptions, 'policyName'>,
): ImportResult {
  const name = options.policyName ?? `${file}.xdpfw`;
  const compiled = compileSource(name, new KeptSourceHost({ [name]: t.policy }));
  const invalid = compiled.diagnostics.filter((d) => d.severity === 'error');
  if (invalid.length > 0) {
    throw new Error(`the translation of ${file} does not compile:\n${compiled.rendered.join('\n')}\n--- the translation:\n${t.policy}`);
  }
  const proof = t.program && compiled.ir ? { program: t.program, file: name, text: t.policy, ir: compiled.ir } : undefined;
  return { policy: t.policy, errors: t.refusals, warnings: t.warnings, ...(proof ? { proof } : {}) };
}
