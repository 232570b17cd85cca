import type { CliIo } from '../io.js';
import { diagnosticJson, err, json, out } from '../io.js';
import { ExitCode } from '../../app/exit-codes.js';
import { loadAndCompile } from '../../app/policy-loader.js';

export interface CheckOptions {
  json?: boolean;
}

/** `xdpfw check FILE…`: every diagnostic of every file; exit 1 if any error. */
export function checkCommand(files: string[], options: CheckOptions, io: CliIo): number {
  const results = files.map((file) => loadAndCompile(file));
  const errors = results.flatMap((r) => r.diagnostics).filter((d) => d.severity === 'error').length;
  const warnings = results.flatMap((r) => r.diagnostics).length - errors;
  if (options.json) {
    json(io, {
      ok: errors === 0,
      files: results.map((r) => ({
        file: r.file,
        ok: !r.diagnostics.some((d) => d.severity === 'error'),
        diagnostics: r.diagnostics.map(diagnosticJson),
        interfaces: r.ir?.interfaces.map((i) => ({ name: i.name, rules: i.rules.length, defaultAction: i.defaultAction })) ?? null,
      })),
    });
  } else {
    for (const r of results) r.rendered.forEach((text) => err(io, text));
    for (const r of results) {
      const own = r.diagnostics.filter((d) => d.severity === 'error').length;
      const summary = r.ir?.interfaces.map((i) => `${i.name}: ${i.rules.length} rules, default ${i.defaultAction}`).join('; ');
      (own === 0 ? out : err)(io, own === 0 ? `${r.file}: ok${summary ? ` (${summary})` : ''}` : `${r.file}: ${own} error(s)`);
    }
    if (warnings > 0 || errors > 0) err(io, `${errors} error(s), ${warnings} warning(s)`);
  }
  return errors === 0 ? ExitCode.ok : ExitCode.policy;
}
