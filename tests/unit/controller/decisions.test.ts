import { describe, expect, it } from 'vitest';

import { decideCommit, decideEnforce, decideWithoutPolicy } from '../../../src/controller/decisions.js';

describe('which git head gets loaded', () => {
  it('a new head is loaded', () => {
    expect(decideCommit('b', { applied: 'a' }, false)).toBe('load');
  });
  it('the head in force is skipped at each poll', () => {
    expect(decideCommit('a', { applied: 'a' }, false)).toBe('skip');
  });
  it('a head refused for its content is not retried at each poll', () => {
    expect(decideCommit('b', { applied: 'a', refused: { commit: 'b', permanent: true } }, false)).toBe('skip');
  });
  it('a head that failed for another reason (kernel, disk) is retried at the next poll', () => {
    expect(decideCommit('b', { applied: 'a', refused: { commit: 'b', permanent: false } }, false)).toBe('load');
  });
  it('a newer head after a refused one is loaded', () => {
    expect(decideCommit('c', { applied: 'a', refused: { commit: 'b', permanent: true } }, false)).toBe('load');
  });
  it('SIGHUP loads the head even when it was refused or is in force', () => {
    expect(decideCommit('b', { refused: { commit: 'b', permanent: true } }, true)).toBe('load');
    expect(decideCommit('a', { applied: 'a' }, true)).toBe('load');
  });
  it('a branch that does not exist yet loads nothing', () => {
    expect(decideCommit(undefined, {}, true)).toBe('no-branch');
  });
});

describe('what happens to an interface at start and at each reload', () => {
  it('adopts the pinned program when it already enforces the same policy', () => {
    expect(decideEnforce({ attached: true, progId: 7, stateHash: 'h', stateProgId: 7 }, 'h')).toBe('adopt');
  });
  it('replaces atomically when another policy is pinned', () => {
    expect(decideEnforce({ attached: true, progId: 7, stateHash: 'old', stateProgId: 7 }, 'h')).toBe('replace');
  });
  it('replaces when the state describes another program than the one running (someone swapped it)', () => {
    expect(decideEnforce({ attached: true, progId: 8, stateHash: 'h', stateProgId: 7 }, 'h')).toBe('replace');
  });
  it('attaches when nothing of xdpfw runs there', () => {
    expect(decideEnforce({ attached: false, stateHash: 'h', stateProgId: 7 }, 'h')).toBe('attach');
  });
  it('without a valid policy at start, keeps what is pinned, or reports the interface unprotected', () => {
    expect(decideWithoutPolicy({ attached: true, progId: 1 })).toBe('keep-pinned');
    expect(decideWithoutPolicy({ attached: false })).toBe('unprotected');
  });
});
