/**
 * Kernel test support: policy text → compiled interface → a loaded program
 * judging frames (PolicyJudge), all in memory, plus the privilege gate the
 * kernel tiers share: skip loudly without root, but never in CI, where a
 * skip would turn a misconfigured runner green.
 */
import { compileSource } from '../../src/compiler/index.js';
import type { ClassifyChoice } from '../../src/compiler/index.js';
import type { CompiledInterface } from '../../src/compiler/output.js';
import { PolicyJudge } from '../../src/xdp/judge.js';
import { MemoryHost } from './memory-host.js';

/** The name the policy text gets in the in-memory host (diagnostics show it). */
export const POLICY_FILE = 'policy.xdpfw';

/**
 * Whether a suite needing root (CAP_BPF, CAP_NET_ADMIN) should be skipped:
 * outside CI a non-root run skips with a warning on stderr; with CI=true it
 * runs, and fails on the first syscall that needs the privilege.
 */
export function skipWithoutRoot(suite: string): boolean {
  if (process.getuid?.() === 0 || process.env.CI === 'true') return false;
  console.warn(`\n*** SKIPPED ${suite}: needs root (CAP_BPF, CAP_NET_ADMIN); run the kernel tests as root ***\n`);
  return true;
}

export interface TestPolicyOptions {
  /** Set files and includes, by path. */
  files?: Record<string, string>;
  /** The interface to compile; default: the only one. */
  ifname?: string;
  /** The classification path: the compiler's choice by default. */
  classify?: ClassifyChoice;
}

/**
 * Compiles `text` (its includes and set files in `files`) and returns the
 * interface named `ifname`, or the only one. Throws with every error
 * diagnostic, rendered with its excerpt, when the policy does not compile.
 */
export function compileInterfaceText(text: string, options: TestPolicyOptions = {}): CompiledInterface {
  const host = new MemoryHost({ [POLICY_FILE]: text, ...options.files });
  const result = compileSource(POLICY_FILE, host, { classify: options.classify });
  if (!result.compiled) {
    const rendered = result.rendered.join('\n');
    throw new Error(`the test policy does not compile:\n${rendered || '(no diagnostics)'}`);
  }
  const interfaces = result.compiled.interfaces;
  const found = options.ifname ? interfaces.find((i) => i.name === options.ifname) : interfaces[0];
  if (!found || (!options.ifname && interfaces.length !== 1)) {
    const names = interfaces.map((i) => i.name).join(', ');
    throw new Error(`the test policy must have ${options.ifname ?? 'exactly one'} interface; it has: ${names}`);
  }
  return found;
}

/** Compiles `text` and loads it into a fresh program (not attached). Close the judge after use. */
export async function judgePolicy(text: string, options: TestPolicyOptions = {}): Promise<PolicyJudge> {
  return PolicyJudge.load(compileInterfaceText(text, options));
}
