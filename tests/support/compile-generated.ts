/**
 * A generated policy compiled for a differential test: its one interface,
 * and the reference evaluator of the same document. Any error fails the
 * test with the policy's text, which reproduces it.
 */
import { expect } from 'vitest';

import { compilePolicy } from '../../src/compiler/index.js';
import type { CompiledInterface } from '../../src/compiler/output.js';
import { loadPolicy } from '../../src/policy/index.js';
import { MemoryHost } from './memory-host.js';
import { ReferenceEvaluator } from './reference-evaluator.js';

export function compileGenerated(policy: { text: string; interfaceName: string }): {
  iface: CompiledInterface;
  reference: ReferenceEvaluator;
} {
  const loaded = loadPolicy('generated.xdpfw', new MemoryHost({ 'generated.xdpfw': policy.text }));
  expect(
    loaded.diagnostics.filter((d) => d.severity === 'error'),
    policy.text,
  ).toEqual([]);
  const compiled = compilePolicy(loaded.document!);
  expect(
    compiled.diagnostics.filter((d) => d.severity === 'error'),
    policy.text,
  ).toEqual([]);
  return { iface: compiled.compiled!.interfaces[0], reference: new ReferenceEvaluator(loaded.document!, policy.interfaceName) };
}
