/**
 * Exit codes of every xdpfw command (documented in README, tested).
 */
export const ExitCode = {
  /** Success; for `check`, no errors (warnings allowed); for `test`, every case matched. */
  ok: 0,
  /** The policy has errors, or a `test` case did not get its expected verdict. */
  policy: 1,
  /** Bad command-line usage. */
  usage: 2,
  /** The system refused: not root, interface missing, kernel feature missing, verifier rejection. */
  system: 3,
  /** A bug in xdpfw: an unexpected exception (its stack is printed). */
  internal: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
