import { expect } from 'vitest';
import { compileText } from '../compiler/helpers.js';

/** The real compiler accepts a translated policy: no error (warnings allowed). */
export function expectCompiles(policy: string): void {
  const errors = compileText(policy).diagnostics.filter((d) => d.severity === 'error');
  expect(errors.map((d) => d.message)).toEqual([]);
}
