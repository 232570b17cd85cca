/**
 * Defines and sets that refer to each other thousands deep: resolution and
 * the define-cycle check walk them with stacks of their own, so a deep chain
 * gives its value (or one located cycle error), never a stack overflow.
 */
import { describe, expect, test } from 'vitest';
import { compileText, diagnosticsOf } from './helpers.js';

const DEPTH = 20_000;

/** `$fz0` → `@fz1` → … → the value, each name declared on its own line (line i + 1). */
function chain(kinds: 'defines' | 'sets' | 'alternating', value: string, cyclic = false): string {
  const isSet = (i: number) => kinds === 'sets' || (kinds === 'alternating' && i % 2 === 1);
  const ref = (i: number) => (isSet(i) ? `@fz${i}` : `$fz${i}`);
  const lines: string[] = [];
  for (let i = 0; i < DEPTH; i++) {
    const next = i + 1 < DEPTH ? ref(i + 1) : cyclic ? ref(0) : value;
    lines.push(isSet(i) ? `set fz${i} { ${next} }` : `define fz${i} = ${next}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('deep chains of defines and sets', () => {
  test(`a chain of ${DEPTH} defines gives its port`, () => {
    const result = compileText(`${chain('defines', '8080')}interface eth0 { allow tcp dport $fz0 }\n`);
    expect(result.diagnostics).toEqual([]);
    expect(result.ir!.interfaces[0]!.rules[0]!.dport).toEqual([{ low: 8080, high: 8080 }]);
  });

  for (const kinds of ['sets', 'alternating'] as const) {
    test(`a chain of ${DEPTH} ${kinds === 'sets' ? 'sets' : 'sets and defines in turn'} gives its address`, () => {
      const first = kinds === 'sets' ? '@fz0' : '$fz0';
      const result = compileText(`${chain(kinds, '192.0.2.7')}interface eth0 { drop src ${first} }\n`);
      expect(result.diagnostics).toEqual([]);
      expect(result.ir!.interfaces[0]!.rules[0]!.src!.prefixes.toArray().map((p) => p.text)).toEqual(['192.0.2.7/32']);
    });
  }

  test(`a cycle through ${DEPTH} defines is one define-cycle error that shows the loop's ends`, () => {
    const last = `$fz${DEPTH - 1}`;
    const loop = `$fz0 → $fz1 → $fz2 → $fz3 → $fz4 → $fz5 → … (${DEPTH - 9} more) → $fz${DEPTH - 3} → $fz${DEPTH - 2} → ${last} → $fz0`;
    expect(diagnosticsOf(`${chain('defines', '', true)}interface eth0 { allow tcp dport $fz0 }\n`)).toEqual([
      {
        code: 'define-cycle',
        severity: 'error',
        message: `define '$fz0' refers to itself: ${loop}`,
        at: `${DEPTH}:${`define fz${DEPTH - 1} = `.length + 1}`,
        hint: 'break the cycle',
      },
    ]);
  });

  test(`a cycle through ${DEPTH} sets and defines in turn is reported once, and the rule using it is not`, () => {
    const found = diagnosticsOf(`${chain('alternating', '', true)}interface eth0 { drop src $fz0 }\n`);
    expect(found.map((d) => d.code)).toEqual(['define-cycle']);
  });
});
