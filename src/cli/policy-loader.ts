import { compilePolicy } from '../compiler/index.js';
import type { CompiledPolicy } from '../compiler/output.js';
import type { IrPolicy } from '../compiler/ir.js';
import type { Diagnostic } from '../policy/diagnostic.js';
import { hasErrors } from '../policy/diagnostic.js';
import { formatDiagnostic, loadPolicy } from '../policy/index.js';
import type { PolicyDocument } from '../policy/ast.js';
import type { SourceHost } from '../policy/source-host.js';
import { ExitCode } from './exit-codes.js';
import { FileSourceHost } from './source-host.js';
import { UserError } from './user-error.js';

export interface LoadedPolicy {
  file: string;
  document?: PolicyDocument;
  ir?: IrPolicy;
  compiled?: CompiledPolicy;
  diagnostics: Diagnostic[];
  /** Every diagnostic rendered with its source excerpt. */
  rendered: string[];
  /** Every file read: the policy, its includes and its set files (a watcher's list). */
  sources: string[];
}

/**
 * Parse, check and compile a policy file; every diagnostic of every stage is
 * returned. Files come from the file system unless another host is given
 * (the controller reads a git commit's files).
 */
export function loadAndCompile(file: string, host: SourceHost = new FileSourceHost()): LoadedPolicy {
  const loaded = loadPolicy(file, host);
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  let result: Pick<LoadedPolicy, 'ir' | 'compiled'> = {};
  if (loaded.document && !hasErrors(diagnostics)) {
    const compiled = compilePolicy(loaded.document);
    diagnostics.push(...compiled.diagnostics);
    result = { ir: compiled.ir, compiled: compiled.compiled };
  }
  const rendered = diagnostics.map((d) => formatDiagnostic(d, (f) => loaded.sources.get(f)));
  return { file, document: loaded.document, ...result, diagnostics, rendered, sources: [...loaded.sources.keys()] };
}

/** Like loadAndCompile, but a policy with errors is a UserError (nothing gets applied). */
export function compileOrThrow(file: string, onDiagnostic: (text: string) => void): LoadedPolicy & { compiled: CompiledPolicy } {
  const loaded = loadAndCompile(file);
  loaded.rendered.forEach(onDiagnostic);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0 || !loaded.compiled) {
    throw new UserError('policy-invalid', `${file}: ${errors} error(s); nothing was applied`, ExitCode.policy);
  }
  return loaded as LoadedPolicy & { compiled: CompiledPolicy };
}

/** The interfaces of a compiled policy selected by --iface (all when none given). */
export function selectInterfaces<T extends { name: string }>(all: T[], wanted: string[] | undefined, file: string): T[] {
  if (!wanted || wanted.length === 0) return all;
  return wanted.map((name) => {
    const found = all.find((i) => i.name === name);
    if (!found) {
      throw new UserError(
        'interface-not-in-policy',
        `interface '${name}' has no block in ${file}`,
        ExitCode.usage,
        `the policy defines: ${all.map((i) => i.name).join(', ') || 'no interfaces'}`,
      );
    }
    return found;
  });
}
