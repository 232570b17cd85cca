import { ExitCode } from './exit-codes.js';
import { UserError } from './user-error.js';

/** `--wait SECONDS` as milliseconds; a usage error when it is not a number ≥ 0. */
export function waitMs(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds < 0) {
    throw new UserError('usage', `--wait takes a number of seconds (0 or more), not '${text}'`, ExitCode.usage);
  }
  return seconds * 1000;
}
