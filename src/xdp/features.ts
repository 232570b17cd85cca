/**
 * What the running kernel must offer, probed once before the first load
 * (cilium/ebpf's internal/feature.go): a missing feature becomes an
 * UnsupportedFeatureError naming the minimum kernel, instead of a raw errno
 * or a verifier log deep inside a load.
 */

import os from 'node:os';

import { KernelError, UnsupportedFeatureError } from './errors.js';
import * as bpf from './libbpf.js';
import { BPF_MAP_TYPE, BPF_PROG_TYPE_XDP, OPTS } from './uapi.js';

const BTF_KIND_STRUCT = 4;
const BPF_FUNC_LOOP = 181;

export interface Feature {
  /** What a user reads: "bpf_link for XDP". */
  name: string;
  minimumKernel: string;
  /** true when present; a string says why the probe could not tell (an errno), and counts as absent. */
  probe(): true | false | string;
}

/** `major.minor` of this kernel's release is at least `minimum`. */
export function kernelAtLeast(minimum: string, release = os.release()): boolean {
  const [major, minor] = release.split(/[.-]/).map(Number);
  const [wantMajor, wantMinor] = minimum.split('.').map(Number);
  return major > wantMajor || (major === wantMajor && minor >= wantMinor);
}

/**
 * The kernel's own BTF knows `struct bpf_xdp_link` exactly when XDP can be
 * attached through a bpf_link; a kernel built without BTF is judged by its
 * version instead.
 */
function probeXdpLink(): true | false | string {
  const btf = bpf.loadVmlinuxBtf();
  if (typeof btf === 'number') return kernelAtLeast('5.9');
  try {
    return bpf.btfFindByNameKind(btf, 'bpf_xdp_link', BTF_KIND_STRUCT) > 0;
  } finally {
    bpf.btfFree(btf);
  }
}

function probeBpfLoop(): true | false | string {
  const r = bpf.probeHelper(BPF_PROG_TYPE_XDP, BPF_FUNC_LOOP);
  return r < 0 ? `probe failed: errno ${-r}` : r === 1;
}

/** A batch lookup on a one-entry array: the counters are read this way. */
function probeBatchOps(): true | false | string {
  const fd = bpf.mapCreate(BPF_MAP_TYPE.ARRAY, 'xdpfw_probe', 4, 8, 1);
  if (fd < 0) throw new KernelError('creating a map to probe batch operations', -fd);
  try {
    const opts = Buffer.alloc(OPTS.mapBatch.size);
    opts.writeBigUInt64LE(BigInt(OPTS.mapBatch.size), 0);
    const count = Buffer.alloc(4);
    count.writeUInt32LE(1, 0);
    const r = bpf.mapLookupBatch(fd, null, Buffer.alloc(4), Buffer.alloc(4), Buffer.alloc(8), count, opts);
    return r === 0 || r === -2; /* ENOENT: the last batch */
  } finally {
    bpf.closeFd(fd);
  }
}

export const REQUIRED_FEATURES: readonly Feature[] = [
  { name: 'bpf_link for XDP', minimumKernel: '5.9', probe: probeXdpLink },
  { name: 'the bpf_loop helper', minimumKernel: '5.17', probe: probeBpfLoop },
  { name: 'batch map operations', minimumKernel: '5.6', probe: probeBatchOps },
];

let verified = false;

/**
 * Throws UnsupportedFeatureError for the first feature `features` lacks.
 * The real kernel's answer is kept for the process.
 */
export function requireKernelFeatures(features: readonly Feature[] = REQUIRED_FEATURES): void {
  const real = features === REQUIRED_FEATURES;
  if (real && verified) return;
  for (const feature of features) {
    const present = feature.probe();
    if (present === true) continue;
    const why = typeof present === 'string' ? ` (${present})` : '';
    throw new UnsupportedFeatureError(`${feature.name}${why}`, feature.minimumKernel);
  }
  if (real) verified = true;
}
