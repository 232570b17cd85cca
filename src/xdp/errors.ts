/**
 * Kernel errors that keep their context (cilium/ebpf's internal/errors.go):
 * which operation failed, the errno as a name and a sentence a user can act
 * on, and for a rejected program the verifier's last lines.
 */

import koffi from 'koffi';

/** Linux-internal errno (include/linux/errno.h) that leaks out of bpf(). */
export const ENOTSUPP = 524;

const NAMES = new Map<number, string>();
for (const [name, value] of Object.entries(koffi.os.errno)) {
  // EOPNOTSUPP and ENOTSUP share 95, EWOULDBLOCK and EAGAIN share 11: keep the usual name.
  if (!NAMES.has(value) || name === 'EOPNOTSUPP' || name === 'EAGAIN') NAMES.set(value, name);
}
NAMES.set(ENOTSUPP, 'ENOTSUPP');

/** What a user should understand from an errno returned by bpf(), netlink or mount. */
const SENTENCES: Record<string, string> = {
  EPERM: 'operation not permitted: run as root (CAP_BPF and CAP_NET_ADMIN needed)',
  EACCES: 'permission denied: a capability is missing or the verifier refused the program',
  ENOENT: 'no such file or object (not built, not pinned, or already removed?)',
  ENODEV: 'no such network interface in this network namespace',
  ENXIO: 'no such device or address',
  EBUSY: 'another XDP program is attached (not by xdpfw?)',
  EEXIST: 'already exists: an XDP program in the other mode, or a pin, is in the way',
  EOPNOTSUPP: 'the driver does not support native XDP: use --mode generic or auto',
  ENOTSUPP: 'operation not supported by this kernel',
  EINVAL: 'invalid argument: the kernel rejected a parameter (unknown flag, wrong size, or a feature it lacks)',
  E2BIG: 'argument too large: a map, key, value or program exceeds a kernel limit',
  ENOMEM: 'out of memory: the maps do not fit in kernel memory (or the memory cgroup limit)',
  ENOSPC: 'no space left: a map is full, or the verifier log overflowed its buffer',
  EBADF: 'bad file descriptor: a handle was already closed (a bug in xdpfw)',
  EFAULT: 'bad address (a bug in xdpfw)',
  EAGAIN: 'resource temporarily unavailable: try again',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files in the system',
  ENOSYS: 'the kernel has no bpf() syscall (CONFIG_BPF_SYSCALL off)',
  ENOTDIR: 'a path component is not a directory',
  EROFS: 'read-only filesystem',
  ERANGE: 'result out of range',
  ESRCH: 'no such object (the program or link is gone)',
  ENOLINK: 'the link was detached',
};

/** `EPERM` for 1; `errno 4242` for an errno this table does not know. */
export function errnoName(errno: number): string {
  return NAMES.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}

/** The sentence for an errno, e.g. EBUSY → "another XDP program is attached (not by xdpfw?)". */
export function errnoSentence(errno: number): string {
  const name = errnoName(errno);
  return SENTENCES[name] ?? `system error ${name}`;
}

export interface KernelErrorOptions {
  /** A sentence that fits this operation better than the errno's usual one. */
  hint?: string;
  /** libbpf's own messages around the failure, oldest first; the last few go into the message. */
  libbpfMessages?: string[];
  /** Keep libbpf's messages out of the message text (they are still on the error). */
  quietLibbpf?: boolean;
  cause?: unknown;
}

const LIBBPF_LINES_SHOWN = 3;

/**
 * A failed kernel or libbpf call. `operation` says what xdpfw was doing
 * ("attaching xdpfw to eth0 in native mode"), `errnoName` and `sentence`
 * what went wrong.
 */
export class KernelError extends Error {
  readonly code: string = 'kernel-error';
  readonly errno: number;
  readonly errnoName: string;
  readonly sentence: string;
  readonly libbpfMessages: string[];

  constructor(
    readonly operation: string,
    errno: number,
    options: KernelErrorOptions = {},
  ) {
    const abs = Math.abs(errno);
    const sentence = options.hint ?? errnoSentence(abs);
    super(`${operation}: ${errnoName(abs)}: ${sentence}`, { cause: options.cause });
    this.name = 'KernelError';
    this.errno = abs;
    this.errnoName = errnoName(abs);
    this.sentence = sentence;
    this.libbpfMessages = options.libbpfMessages ?? [];
    if (!options.quietLibbpf && this.libbpfMessages.length > 0) {
      const last = this.libbpfMessages.slice(-LIBBPF_LINES_SHOWN).flatMap((m) => m.split('\n'));
      this.message += `\n${last.map((l) => `  libbpf: ${l}`).join('\n')}`;
    }
  }
}

/** Lines of the verifier log kept in the error message. */
export const VERIFIER_TAIL_LINES = 20;

/**
 * The verifier refused a program. Keeps the whole log (as far as the buffer
 * held it: the kernel keeps the tail) and shows its last lines.
 */
export class VerifierError extends KernelError {
  override readonly code = 'verifier-error';
  /** The last VERIFIER_TAIL_LINES non-empty lines of the log. */
  readonly tail: string[];

  constructor(
    readonly programName: string,
    errno: number,
    readonly log: string,
    options: KernelErrorOptions & { truncated?: boolean } = {},
  ) {
    super(`loading BPF program '${programName}'`, errno, {
      hint: 'the verifier rejected the program',
      quietLibbpf: true,
      ...options,
    });
    this.name = 'VerifierError';
    const lines = log.split('\n').filter((l) => l.trim() !== '');
    this.tail = lines.slice(-VERIFIER_TAIL_LINES);
    const omitted = lines.length - this.tail.length;
    const head =
      omitted > 0 || options.truncated
        ? `verifier log, last ${this.tail.length} lines${options.truncated ? ' (log truncated by the kernel)' : ''}:`
        : 'verifier log:';
    this.message = `${this.message}\n${head}\n${this.tail.map((l) => `  | ${l}`).join('\n')}`;
  }
}

/** The machine is set up so that xdpfw must not go on (a private mount namespace without a bpffs, say); the hint says what to do. */
export class EnvironmentError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'EnvironmentError';
  }
}

/**
 * What a user can meet when the interface is not in the state an operation
 * expects, because of someone else: another tool's XDP program holds the hook
 * (`foreign-xdp`), xdpfw is not there (`not-attached`), the interface
 * or xdpfw's link went away meanwhile (`link-gone`), or another writer
 * replaced the program between our look and our compare-and-swap
 * (`swap-lost`). Never a bug in xdpfw, so never an internal error.
 */
export type AttachmentCode = 'foreign-xdp' | 'not-attached' | 'link-gone' | 'swap-lost';

export class AttachmentError extends Error {
  constructor(
    readonly code: AttachmentCode,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'AttachmentError';
  }
}

/** The running kernel lacks a feature xdpfw needs. */
export class UnsupportedFeatureError extends Error {
  readonly code = 'unsupported-feature';

  constructor(
    readonly feature: string,
    readonly minimumKernel?: string,
    readonly hint?: string,
  ) {
    const version = minimumKernel ? ` (needs Linux ${minimumKernel} or later)` : '';
    super(`this kernel does not support ${feature}${version}${hint ? `: ${hint}` : ''}`);
    this.name = 'UnsupportedFeatureError';
  }
}

/** Throws a KernelError when `result` is a negative errno; returns it otherwise. */
export function check(result: number, operation: string | (() => string), options?: KernelErrorOptions): number {
  if (result < 0) throw new KernelError(typeof operation === 'string' ? operation : operation(), -result, options);
  return result;
}
