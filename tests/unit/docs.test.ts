import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMPILER_CODES } from '../../src/compiler/codes.js';
import { POLICY_CODES } from '../../src/policy/codes.js';

const root = join(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Every `new UserError('code', …)` in src, plus the codes of the kernel errors the CLI passes on. */
function userErrorCodes(): string[] {
  const codes = new Set(['kernel-error', 'verifier-error', 'unsupported-feature']);
  for (const file of sourceFiles(join(root, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/new UserError\(\s*'([a-z-]+)'/g)) codes.add(m[1]);
  }
  return [...codes].sort();
}

describe('the README documents every code a user can meet', () => {
  it.each([...Object.keys(POLICY_CODES), ...Object.keys(COMPILER_CODES)])('diagnostic %s has a row in the diagnostics table', (code) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${code}\` \\|`, 'm'));
  });

  it('finds the CLI error codes in the source (the scan works)', () => {
    expect(userErrorCodes()).toEqual(expect.arrayContaining(['not-root', 'interface-not-found', 'policy-invalid', 'packet-syntax']));
  });

  it.each(userErrorCodes())('CLI error %s is listed', (code) => {
    expect(readme).toContain(`\`${code}\``);
  });
});
