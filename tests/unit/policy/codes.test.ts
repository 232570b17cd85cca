import { describe, expect, it } from 'vitest';
import { loadPolicy, parsePolicyFile, POLICY_CODES } from '../../../src/policy/index.js';
import { loadCases } from './load-cases.js';
import { MemoryHost } from '../../support/memory-host.js';
import { syntaxCases } from './syntax-cases.js';

/** Every code the stage emits over all the error cases. */
function emittedCodes(): Set<string> {
  const codes = new Set<string>();
  for (const c of syntaxCases) parsePolicyFile(c.input, 'edge.xdpfw').diagnostics.forEach((d) => codes.add(d.code));
  for (const c of loadCases) loadPolicy(c.root, new MemoryHost(c.files)).diagnostics.forEach((d) => codes.add(d.code));
  return codes;
}

describe('diagnostic codes', () => {
  it('emits only codes listed in POLICY_CODES', () => {
    const unlisted = [...emittedCodes()].filter((code) => !Object.hasOwn(POLICY_CODES, code));
    expect(unlisted).toEqual([]);
  });

  it('has an error test for every code listed in POLICY_CODES', () => {
    const emitted = emittedCodes();
    expect(Object.keys(POLICY_CODES).filter((code) => !emitted.has(code))).toEqual([]);
  });

  it('describes every code in one line', () => {
    for (const [code, description] of Object.entries(POLICY_CODES)) {
      expect(code).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(description).not.toMatch(/\n/);
      expect(description.length).toBeGreaterThan(10);
    }
  });
});
