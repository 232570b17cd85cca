/**
 * What `xdpfw trace --verdict` asks the program for: a reject leaves the
 * classifier as XDP_TX (answered or not), so `drop` must take it too, and
 * `audit` takes the events that were not enforced, whatever they would
 * have done.
 */
import { describe, expect, it } from 'vitest';

import { traceRequest, type TraceFilters } from '../../../src/app/trace.js';
import type { AppliedState } from '../../../src/app/state.js';
import { TRACE_VERDICT_AUDIT } from '../../../src/contract/kernel.js';

const state = { rules: [] } as unknown as AppliedState;
const actions = (verdict: TraceFilters['verdict']) => traceRequest({ rules: [], verdict, rate: 100 }, state, 1).actions;

describe('trace --verdict', () => {
  it('drop takes XDP_DROP and a reject’s XDP_TX; allow takes XDP_PASS; audit the not-enforced bit; none, every verdict', () => {
    expect(actions('drop')).toEqual([1, 3]);
    expect(actions('allow')).toEqual([2]);
    expect(actions('audit')).toEqual([TRACE_VERDICT_AUDIT]);
    expect(actions(undefined)).toBeNull();
  });
});
