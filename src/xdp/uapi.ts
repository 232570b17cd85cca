/**
 * Kernel and libbpf ABI numbers the loader uses (<linux/bpf.h>,
 * <linux/if_link.h>, <bpf/bpf.h> on x86_64 with libbpf 1.1). Struct sizes are
 * those the `sz` field of each libbpf opts struct must carry; offsets were
 * checked with offsetof() in C.
 */

export const BPF_MAP_TYPE = {
  HASH: 1,
  ARRAY: 2,
  PERCPU_HASH: 5,
  PERCPU_ARRAY: 6,
  LRU_PERCPU_HASH: 10,
  LPM_TRIE: 11,
  PERCPU_CGROUP_STORAGE: 21,
} as const;

/** Map flag: an LPM trie allocates its nodes as entries come (the kernel requires it). */
export const BPF_F_NO_PREALLOC = 1;

const PERCPU_TYPES: ReadonlySet<number> = new Set([
  BPF_MAP_TYPE.PERCPU_HASH,
  BPF_MAP_TYPE.PERCPU_ARRAY,
  BPF_MAP_TYPE.LRU_PERCPU_HASH,
  BPF_MAP_TYPE.PERCPU_CGROUP_STORAGE,
]);
export const isPerCpuMapType = (type: number): boolean => PERCPU_TYPES.has(type);

export const BPF_PROG_TYPE_XDP = 6;
/** enum bpf_attach_type */
export const BPF_XDP = 37;
/** enum bpf_attach_type: tc egress through a tcx link (Linux 6.6). */
export const BPF_TCX_EGRESS = 47;
export const BPF_PROG_TYPE_SCHED_CLS = 3;
/** enum bpf_tc_attach_point, and bpf_tc_attach's flags (libbpf). */
export const BPF_TC_EGRESS = 2;
export const BPF_TC_F_REPLACE = 1;
/** bpf_link_update flag: swap only if the attached program is the expected one. */
export const BPF_F_REPLACE = 1 << 2;

export const XDP_FLAGS_SKB_MODE = 1 << 1;
export const XDP_FLAGS_DRV_MODE = 1 << 2;
/** bpf_xdp_query's attach_mode */
export const XDP_ATTACHED = { NONE: 0, DRV: 1, SKB: 2, HW: 3, MULTI: 4 } as const;

/** XDP actions */
export const XDP_ACTION_NAMES = ['aborted', 'drop', 'pass', 'tx', 'redirect'] as const;

export const OPTS = {
  /** struct bpf_test_run_opts */
  testRun: {
    size: 80,
    dataIn: 8,
    dataOut: 16,
    dataSizeIn: 24,
    dataSizeOut: 28,
    ctxIn: 32,
    ctxOut: 40,
    ctxSizeIn: 48,
    ctxSizeOut: 52,
    retval: 56,
    repeat: 60,
    duration: 64,
    flags: 68,
    cpu: 72,
    batchSize: 76,
  },
  /** struct bpf_link_create_opts */
  linkCreate: { size: 64, flags: 8 },
  /** struct bpf_link_update_opts */
  linkUpdate: { size: 16, flags: 8, oldProgFd: 12 },
  /** struct bpf_map_batch_opts */
  mapBatch: { size: 24, elemFlags: 8, flags: 16 },
  /** struct bpf_xdp_query_opts */
  xdpQuery: { size: 32, progId: 8, drvProgId: 12, hwProgId: 16, skbProgId: 20, attachMode: 24 },
  /** struct bpf_prog_load_opts (libbpf 1.1: ends at log_buf) */
  progLoad: { size: 104, expectedAttachType: 12, logLevel: 88, logSize: 92, logBuf: 96 },
  /** struct bpf_tc_hook (libbpf) */
  tcHook: { size: 24, ifindex: 8, attachPoint: 12, parent: 16 },
  /** struct bpf_tc_opts (libbpf) */
  tcOpts: { size: 32, progFd: 8, flags: 12, progId: 16, handle: 20, priority: 24 },
  /** struct bpf_object_open_opts */
  objectOpen: { size: 80, kernelLogBuf: 56, kernelLogSize: 64, kernelLogLevel: 72 },
} as const;

export const INFO = {
  /** struct bpf_prog_info (6.1 uapi size; the kernel accepts any size up to its own) */
  prog: { size: 232, type: 0, id: 4, name: 64, nameLength: 16 },
  /** struct bpf_map_info */
  map: { size: 88, type: 0, id: 4, keySize: 8, valueSize: 12, maxEntries: 16, flags: 20, name: 24 },
  /** struct bpf_link_info, XDP member */
  link: { size: 48, type: 0, id: 4, progId: 8, xdpIfindex: 16 },
} as const;

export const BPF_LINK_TYPE_XDP = 6;

/** statfs f_type of a bpffs (linux/magic.h; not 0xcafe4711) */
export const BPF_FS_MAGIC = 0xcafe4a11;

/**
 * Largest test frame a program sees whole: PAGE_SIZE minus XDP headroom (256)
 * and skb_shared_info (320). The kernel takes longer frames (up to ~64 KiB)
 * but puts the rest in fragments, which a program without frags support
 * does not see.
 */
export const TEST_RUN_MAX_FRAME = 3520;
/** Smallest: an Ethernet header. */
export const TEST_RUN_MIN_FRAME = 14;
