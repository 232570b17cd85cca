/**
 * Exit codes of every xdpfw command (documented in docs/cli.md, tested).
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
  /** Another writer got there first (the run directory's lock stayed held, or a compare-and-swap was lost): running the command again may succeed. */
  conflict: 5,
  /** Another tool's XDP program holds an interface's hook; xdpfw leaves it in place and changed nothing. */
  foreign: 6,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
