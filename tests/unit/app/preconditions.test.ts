import { describe, expect, it } from 'vitest';
import { canManageXdp, effectiveCapabilities } from '../../../src/app/preconditions.js';

/** /proc/self/status around a CapEff line. */
const status = (capEff: string) =>
  `Name:\tnode\nUmask:\t0022\nCapInh:\t0000000000000000\nCapPrm:\t${capEff}\nCapEff:\t${capEff}\nCapBnd:\t000001ffffffffff\n`;

describe('the effective capabilities of /proc/self/status', () => {
  it('reads CapEff as a number of 64 bits', () => {
    expect(effectiveCapabilities(status('000001ffffffffff'))).toBe(0x1ffffffffffn);
    expect(effectiveCapabilities(status('0000000000000000'))).toBe(0n);
  });

  it('finds no capabilities in a text without a CapEff line', () => {
    expect(effectiveCapabilities('Name:\tnode\nCapPrm:\t0000000000001000\n')).toBeUndefined();
  });

  it.each([
    ['root (every capability)', '000001ffffffffff', true],
    ['CAP_BPF (39) and CAP_NET_ADMIN (12)', '0000008000001000', true],
    ['CAP_SYS_ADMIN (21) and CAP_NET_ADMIN (12)', '0000000000201000', true],
    ['CAP_NET_ADMIN alone', '0000000000001000', false],
    ['CAP_BPF alone', '0000008000000000', false],
    ['none', '0000000000000000', false],
  ])('%s: may manage XDP is %s', (_, capEff, allowed) => {
    expect(canManageXdp(effectiveCapabilities(status(capEff))!)).toBe(allowed);
  });
});
