/**
 * The only file that declares C functions: libbpf 1.1 (`libbpf.so.1`) and the
 * few libc calls the loader needs, bound through koffi 3.
 *
 * koffi 3 hands pointers around as bare BigInts, so a `bpf_map *` passed where
 * a `bpf_object *` belongs would crash in C. Every libbpf handle is therefore
 * wrapped in its own class here, and the raw bindings are not exported.
 *
 * Conventions (libbpf 1.x): int-returning calls return `-errno`; pointer-
 * returning calls return NULL with errno set, read at once with `lastErrno()`.
 * Buffers passed as `void *` are read/written in place by C.
 */

import koffi, { type LibraryHandle } from 'koffi';

type KoffiFunction = ReturnType<LibraryHandle['func']>;

/* ---- opaque handles ------------------------------------------------------ */

export class BpfObjectHandle {
  readonly kind = 'bpf_object' as const;
  constructor(readonly ptr: bigint) {}
}
export class BpfMapHandle {
  readonly kind = 'bpf_map' as const;
  constructor(readonly ptr: bigint) {}
}
export class BpfProgramHandle {
  readonly kind = 'bpf_program' as const;
  constructor(readonly ptr: bigint) {}
}
export class RingBufferHandle {
  readonly kind = 'ring_buffer' as const;
  constructor(
    readonly ptr: bigint,
    readonly callback: bigint,
  ) {}
}
export class BtfHandle {
  readonly kind = 'btf' as const;
  constructor(readonly ptr: bigint) {}
}

type Ptr = bigint | null;

/* ---- raw bindings -------------------------------------------------------- */

const PrintFn = koffi.proto('int xdpfw_libbpf_print_fn(int level, void *fmt, void *ap)');
const RingSampleFn = koffi.proto('int xdpfw_ring_sample_fn(void *ctx, void *data, size_t size)');

/**
 * Every C function xdpfw calls, by its C prototype. Each is declared with koffi
 * on its first call, the libraries opened with the first: a command calls a
 * few of them, and declaring all of them costs ~4 ms at every start.
 */
const PROTOTYPES = {
  libbpf_set_print: ['libbpf', 'void *libbpf_set_print(xdpfw_libbpf_print_fn *fn)'],
  libbpf_num_possible_cpus: ['libbpf', 'int libbpf_num_possible_cpus(void)'],
  libbpf_version_string: ['libbpf', 'const char *libbpf_version_string(void)'],

  bpf_object__open_file: ['libbpf', 'void *bpf_object__open_file(const char *path, void *opts)'],
  bpf_object__load: ['libbpf', 'int bpf_object__load(void *obj)'],
  bpf_object__close: ['libbpf', 'void bpf_object__close(void *obj)'],
  bpf_object__find_map_by_name: ['libbpf', 'void *bpf_object__find_map_by_name(void *obj, const char *name)'],
  bpf_object__next_map: ['libbpf', 'void *bpf_object__next_map(void *obj, void *map)'],
  bpf_object__next_program: ['libbpf', 'void *bpf_object__next_program(void *obj, void *prog)'],
  bpf_object__btf: ['libbpf', 'void *bpf_object__btf(void *obj)'],

  bpf_map__name: ['libbpf', 'const char *bpf_map__name(void *map)'],
  bpf_map__fd: ['libbpf', 'int bpf_map__fd(void *map)'],
  bpf_map__type: ['libbpf', 'int bpf_map__type(void *map)'],
  bpf_map__key_size: ['libbpf', 'uint32_t bpf_map__key_size(void *map)'],
  bpf_map__value_size: ['libbpf', 'uint32_t bpf_map__value_size(void *map)'],
  bpf_map__max_entries: ['libbpf', 'uint32_t bpf_map__max_entries(void *map)'],
  bpf_map__set_max_entries: ['libbpf', 'int bpf_map__set_max_entries(void *map, uint32_t n)'],
  bpf_map__initial_value: ['libbpf', 'void *bpf_map__initial_value(void *map, void *psize)'],
  bpf_map__set_initial_value: ['libbpf', 'int bpf_map__set_initial_value(void *map, void *data, size_t size)'],
  bpf_map__reuse_fd: ['libbpf', 'int bpf_map__reuse_fd(void *map, int fd)'],

  bpf_program__name: ['libbpf', 'const char *bpf_program__name(void *prog)'],
  bpf_program__fd: ['libbpf', 'int bpf_program__fd(void *prog)'],
  bpf_program__type: ['libbpf', 'int bpf_program__type(void *prog)'],
  bpf_program__insns: ['libbpf', 'const void *bpf_program__insns(void *prog)'],
  bpf_program__insn_cnt: ['libbpf', 'size_t bpf_program__insn_cnt(void *prog)'],
  bpf_program__set_autoload: ['libbpf', 'int bpf_program__set_autoload(void *prog, bool autoload)'],

  btf__find_by_name_kind: ['libbpf', 'int32_t btf__find_by_name_kind(void *btf, const char *name, uint32_t kind)'],
  btf__type_by_id: ['libbpf', 'void *btf__type_by_id(void *btf, uint32_t id)'],
  btf__name_by_offset: ['libbpf', 'const char *btf__name_by_offset(void *btf, uint32_t off)'],
  btf__load_vmlinux_btf: ['libbpf', 'void *btf__load_vmlinux_btf(void)'],
  btf__free: ['libbpf', 'void btf__free(void *btf)'],
  libbpf_probe_bpf_helper: ['libbpf', 'int libbpf_probe_bpf_helper(int prog_type, int helper_id, const void *opts)'],
  bpf_map_create: [
    'libbpf',
    'int bpf_map_create(int map_type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const void *opts)',
  ],

  bpf_map_update_elem: ['libbpf', 'int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)'],
  bpf_map_lookup_elem: ['libbpf', 'int bpf_map_lookup_elem(int fd, void *key, void *value)'],
  bpf_map_get_next_key: ['libbpf', 'int bpf_map_get_next_key(int fd, void *key, void *next_key)'],
  bpf_map_delete_elem: ['libbpf', 'int bpf_map_delete_elem(int fd, void *key)'],
  bpf_map_update_batch: ['libbpf', 'int bpf_map_update_batch(int fd, void *keys, void *values, void *count, void *opts)'],
  bpf_map_lookup_batch: [
    'libbpf',
    'int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, void *opts)',
  ],
  bpf_obj_get: ['libbpf', 'int bpf_obj_get(const char *path)'],
  bpf_obj_pin: ['libbpf', 'int bpf_obj_pin(int fd, const char *path)'],
  bpf_obj_get_info_by_fd: ['libbpf', 'int bpf_obj_get_info_by_fd(int fd, void *info, void *len)'],
  bpf_prog_load: ['libbpf', 'int bpf_prog_load(int type, const char *name, const char *license, void *insns, size_t cnt, void *opts)'],
  bpf_prog_get_fd_by_id: ['libbpf', 'int bpf_prog_get_fd_by_id(uint32_t id)'],
  bpf_map_get_fd_by_id: ['libbpf', 'int bpf_map_get_fd_by_id(uint32_t id)'],
  bpf_link_get_next_id: ['libbpf', 'int bpf_link_get_next_id(uint32_t start_id, void *next_id)'],
  bpf_link_get_fd_by_id: ['libbpf', 'int bpf_link_get_fd_by_id(uint32_t id)'],
  bpf_link_create: ['libbpf', 'int bpf_link_create(int prog_fd, int target_fd, int attach_type, void *opts)'],
  bpf_link_update: ['libbpf', 'int bpf_link_update(int link_fd, int new_prog_fd, void *opts)'],
  bpf_link_detach: ['libbpf', 'int bpf_link_detach(int link_fd)'],
  bpf_xdp_query: ['libbpf', 'int bpf_xdp_query(int ifindex, int flags, void *opts)'],
  bpf_tc_hook_create: ['libbpf', 'int bpf_tc_hook_create(void *hook)'],
  bpf_tc_attach: ['libbpf', 'int bpf_tc_attach(void *hook, void *opts)'],
  bpf_tc_detach: ['libbpf', 'int bpf_tc_detach(void *hook, void *opts)'],
  bpf_prog_test_run_opts: ['libbpf', 'int bpf_prog_test_run_opts(int prog_fd, void *opts)'],
  ring_buffer__new: ['libbpf', 'void *ring_buffer__new(int map_fd, xdpfw_ring_sample_fn *cb, void *ctx, void *opts)'],
  ring_buffer__add: ['libbpf', 'int ring_buffer__add(void *rb, int map_fd, xdpfw_ring_sample_fn *cb, void *ctx)'],
  ring_buffer__poll: ['libbpf', 'int ring_buffer__poll(void *rb, int timeout_ms)'],
  ring_buffer__free: ['libbpf', 'void ring_buffer__free(void *rb)'],

  vsnprintf: ['libc', 'int vsnprintf(void *buf, size_t size, void *fmt, void *ap)'],
  if_nametoindex: ['libc', 'unsigned int if_nametoindex(const char *name)'],
  if_indextoname: ['libc', 'void *if_indextoname(unsigned int index, void *buf)'],
  close: ['libc', 'int close(int fd)'],
  flock: ['libc', 'int flock(int fd, int operation)'],
  statfs: ['libc', 'int statfs(const char *path, void *buf)'],
  mount: ['libc', 'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)'],
  syscall: ['libc', 'long syscall(long number, ...)'],
  socket: ['libc', 'int socket(int domain, int type, int protocol)'],
  getsockopt: ['libc', 'int getsockopt(int fd, int level, int name, void *value, void *len)'],
  setns: ['libc', 'int setns(int fd, int nstype)'],
} as const satisfies Record<string, readonly [Library, string]>;

type Library = 'libbpf' | 'libc';
let libraries: Record<Library, LibraryHandle> | null = null;
const library = (name: Library): LibraryHandle =>
  (libraries ??= { libbpf: koffi.load('libbpf.so.1'), libc: koffi.load('libc.so.6') })[name];

/** The functions of PROTOTYPES, each declared when first read (it then replaces its getter). */
function declaredOnUse<K extends string>(prototypes: Record<K, readonly [Library, string]>): Record<K, KoffiFunction> {
  const fns = {} as Record<K, KoffiFunction>;
  for (const name of Object.keys(prototypes) as K[]) {
    Object.defineProperty(fns, name, {
      configurable: true,
      get() {
        const [lib, prototype] = prototypes[name];
        const fn = library(lib).func(prototype);
        Object.defineProperty(fns, name, { value: fn });
        return fn;
      },
    });
  }
  return fns;
}

const c = declaredOnUse(PROTOTYPES);

/** errno of the last failed call on this thread; read it right after the call. */
export function lastErrno(): number {
  return koffi.errno();
}

/* ---- libbpf messages ----------------------------------------------------- */

export type LibbpfLevel = 'warn' | 'info' | 'debug';
export interface LibbpfMessage {
  level: LibbpfLevel;
  text: string;
}

const LEVELS: LibbpfLevel[] = ['warn', 'info', 'debug'];
const MESSAGE_LIMIT = 200;
const formatBuffer = Buffer.alloc(64 * 1024);
const captured: LibbpfMessage[] = [];
let printRegistered: bigint | null = null;

/**
 * Route libbpf's messages into a ring of the last 200 (debug ones dropped),
 * so a failed call can show what libbpf said. Idempotent.
 */
export function captureLibbpfMessages(): void {
  if (printRegistered !== null) return;
  const fn = (level: number, fmt: bigint, ap: bigint): number => {
    if (level > 1) return 0; // LIBBPF_DEBUG: too chatty to keep
    const n = c.vsnprintf(formatBuffer, formatBuffer.length, fmt, ap) as number;
    const len = Math.max(0, Math.min(n, formatBuffer.length - 1));
    captured.push({ level: LEVELS[level] ?? 'debug', text: formatBuffer.toString('utf8', 0, len) });
    if (captured.length > MESSAGE_LIMIT) captured.splice(0, captured.length - MESSAGE_LIMIT);
    return 0;
  };
  printRegistered = koffi.register(fn, koffi.pointer(PrintFn));
  c.libbpf_set_print(printRegistered);
}

/** Messages printed since `clearLibbpfMessages()`; trimmed of trailing newlines. */
export function libbpfMessages(): LibbpfMessage[] {
  return captured.map((m) => ({ level: m.level, text: m.text.replace(/^libbpf: /, '').replace(/\n+$/, '') }));
}

export function clearLibbpfMessages(): void {
  captured.length = 0;
}

/* ---- objects, maps, programs, BTF ---------------------------------------- */

export function objectOpenFile(path: string, opts: Buffer): BpfObjectHandle | number {
  const p = c.bpf_object__open_file(path, opts) as Ptr;
  return p === null ? lastErrno() : new BpfObjectHandle(p);
}
export const objectLoad = (o: BpfObjectHandle): number => c.bpf_object__load(o.ptr) as number;
export const objectClose = (o: BpfObjectHandle): void => void c.bpf_object__close(o.ptr);
export function objectFindMap(o: BpfObjectHandle, name: string): BpfMapHandle | null {
  const p = c.bpf_object__find_map_by_name(o.ptr, name) as Ptr;
  return p === null ? null : new BpfMapHandle(p);
}
export function objectMaps(o: BpfObjectHandle): BpfMapHandle[] {
  const maps: BpfMapHandle[] = [];
  for (let p = c.bpf_object__next_map(o.ptr, null) as Ptr; p !== null; p = c.bpf_object__next_map(o.ptr, p) as Ptr) {
    maps.push(new BpfMapHandle(p));
  }
  return maps;
}
export function objectPrograms(o: BpfObjectHandle): BpfProgramHandle[] {
  const progs: BpfProgramHandle[] = [];
  for (let p = c.bpf_object__next_program(o.ptr, null) as Ptr; p !== null; p = c.bpf_object__next_program(o.ptr, p) as Ptr) {
    progs.push(new BpfProgramHandle(p));
  }
  return progs;
}
export function objectBtf(o: BpfObjectHandle): BtfHandle | null {
  const p = c.bpf_object__btf(o.ptr) as Ptr;
  return p === null ? null : new BtfHandle(p);
}

export const mapName = (m: BpfMapHandle): string => c.bpf_map__name(m.ptr) as string;
export const mapFd = (m: BpfMapHandle): number => c.bpf_map__fd(m.ptr) as number;
export const mapType = (m: BpfMapHandle): number => c.bpf_map__type(m.ptr) as number;
export const mapKeySize = (m: BpfMapHandle): number => c.bpf_map__key_size(m.ptr) as number;
export const mapValueSize = (m: BpfMapHandle): number => c.bpf_map__value_size(m.ptr) as number;
export const mapMaxEntries = (m: BpfMapHandle): number => c.bpf_map__max_entries(m.ptr) as number;
export const mapSetMaxEntries = (m: BpfMapHandle, n: number): number => c.bpf_map__set_max_entries(m.ptr, n) as number;
export const mapReuseFd = (m: BpfMapHandle, fd: number): number => c.bpf_map__reuse_fd(m.ptr, fd) as number;

/** A copy of the map's initial data (`.rodata`, `.data`), or null if it has none. */
export function mapInitialValue(m: BpfMapHandle): Buffer | null {
  const size = Buffer.alloc(8);
  const p = c.bpf_map__initial_value(m.ptr, size) as Ptr;
  if (p === null) return null;
  const n = Number(size.readBigUInt64LE(0));
  return Buffer.from(new Uint8Array(koffi.view(p, n)));
}
export const mapSetInitialValue = (m: BpfMapHandle, data: Buffer): number =>
  c.bpf_map__set_initial_value(m.ptr, data, data.length) as number;

export const programName = (p: BpfProgramHandle): string => c.bpf_program__name(p.ptr) as string;
export const programFd = (p: BpfProgramHandle): number => c.bpf_program__fd(p.ptr) as number;
export const programType = (p: BpfProgramHandle): number => c.bpf_program__type(p.ptr) as number;
export const programSetAutoload = (p: BpfProgramHandle, load: boolean): number => c.bpf_program__set_autoload(p.ptr, load) as number;
/**
 * A copy of the program's instructions; after bpf_object__load, as loaded
 * (relocated, subprograms appended, map fds in place). libbpf keeps them
 * after the load since 0.6 precisely so that a program can be cloned
 * (commit 65a7fa2e4e53, "Add ability to fetch bpf_program's underlying
 * instructions").
 */
export function programInsns(p: BpfProgramHandle): Buffer {
  const count = Number(c.bpf_program__insn_cnt(p.ptr));
  const ptr = c.bpf_program__insns(p.ptr) as Ptr;
  if (ptr === null || count === 0) return Buffer.alloc(0);
  return Buffer.from(new Uint8Array(koffi.view(ptr, count * 8)));
}

export const btfFindByNameKind = (b: BtfHandle, name: string, kind: number): number =>
  c.btf__find_by_name_kind(b.ptr, name, kind) as number;
/** `struct btf_type` and the `vlen` records that follow it, as raw bytes. */
export function btfTypeBytes(b: BtfHandle, id: number, length: number): DataView | null {
  const p = c.btf__type_by_id(b.ptr, id) as Ptr;
  return p === null ? null : new DataView(koffi.view(p, length));
}
export const btfNameByOffset = (b: BtfHandle, off: number): string => (c.btf__name_by_offset(b.ptr, off) as string | null) ?? '';

export const numPossibleCpus = (): number => c.libbpf_num_possible_cpus() as number;
/** The loaded libbpf's version, e.g. `v1.1`. */
export const libbpfVersion = (): string => c.libbpf_version_string() as string;

/** The running kernel's own BTF (/sys/kernel/btf/vmlinux), or -errno. Free it with btfFree. */
export function loadVmlinuxBtf(): BtfHandle | number {
  const p = c.btf__load_vmlinux_btf() as Ptr;
  return p === null ? -lastErrno() : new BtfHandle(p);
}
export const btfFree = (b: BtfHandle): void => void c.btf__free(b.ptr);
/** 1 when programs of `progType` may call helper `helperId`, 0 when not, -errno when the probe failed. */
export const probeHelper = (progType: number, helperId: number): number => c.libbpf_probe_bpf_helper(progType, helperId, null) as number;
/** struct bpf_map_create_opts (libbpf 1.1): its size, and map_flags. */
const MAP_CREATE_OPTS = { size: 48, mapFlags: 28 } as const;

/** bpf_map_create(): a new map's fd, or -errno. `flags`: BPF_F_* map flags. */
export function mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags = 0): number {
  let opts: Buffer | null = null;
  if (flags !== 0) {
    opts = Buffer.alloc(MAP_CREATE_OPTS.size);
    opts.writeBigUInt64LE(BigInt(MAP_CREATE_OPTS.size), 0);
    opts.writeUInt32LE(flags, MAP_CREATE_OPTS.mapFlags);
  }
  return c.bpf_map_create(type, name, keySize, valueSize, maxEntries, opts) as number;
}

/* ---- bpf() syscall wrappers ---------------------------------------------- */

export const mapUpdateElem = (fd: number, key: Buffer, value: Buffer, flags = 0): number =>
  c.bpf_map_update_elem(fd, key, value, flags) as number;
export const mapLookupElem = (fd: number, key: Buffer, value: Buffer): number => c.bpf_map_lookup_elem(fd, key, value) as number;
export const mapDeleteElem = (fd: number, key: Buffer): number => c.bpf_map_delete_elem(fd, key) as number;
/** The key after `key` (the first with null); -ENOENT past the last. */
export const mapGetNextKey = (fd: number, key: Buffer | null, next: Buffer): number => c.bpf_map_get_next_key(fd, key, next) as number;
/** `count` is a 4-byte buffer: in = entries offered, out = entries done. */
export const mapUpdateBatch = (fd: number, keys: Buffer, values: Buffer, count: Buffer, opts: Buffer): number =>
  c.bpf_map_update_batch(fd, keys, values, count, opts) as number;
export const mapLookupBatch = (
  fd: number,
  inBatch: Buffer | null,
  outBatch: Buffer,
  keys: Buffer,
  values: Buffer,
  count: Buffer,
  opts: Buffer,
): number => c.bpf_map_lookup_batch(fd, inBatch, outBatch, keys, values, count, opts) as number;

export const objGet = (path: string): number => c.bpf_obj_get(path) as number;
export const objPin = (fd: number, path: string): number => c.bpf_obj_pin(fd, path) as number;
/** Fills `info` (zeroed, sized for the struct) for a prog, map or link fd. */
export function objGetInfoByFd(fd: number, info: Buffer): number {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(info.length, 0);
  return c.bpf_obj_get_info_by_fd(fd, info, len) as number;
}
export const progGetFdById = (id: number): number => c.bpf_prog_get_fd_by_id(id) as number;
export const mapGetFdById = (id: number): number => c.bpf_map_get_fd_by_id(id) as number;
/** bpf_prog_load(): the new program's fd, or -errno. */
export const progLoad = (type: number, name: string, license: string, insns: Buffer, opts: Buffer): number =>
  c.bpf_prog_load(type, name, license, insns, insns.length / 8, opts) as number;
/** The id after `startId` of a bpf_link anywhere on the host, written to `next` (4 bytes); -ENOENT past the last. */
export const linkGetNextId = (startId: number, next: Buffer): number => c.bpf_link_get_next_id(startId, next) as number;
export const linkGetFdById = (id: number): number => c.bpf_link_get_fd_by_id(id) as number;
export const linkCreate = (progFd: number, targetFd: number, attachType: number, opts: Buffer): number =>
  c.bpf_link_create(progFd, targetFd, attachType, opts) as number;
export const linkUpdate = (linkFd: number, newProgFd: number, opts: Buffer): number => c.bpf_link_update(linkFd, newProgFd, opts) as number;
export const linkDetach = (linkFd: number): number => c.bpf_link_detach(linkFd) as number;
export const xdpQuery = (ifindex: number, flags: number, opts: Buffer): number => c.bpf_xdp_query(ifindex, flags, opts) as number;
export const tcHookCreate = (hook: Buffer): number => c.bpf_tc_hook_create(hook) as number;
export const tcAttach = (hook: Buffer, opts: Buffer): number => c.bpf_tc_attach(hook, opts) as number;
export const tcDetach = (hook: Buffer, opts: Buffer): number => c.bpf_tc_detach(hook, opts) as number;
/** The hot path of test runs: the caller owns and pre-lays `opts`. */
export const progTestRun = (progFd: number, opts: Buffer): number => c.bpf_prog_test_run_opts(progFd, opts) as number;

/* ---- libc ---------------------------------------------------------------- */

/** 0 when the interface does not exist (errno says why). */
export const ifNameToIndex = (name: string): number => c.if_nametoindex(name) as number;
export function ifIndexToName(index: number): string | null {
  const buf = Buffer.alloc(16); // IF_NAMESIZE
  const p = c.if_indextoname(index, buf) as Ptr;
  return p === null ? null : buf.toString('utf8', 0, buf.indexOf(0));
}
/** Closes a file descriptor; returns errno or 0. */
export function closeFd(fd: number): number {
  return (c.close(fd) as number) === 0 ? 0 : lastErrno();
}
/** The filesystem magic (`f_type`) of the filesystem holding `path`, or -errno. */
export function statfsMagic(path: string): number {
  const buf = Buffer.alloc(120); // struct statfs on 64-bit Linux
  if ((c.statfs(path, buf) as number) !== 0) return -lastErrno();
  return Number(buf.readBigInt64LE(0));
}
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;

/** flock(fd, LOCK_EX | LOCK_NB): 0 when taken, else errno (EWOULDBLOCK while another open file holds it). */
export function flockExclusiveNow(fd: number): number {
  return (c.flock(fd, LOCK_EX | LOCK_NB) as number) === 0 ? 0 : lastErrno();
}
/** flock(fd, LOCK_UN): 0 or errno. */
export function flockRelease(fd: number): number {
  return (c.flock(fd, LOCK_UN) as number) === 0 ? 0 : lastErrno();
}

/** mount(2); returns 0 or errno. */
export function mount(source: string, target: string, fstype: string, flags: number, data: string | null): number {
  return (c.mount(source, target, fstype, flags, data) as number) === 0 ? 0 : lastErrno();
}

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOL_SOCKET = 1;
const SO_NETNS_COOKIE = 71;

/**
 * The cookie of the calling thread's network namespace (SO_NETNS_COOKIE,
 * Linux 5.14): a 64-bit number the kernel never gives another namespace,
 * unlike the namespace's inode number. Read from a socket made for it, which
 * belongs to the thread's namespace. A BigInt, or -errno as a number.
 */
export function netnsCookie(): bigint | number {
  const fd = c.socket(AF_INET, SOCK_DGRAM, 0) as number;
  if (fd < 0) return -lastErrno();
  try {
    const value = Buffer.alloc(8);
    const len = Buffer.alloc(4);
    len.writeUInt32LE(8, 0);
    if ((c.getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, value, len) as number) !== 0) return -lastErrno();
    return value.readBigUInt64LE(0);
  } finally {
    c.close(fd);
  }
}

const CLONE_NEWNET = 0x40000000;

/** setns(fd, CLONE_NEWNET): moves the calling thread into the network namespace `fd` refers to; 0 or errno. */
export function setNetns(fd: number): number {
  return (c.setns(fd, CLONE_NEWNET) as number) === 0 ? 0 : lastErrno();
}

/** membarrier(2) syscall numbers; glibc has no wrapper. */
const NR_MEMBARRIER: Partial<Record<string, number>> = { x64: 324, arm64: 283 };
const MEMBARRIER_CMD_GLOBAL = 1;

/**
 * membarrier(MEMBARRIER_CMD_GLOBAL): returns after an RCU grace period
 * (kernel/sched/membarrier.c calls synchronize_rcu()), so every XDP program
 * run that started before the call has finished. 0, or errno (ENOSYS on an
 * architecture whose syscall number is not known here).
 */
export function membarrierGlobal(): number {
  const nr = NR_MEMBARRIER[process.arch];
  if (nr === undefined) return 38; // ENOSYS
  const r = Number(c.syscall(nr, 'int', MEMBARRIER_CMD_GLOBAL, 'unsigned int', 0, 'int', 0) as number | bigint);
  return r === 0 ? 0 : lastErrno();
}

/** The address of a Buffer's bytes (stable: Buffer.alloc'd memory never moves). */
export const addressOf = (b: Buffer): bigint => koffi.address(b);

/* ---- ring buffers -------------------------------------------------------- */

/**
 * A reader of BPF ring buffers: `onRecord` gets a copy of each record, in
 * the poll that finds it (on this thread). Returns -errno on failure.
 */
export function ringBufferNew(mapFds: readonly number[], onRecord: (record: Buffer) => void): RingBufferHandle | number {
  const callback = koffi.register((_ctx: bigint, data: bigint, size: number | bigint): number => {
    onRecord(Buffer.from(new Uint8Array(koffi.view(data, Number(size))).slice()));
    return 0;
  }, koffi.pointer(RingSampleFn)) as bigint;
  const ptr = c.ring_buffer__new(mapFds[0], callback, null, null) as Ptr;
  if (ptr === null) {
    const errno = lastErrno();
    koffi.unregister(callback);
    return -errno;
  }
  const rb = new RingBufferHandle(ptr, callback);
  for (const fd of mapFds.slice(1)) {
    const r = c.ring_buffer__add(ptr, fd, callback, null) as number;
    if (r < 0) {
      ringBufferFree(rb);
      return r;
    }
  }
  return rb;
}

/** Waits up to `timeoutMs` for records and hands them over; how many, or -errno (-EINTR on a signal). */
export const ringBufferPoll = (rb: RingBufferHandle, timeoutMs: number): number => c.ring_buffer__poll(rb.ptr, timeoutMs) as number;

export function ringBufferFree(rb: RingBufferHandle): void {
  c.ring_buffer__free(rb.ptr);
  koffi.unregister(rb.callback);
}
