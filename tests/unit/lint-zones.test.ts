/**
 * The module map of docs/DESIGN.md, as lint enforces it: for each layer, an
 * import it may make passes and one it may not is reported. Linted as text
 * under a file name in that layer, so nothing is written to src/.
 */
import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const root = path.join(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

/** The import-zone messages for `import 'SPECIFIER'` in a file at `importer` (repository-relative). */
async function zoneErrors(importer: string, target: string): Promise<string[]> {
  const from = path.join(root, importer);
  let specifier = path.relative(path.dirname(from), path.join(root, target)).replace(/\.ts$/, '.js');
  if (!specifier.startsWith('.')) specifier = `./${specifier}`;
  const [result] = await eslint.lintText(`import * as m from '${specifier}';\nexport default m;\n`, { filePath: from });
  return result.messages.filter((m) => m.ruleId === 'import-x/no-restricted-paths').map((m) => m.message);
}

const cases: [importer: string, target: string, allowed: boolean][] = [
  ['src/policy/zz.ts', 'src/packet/spec.ts', false],
  ['src/policy/zz.ts', 'src/compiler/index.ts', false],
  ['src/packet/zz.ts', 'src/policy/index.ts', false],
  ['src/policy/zz.ts', 'src/contract/kernel.ts', false],
  ['src/contract/zz.ts', 'src/policy/index.ts', false],
  ['src/compiler/zz.ts', 'src/contract/kernel.ts', true],
  ['src/xdp/zz.ts', 'src/contract/kernel.ts', true],
  ['src/compiler/zz.ts', 'src/policy/index.ts', true],
  ['src/compiler/zz.ts', 'src/packet/spec.ts', true],
  ['src/compiler/zz.ts', 'src/xdp/index.ts', false],
  ['src/compiler/zz.ts', 'src/app/lock.ts', false],
  ['src/xdp/zz.ts', 'src/compiler/output.ts', true],
  ['src/xdp/zz.ts', 'src/policy/index.ts', false],
  ['src/xdp/zz.ts', 'src/app/lock.ts', false],
  ['src/app/zz.ts', 'src/xdp/index.ts', true],
  ['src/app/zz.ts', 'src/xdp/link.ts', false],
  ['src/app/zz.ts', 'src/cli/io.ts', false],
  ['src/app/zz.ts', 'src/controller/unit.ts', false],
  ['src/cli/zz.ts', 'src/app/lock.ts', true],
  ['src/cli/zz.ts', 'src/controller/controller.ts', false],
  ['src/cli/commands/zz.ts', 'src/controller/controller.ts', false],
  ['src/cli/commands/run.ts', 'src/controller/controller.ts', true],
  ['src/controller/zz.ts', 'src/app/lock.ts', true],
  ['src/controller/zz.ts', 'src/cli/io.ts', false],
  ['tests/zz.ts', 'src/xdp/link.ts', true],
  ['tests/zz.ts', 'src/xdp/carry.ts', false],
];

describe('lint holds the module map of docs/DESIGN.md', () => {
  it.each(cases)('%s importing %s: allowed %s', async (importer, target, allowed) => {
    const errors = await zoneErrors(importer, target);
    if (allowed) expect(errors).toEqual([]);
    else expect(errors).toEqual([expect.stringMatching(/^Unexpected path ".*" imported in restricted zone\./)]);
  });
});
