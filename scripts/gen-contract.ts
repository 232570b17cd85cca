/**
 * src/contract/kernel.ts from bpf/xdpfw.h: `npm run build:contract` writes
 * it, `npm run check:generated` (--check) fails, with the lines that differ,
 * when the committed file is not what the header gives (cilium/ebpf's
 * "DO NOT EDIT" types, held to their source by CI).
 *
 * The header is read as text, not from the compiled object's BTF: most of
 * the contract is #defines (limits, address-table geometry, the linear
 * path's bits), which BTF does not carry, and reading text needs neither
 * clang nor bpftool, so the check runs anywhere. The kernel tests compare
 * what this generator computes (constants, struct layouts) with clang's
 * BTF of the same header, and the map list with the objects' maps.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseHeader } from './contract/parse-header.js';
import { renderContract } from './contract/render.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
export const HEADER_PATH = path.join(REPO, 'bpf/xdpfw.h');
export const CONTRACT_PATH = path.join(REPO, 'src/contract/kernel.ts');

/** The pure part: header text → module text. */
export function generateContract(headerText: string): string {
  return renderContract(parseHeader(headerText));
}

/**
 * Null when equal; else a line diff (longest common subsequence) of the
 * changed lines with `context` lines around them: `-` committed, `+`
 * generated, each with its line number in its own file.
 */
export function describeDifference(committed: string, generated: string, context = 2): string | null {
  if (committed === generated) return null;
  const a = committed.split('\n');
  const b = generated.split('\n');
  const common = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      common[i][j] = a[i] === b[j] ? common[i + 1][j + 1] + 1 : Math.max(common[i + 1][j], common[i][j + 1]);
    }
  }
  const lines: { mark: ' ' | '-' | '+'; at: number; text: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) lines.push({ mark: ' ', at: ++j, text: a[i++] });
    else if (i < a.length && (j === b.length || common[i + 1][j] >= common[i][j + 1])) lines.push({ mark: '-', at: ++i, text: a[i - 1] });
    else lines.push({ mark: '+', at: ++j, text: b[j - 1] });
  }
  const near = (k: number) => lines.slice(Math.max(0, k - context), k + context + 1).some((l) => l.mark !== ' ');
  const out: string[] = [];
  lines.forEach((line, k) => {
    if (!near(k)) return;
    if (out.length > 0 && !near(k - 1)) out.push('  …');
    out.push(`${line.mark} ${String(line.at).padStart(4)}  ${line.text}`);
  });
  return out.join('\n');
}

function main(args: string[]): number {
  const generated = generateContract(fs.readFileSync(HEADER_PATH, 'utf8'));
  const relative = path.relative(REPO, CONTRACT_PATH);
  if (args.includes('--check')) {
    const committed = fs.existsSync(CONTRACT_PATH) ? fs.readFileSync(CONTRACT_PATH, 'utf8') : '';
    const difference = describeDifference(committed, generated);
    if (difference === null) return 0;
    process.stderr.write(`${relative} is not what bpf/xdpfw.h gives (- committed, + generated):\n${difference}\n`);
    process.stderr.write('Run `npm run build:contract` and commit the result.\n');
    return 1;
  }
  fs.mkdirSync(path.dirname(CONTRACT_PATH), { recursive: true });
  fs.writeFileSync(CONTRACT_PATH, generated);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
