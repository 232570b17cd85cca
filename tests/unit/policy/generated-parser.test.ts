import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import peggy from 'peggy';
import { expect, it } from 'vitest';

const policyDir = resolve(import.meta.dirname, '../../../src/policy');

// src/policy/generated/ is gitignored and built by `npm run build:parser`;
// a stale build would test yesterday's grammar without anyone noticing.
it('runs against the parser that grammar.peggy generates today (else: npm run build:parser)', () => {
  const grammar = readFileSync(join(policyDir, 'grammar.peggy'), 'utf8');
  const fresh = peggy.generate(grammar, { output: 'source', format: 'es', grammarSource: 'src/policy/grammar.peggy' });
  expect(readFileSync(join(policyDir, 'generated/parser.js'), 'utf8') === fresh).toBe(true);
});
