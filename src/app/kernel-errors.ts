import {
  AttachmentError,
  EnvironmentError,
  KernelError,
  UnsupportedFeatureError,
  VerifierError,
  type AttachmentCode,
} from '../xdp/index.js';
import { ExitCode, type ExitCodeValue } from './exit-codes.js';
import { UserError } from './user-error.js';

const ATTACHMENT_EXIT: Record<AttachmentCode, ExitCodeValue> = {
  'foreign-xdp': ExitCode.foreign,
  'not-attached': ExitCode.policy,
  'link-gone': ExitCode.system,
  'swap-lost': ExitCode.conflict,
};

const ENODEV = 19;

/**
 * Errors from the kernel side that the user can act on (no privilege, no
 * interface, a feature missing, the verifier said no, a bpffs that would
 * vanish, an interface held or changed by someone else) become UserErrors
 * with their context kept; anything else stays a bug and keeps its stack.
 */
export function toUserError(error: unknown): UserError | undefined {
  if (error instanceof AttachmentError) return new UserError(error.code, error.message, ATTACHMENT_EXIT[error.code], error.hint);
  if (error instanceof VerifierError) return new UserError(error.code, error.message, ExitCode.system);
  if (error instanceof KernelError) {
    if (error.errno === ENODEV) {
      return new UserError('interface-not-found', error.message, ExitCode.system, "list interfaces with 'ip link'");
    }
    const hint = error.errnoName === 'EPERM' ? 'run xdpfw as root' : undefined;
    return new UserError(error.code, error.message, ExitCode.system, hint);
  }
  if (error instanceof UnsupportedFeatureError) return new UserError(error.code, error.message, ExitCode.system, error.hint);
  if (error instanceof EnvironmentError) return new UserError(error.code, error.message, ExitCode.system, error.hint);
  return undefined;
}
