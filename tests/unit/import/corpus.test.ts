/**
 * The import corpus: each NAME.rules in tests/fixtures/import/corpus is an
 * iptables-save or ip6tables-save dump in the shapes ufw, firewalld,
 * Docker, fail2ban, Shorewall, kube-proxy and hand-written servers give
 * (the README there says which is which). Each is translated as
 * `xdpfw import iptables NAME.rules` run in that folder translates it (the
 * parse and translate calls of src/app/import.ts, the interfaces those the
 * rules name; NAME.v6.rules as IPv6 rules) and compared with its goldens:
 *
 * - NAME.xdpfw, the policy, when no rule is refused;
 * - NAME.diagnostics, the refusals then the warnings as the CLI prints them
 *   (formatImportDiagnostic, one a line), when there are any.
 *
 * A golden that should not be there (an .xdpfw beside refusals, a
 * .diagnostics of a clean translation, either without its dump) fails, as
 * does a dump without its golden, so that goldens cannot silently go stale.
 *
 * XDPFW_UPDATE_GOLDENS=1 rewrites the goldens, and deletes those that should
 * not be there, instead of comparing: after a change to the importer, run
 * it and read the diff.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { formatImportDiagnostic } from '../../../src/import/codes.js';
import { parseIpsetSave } from '../../../src/import/ipset-save.js';
import { parseIptablesSave } from '../../../src/import/iptables-save.js';
import { translateIptables } from '../../../src/import/iptables-translate.js';
import { compileText } from '../compiler/helpers.js';

const corpusDir = join(import.meta.dirname, '../../fixtures/import/corpus');
const update = process.env.XDPFW_UPDATE_GOLDENS === '1';

/**
 * What `xdpfw import iptables FILE` gives for a dump: the translated policy
 * (null when the dump does not parse), which it writes only without
 * refusals (or with --partial), and its stderr lines.
 */
function importAsCli(file: string, text: string): { policy: string | null; refused: boolean; diagnostics: string[] } {
  const save = parseIptablesSave(text);
  if (save.errors.length > 0) {
    return { policy: null, refused: true, diagnostics: save.errors.map((d) => formatImportDiagnostic(file, d)) };
  }
  // A dump's ipsets are in its companion NAME.ipset, as --ipset would give them.
  const setsFile = file.replace(/\.rules$/, '.ipset');
  const ipsets = existsSync(join(corpusDir, setsFile))
    ? parseIpsetSave(readFileSync(join(corpusDir, setsFile), 'utf8'), setsFile)
    : undefined;
  const t = translateIptables(save, { file, family: file.endsWith('.v6.rules') ? 6 : 4, ...(ipsets ? { ipsets } : {}) });
  const diagnostics = [...t.refusals, ...t.warnings].map((d) => formatImportDiagnostic(file, d));
  return { policy: t.policy, refused: t.refusals.length > 0, diagnostics };
}

/** Compares `actual` with the golden at `path`, or under XDPFW_UPDATE_GOLDENS=1 writes it; null: there must be none. */
function expectGolden(path: string, actual: string | null): void {
  if (update) {
    if (actual === null) rmSync(path, { force: true });
    else writeFileSync(path, actual);
    return;
  }
  if (actual === null) {
    expect(existsSync(path), `${path} should not exist: run with XDPFW_UPDATE_GOLDENS=1`).toBe(false);
    return;
  }
  expect(existsSync(path), `${path} is missing: run with XDPFW_UPDATE_GOLDENS=1`).toBe(true);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

const files = readdirSync(corpusDir).sort();
const dumps = files.filter((f) => f.endsWith('.rules')).map((f) => f.slice(0, -'.rules'.length));

describe('the import corpus', () => {
  it('holds the dumps and, beside each, only its goldens and ipset companion', () => {
    expect(dumps.length).toBeGreaterThanOrEqual(12);
    const allowed = new Set(['README.md', ...dumps.flatMap((d) => ['rules', 'xdpfw', 'diagnostics', 'ipset'].map((e) => `${d}.${e}`))]);
    const strays = files.filter((f) => !allowed.has(f));
    if (update) for (const f of strays.filter((s) => /\.(xdpfw|diagnostics)$/.test(s))) rmSync(join(corpusDir, f));
    else expect(strays, 'files of no dump (a golden whose .rules is gone?)').toEqual([]);
  });

  it('has a README line for each dump', () => {
    const readme = readFileSync(join(corpusDir, 'README.md'), 'utf8');
    expect(dumps.filter((d) => !readme.includes(`\`${d}.rules\``))).toEqual([]);
  });

  for (const name of dumps) {
    it(`translates ${name}.rules to its goldens, and the translation compiles`, () => {
      const file = `${name}.rules`;
      const { policy, refused, diagnostics } = importAsCli(file, readFileSync(join(corpusDir, file), 'utf8'));
      // What --partial writes must compile too: src/app/import.ts compiles every translation.
      if (policy !== null) {
        const errors = compileText(policy).diagnostics.filter((d) => d.severity === 'error');
        expect(errors.map((d) => d.message)).toEqual([]);
      }
      expectGolden(join(corpusDir, `${name}.xdpfw`), refused ? null : policy);
      expectGolden(join(corpusDir, `${name}.diagnostics`), diagnostics.length > 0 ? diagnostics.join('\n') + '\n' : null);
    });
  }
});
