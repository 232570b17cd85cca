import { EnvironmentError, KernelError, UnsupportedFeatureError, VerifierError } from '../xdp/index.js';
import { ExitCode } from './exit-codes.js';
import { UserError } from './user-error.js';

/**
 * Errors from the kernel side that the user can act on (no privilege, no
 * interface, a feature missing, the verifier said no, a bpffs that would
 * vanish) become UserErrors with their context kept; anything else stays a
 * bug and keeps its stack.
 */
export function toUserError(error: unknown): UserError | undefined {
  if (error instanceof VerifierError) return new UserError(error.code, error.message, ExitCode.system);
  if (error instanceof KernelError) {
    const hint = error.errnoName === 'EPERM' ? 'run xdpfw as root' : undefined;
    return new UserError(error.code, error.message, ExitCode.system, hint);
  }
  if (error instanceof UnsupportedFeatureError) return new UserError(error.code, error.message, ExitCode.system, error.hint);
  if (error instanceof EnvironmentError) return new UserError(error.code, error.message, ExitCode.system, error.hint);
  return undefined;
}
