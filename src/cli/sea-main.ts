/**
 * The entry of the single executable (scripts/package/sea.ts bundles it as
 * CommonJS, which a SEA's main must be): bin/xdpfw.js's job, after writing
 * out the embedded files that the CLI reads beside its script. The bundle
 * reads `import.meta.url` from the global set here.
 */
import { ExitCode } from '../app/exit-codes.js';
import { exitQuietlyOnEpipe, main } from './main.js';
import { startEmbeddedRuntime } from './sea-runtime.js';

try {
  (globalThis as { __xdpfwModuleUrl?: string }).__xdpfwModuleUrl = startEmbeddedRuntime();
} catch (error) {
  // An unwritable or foreign runtime directory is the system's refusal, not a bug.
  process.stderr.write(`xdpfw: cannot write out the executable's embedded files: ${(error as Error).message}\n`);
  process.exit(ExitCode.system);
}

exitQuietlyOnEpipe(process.stdout, (code) => process.exit(code));
exitQuietlyOnEpipe(process.stderr, (code) => process.exit(code));
void main(process.argv, { stdout: process.stdout, stderr: process.stderr }).then((code) => {
  process.exitCode = code;
});
