import { describe, expect, it } from 'vitest';

import { toUserError } from '../../../src/app/kernel-errors.js';
import { REQUIRED_FEATURES, UnsupportedFeatureError, kernelAtLeast, requireKernelFeatures } from '../../../src/xdp/index.js';
import { skipWithoutRoot } from './helpers/env.js';

describe.skipIf(skipWithoutRoot('kernel feature probes'))('the kernel features xdpfw probes before a load', () => {
  // The CI kernel (6.x) has them all: a probe that says otherwise is wrong, so it fails here rather than skipping.
  it.each(REQUIRED_FEATURES.map((f) => [f.name, f] as const))('finds %s on this kernel', (_name, feature) => {
    expect(feature.probe()).toBe(true);
  });

  it('passes on this kernel', () => {
    expect(() => requireKernelFeatures()).not.toThrow();
  });
});

describe('a kernel that lacks a feature', () => {
  it('is refused with the feature and the minimum kernel, before anything is loaded', () => {
    const probed: string[] = [];
    const features = [
      { name: 'bpf_link for XDP', minimumKernel: '5.9', probe: () => (probed.push('link'), true as const) },
      { name: 'the bpf_loop helper', minimumKernel: '5.17', probe: () => (probed.push('loop'), false) },
      { name: 'batch map operations', minimumKernel: '5.6', probe: () => (probed.push('batch'), true as const) },
    ];
    expect(() => requireKernelFeatures(features)).toThrow(new UnsupportedFeatureError('the bpf_loop helper', '5.17'));
    expect(probed).toEqual(['link', 'loop']);
  });

  it('says why a probe could not tell, and becomes error[unsupported-feature] with exit 3', () => {
    const features = [{ name: 'bpf_link for XDP', minimumKernel: '5.9', probe: () => 'no kernel BTF (/sys/kernel/btf/vmlinux): errno 2' }];
    let thrown: unknown;
    try {
      requireKernelFeatures(features);
    } catch (error) {
      thrown = error;
    }
    const user = toUserError(thrown);
    expect(user).toMatchObject({ code: 'unsupported-feature', exitCode: 3 });
    expect(user?.message).toBe(
      'this kernel does not support bpf_link for XDP (no kernel BTF (/sys/kernel/btf/vmlinux): errno 2) (needs Linux 5.9 or later)',
    );
  });
});

describe('a kernel built without BTF', () => {
  it('is judged by its release for XDP links', () => {
    expect(kernelAtLeast('5.9', '5.10.0-28-amd64')).toBe(true);
    expect(kernelAtLeast('5.9', '5.9.0')).toBe(true);
    expect(kernelAtLeast('5.9', '5.8.18')).toBe(false);
    expect(kernelAtLeast('5.9', '4.19.0-26-amd64')).toBe(false);
    expect(kernelAtLeast('5.9', '6.1.0')).toBe(true);
  });
});
