/**
 * Compiles BPF C outside the Makefiles (test fixtures, bench probe builds)
 * with the compiler bpf/Makefile uses: bpf/toolchain.mk pins clang's major
 * version and finds the multiarch include directory (Debian keeps <asm/…>
 * there, where clang's BPF target does not look), and `make print-toolchain`
 * tells both, so the two cannot drift apart.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BPF_DIR = fileURLToPath(new URL('../bpf/', import.meta.url));

let toolchain: { clang: string; includes: string[] } | undefined;

/** The pinned clang and its include flags, as bpf/toolchain.mk chooses them (its error when it cannot). */
export function bpfToolchain(): { clang: string; includes: string[] } {
  if (toolchain) return toolchain;
  let out: string;
  try {
    out = execFileSync('make', ['-s', '--no-print-directory', '-C', BPF_DIR, 'print-toolchain'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`bpf/toolchain.mk: ${stderr || (err instanceof Error ? err.message : String(err))}`);
  }
  const [clang, includes = ''] = out.split('\n');
  toolchain = { clang, includes: includes.split(' ').filter(Boolean) };
  return toolchain;
}

/** <pinned clang> -O2 -g -target bpf [multiarch include] ...extra -c source -o out; clang's messages in the error thrown. */
export function clangBpf(source: string, out: string, extra: string[] = []): void {
  const { clang, includes } = bpfToolchain();
  execFileSync(clang, ['-O2', '-g', '-target', 'bpf', ...includes, ...extra, '-c', source, '-o', out], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
