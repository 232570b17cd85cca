/**
 * Compiles BPF C outside the Makefiles (test fixtures, bench probe builds)
 * with bpf/Makefile's include of the multiarch directory: Debian keeps <asm/…> under the
 * multiarch include directory, which clang's BPF target does not search, so
 * without it <linux/bpf.h> fails on a machine lacking /usr/include/asm.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let archIncludes: string[] | undefined;

function multiarchIncludes(): string[] {
  if (archIncludes) return archIncludes;
  let dir = '';
  try {
    dir = `/usr/include/${execFileSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).trim()}`;
  } catch {
    // no gcc: rely on /usr/include/asm
  }
  archIncludes = dir && fs.existsSync(`${dir}/asm`) ? [`-I${dir}`] : [];
  return archIncludes;
}

/** clang -O2 -g -target bpf [multiarch include] ...extra -c source -o out; clang's messages in the error thrown. */
export function clangBpf(source: string, out: string, extra: string[] = []): void {
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', ...multiarchIncludes(), ...extra, '-c', source, '-o', out], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
