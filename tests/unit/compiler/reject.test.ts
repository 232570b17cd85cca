/**
 * `reject` from text to the data plane's constants: the grammar takes it
 * as a rule's action and as a default, the compiler stores it as
 * XDPFW_ACTION_REJECT and switches the answer code on (cfg_reject) only
 * for a policy that rejects, leaving every other policy's hash as it was.
 */
import { describe, expect, it } from 'vitest';

import { ACTION } from '../../../src/contract/kernel.js';
import { compiledToJson } from '../../../src/compiler/index.js';
import { parsePolicyFile } from '../../../src/policy/index.js';
import { rodataValues } from '../../../src/xdp/layout.js';
import { compileText, diagnosticsOf } from './helpers.js';

const only = (text: string) => compileText(text).compiled!.interfaces[0];

describe('reject', () => {
  it('parses as a rule action with matches, and as a default', () => {
    const { file } = parsePolicyFile('interface eth0 {\n  reject tcp dport 25 name "smtp"\n  default reject\n}\n', 'r.xdpfw');
    const block = file!.items[0];
    expect(block.kind).toBe('interface');
    if (block.kind !== 'interface') return;
    expect(block.statements.map((s) => [s.kind, s.kind === 'mode' ? s.mode : s.action])).toEqual([
      ['rule', 'reject'],
      ['default', 'reject'],
    ]);
  });

  it('suggests reject for a misspelt action', () => {
    const [d] = diagnosticsOf('interface eth0 {\n  rejct tcp\n}\n');
    expect(d.message).toBe("unknown action 'rejct' (did you mean 'reject'?)");
  });

  it('compiles to XDPFW_ACTION_REJECT on both paths, and turns cfg_reject on', () => {
    const linear = only('interface eth0 {\n  reject tcp dport 25\n  allow udp\n}\n');
    expect(linear.actions).toEqual([ACTION.reject, ACTION.pass]);
    expect(linear.constants.linear![0].action).toBe(ACTION.reject);
    expect(linear.constants.reject).toBe(true);
    expect(rodataValues(linear.constants).cfg_reject).toBe(1);
    const byDefault = only('interface eth0 {\n  default reject\n  allow tcp dport 22\n}\n');
    expect(byDefault.constants.defaultAction).toBe(ACTION.reject);
    expect(byDefault.defaultAction).toBe('reject');
    expect(byDefault.constants.reject).toBe(true);
  });

  it('leaves cfg_reject off, and the constants without the key, for a policy that never rejects', () => {
    const plain = only('interface eth0 {\n  drop tcp dport 25\n  default allow\n}\n');
    expect('reject' in plain.constants).toBe(false);
    expect(rodataValues(plain.constants).cfg_reject).toBe(0);
    expect(compiledToJson(compileText('interface eth0 {\n  default reject\n}\n').compiled!)).toMatchObject({
      interfaces: [{ defaultAction: 'reject', constants: { reject: true } }],
    });
  });

  it('warns that a rejecting default keeps replies out, as a dropping one does', () => {
    const codes = diagnosticsOf('interface eth0 {\n  allow tcp dport 22\n  default reject\n}\n').map((d) => d.code);
    expect(codes).toContain('no-return-traffic');
  });
});
