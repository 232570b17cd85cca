import { compileSource, type SourceCompilation } from '../compiler/index.js';
import type { CompiledPolicy } from '../compiler/output.js';
import type { SourceHost } from '../policy/source-host.js';
import { ExitCode } from './exit-codes.js';
import { FileSourceHost } from './source-host.js';
import { UserError } from './user-error.js';

export type LoadedPolicy = SourceCompilation;

/**
 * Parse, check and compile a policy file; every diagnostic of every stage is
 * returned. Files come from the file system unless another host is given
 * (the controller reads a git commit's files).
 */
export function loadAndCompile(file: string, host: SourceHost = new FileSourceHost()): LoadedPolicy {
  return compileSource(file, host);
}

/** Like loadAndCompile, but a policy with errors is a UserError (nothing gets applied). */
export function compileOrThrow(
  file: string,
  onDiagnostic: (text: string) => void,
  host: SourceHost = new FileSourceHost(),
): LoadedPolicy & { compiled: CompiledPolicy } {
  const loaded = loadAndCompile(file, host);
  loaded.rendered.forEach(onDiagnostic);
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error').length;
  if (errors > 0 || !loaded.compiled) {
    throw new UserError(
      'policy-invalid',
      `${file}: ${errors} error(s); nothing was applied`,
      ExitCode.policy,
      undefined,
      loaded.diagnostics,
    );
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
