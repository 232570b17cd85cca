/**
 * Opening and loading a BPF object: resolve bpf/xdpfw.bpf.o, patch the
 * `.rodata` constants by name (found in the object's BTF datasec, so no
 * skeleton is needed), size the maps, load, and hand back the program and
 * map file descriptors. Filling the maps is maps.ts's job.
 */

import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

import { KernelError, VerifierError, check } from './errors.js';
import * as bpf from './libbpf.js';
import { BPF_PROG_TYPE_SCHED_CLS, BPF_PROG_TYPE_XDP, BPF_XDP, OPTS } from './uapi.js';

/** The license of bpf/xdpfw.bpf.c, for programs loaded from instructions. */
const LICENSE = 'Dual BSD/GPL';

/** bpf/xdpfw.bpf.o of this package: two levels above src/xdp (and dist/xdp). */
export function defaultObjectPath(): string {
  return fileURLToPath(new URL('../../bpf/xdpfw.bpf.o', import.meta.url));
}

/** One map of a loaded object, with what the kernel knows of it. */
export interface MapRef {
  name: string;
  fd: number;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

export interface LoadObjectOptions {
  /** `.rodata` variables: a number for a __u32, an array for a __u32[N]. */
  rodata?: Record<string, number | readonly number[]>;
  /** max_entries overrides by map name. */
  maxEntries?: Record<string, number>;
  /** Existing maps (e.g. pinned counters) to use instead of creating new ones. */
  reuseMapFds?: Record<string, number>;
  /** Size of the buffer that receives the verifier log of a failed load. Default 4 MiB. */
  logBufferSize?: number;
  /** Load the object's tc program too (connection tracking's egress recorder); default: the XDP program alone. */
  egress?: boolean;
}

export interface LoadedObject {
  path: string;
  programName: string;
  progFd: number;
  /** The program's instructions as loaded: relocated, map fds in place. */
  insns: Buffer;
  /** The egress (tc) program, when asked for. */
  egressProgFd?: number;
  maps: Map<string, MapRef>;
  /** Closes the object: its program and map fds (pins and links keep theirs). */
  close(): void;
}

const BTF_KIND_VAR = 14;
const BTF_KIND_DATASEC = 15;
const BTF_TYPE_SIZE = 12;
const BTF_SECINFO_SIZE = 12;

interface RodataVar {
  offset: number;
  size: number;
}

/** The variables of `.rodata` by name, from the object's BTF datasec. */
export function rodataLayout(obj: bpf.BpfObjectHandle): Map<string, RodataVar> {
  const vars = new Map<string, RodataVar>();
  const btf = bpf.objectBtf(obj);
  if (!btf) return vars;
  const id = bpf.btfFindByNameKind(btf, '.rodata', BTF_KIND_DATASEC);
  if (id < 0) return vars;
  const head = bpf.btfTypeBytes(btf, id, BTF_TYPE_SIZE);
  if (!head) return vars;
  const vlen = head.getUint32(4, true) & 0xffff;
  const sec = bpf.btfTypeBytes(btf, id, BTF_TYPE_SIZE + vlen * BTF_SECINFO_SIZE);
  if (!sec) return vars;
  for (let i = 0; i < vlen; i++) {
    const at = BTF_TYPE_SIZE + i * BTF_SECINFO_SIZE;
    const varType = bpf.btfTypeBytes(btf, sec.getUint32(at, true), BTF_TYPE_SIZE);
    if (!varType || ((varType.getUint32(4, true) >>> 24) & 0x1f) !== BTF_KIND_VAR) continue;
    vars.set(bpf.btfNameByOffset(btf, varType.getUint32(0, true)), {
      offset: sec.getUint32(at + 4, true),
      size: sec.getUint32(at + 8, true),
    });
  }
  return vars;
}

function setRodata(obj: bpf.BpfObjectHandle, path: string, values: Record<string, number | readonly number[]>): void {
  const names = Object.keys(values);
  if (names.length === 0) return;
  const map = bpf.objectFindMap(obj, '.rodata');
  const data = map ? bpf.mapInitialValue(map) : null;
  if (!map || !data) throw new Error(`${path} has no .rodata section, so it cannot take ${names.join(', ')}`);
  const layout = rodataLayout(obj);
  for (const name of names) {
    const v = layout.get(name);
    if (!v) {
      const known = [...layout.keys()].join(', ') || 'none';
      throw new Error(`${path} has no .rodata variable ${name} (it has: ${known})`);
    }
    const value = values[name];
    const words = typeof value === 'number' ? [value] : value;
    if (words.length * 4 !== v.size) {
      throw new Error(`.rodata variable ${name} is ${v.size} bytes in ${path}, xdpfw gives ${words.length * 4}`);
    }
    words.forEach((w, i) => data.writeUInt32LE(w >>> 0, v.offset + i * 4));
  }
  check(bpf.mapSetInitialValue(map, data), `setting .rodata of ${path}`);
}

function openObject(path: string, logBuffer: Buffer | null): bpf.BpfObjectHandle {
  if (!fs.existsSync(path)) {
    throw new KernelError(`opening BPF object ${path}`, 2 /* ENOENT */, {
      hint: 'no such file: build it with `make -C bpf` (npm run build:bpf)',
    });
  }
  const opts = Buffer.alloc(OPTS.objectOpen.size);
  opts.writeBigUInt64LE(BigInt(OPTS.objectOpen.size), 0);
  if (logBuffer) {
    // Our buffer, not libbpf's: libbpf would print the log through the print
    // callback, and on overflow the kernel (6.4+) keeps the log's tail here.
    opts.writeBigUInt64LE(bpf.addressOf(logBuffer), OPTS.objectOpen.kernelLogBuf);
    opts.writeBigUInt64LE(BigInt(logBuffer.length), OPTS.objectOpen.kernelLogSize);
    opts.writeUInt32LE(0, OPTS.objectOpen.kernelLogLevel); // no log unless a load fails, then level 1
  }
  bpf.clearLibbpfMessages();
  const obj = bpf.objectOpenFile(path, opts);
  if (typeof obj === 'number') {
    throw new KernelError(`opening BPF object ${path}`, obj, { libbpfMessages: warnings() });
  }
  return obj;
}

function warnings(): string[] {
  return bpf
    .libbpfMessages()
    .filter((m) => m.level === 'warn')
    .map((m) => m.text);
}

/** Turns a failed bpf_object__load into a VerifierError when a program was refused. */
function loadError(path: string, result: number, logBuffer: Buffer): Error {
  const messages = warnings();
  let failed: string | undefined;
  for (const m of messages) {
    const found = /prog '([^']+)': BPF program load failed/.exec(m);
    if (found) failed = found[1];
  }
  const end = logBuffer.indexOf(0);
  const log = logBuffer.toString('utf8', 0, end < 0 ? logBuffer.length : end);
  if (failed !== undefined && log.trim() !== '') {
    return new VerifierError(failed, -result, log, {
      libbpfMessages: messages,
      truncated: -result === 28 /* ENOSPC: the log filled the buffer; the kernel kept its tail */,
    });
  }
  // EPERM: the sentence says it all; libbpf adds a misleading RLIMIT_MEMLOCK story
  return new KernelError(`loading BPF object ${path}`, -result, {
    libbpfMessages: messages,
    quietLibbpf: -result === 1,
  });
}

/**
 * Opens `path`, applies rodata, map sizes and reused maps, loads it into the
 * kernel and returns the XDP program and every map by name. On failure
 * nothing stays open.
 */
export function loadObject(path: string, options: LoadObjectOptions = {}): LoadedObject {
  bpf.captureLibbpfMessages();
  const logBuffer = Buffer.alloc(options.logBufferSize ?? 4 << 20);
  const obj = openObject(path, logBuffer);
  try {
    setRodata(obj, path, options.rodata ?? {});
    for (const [name, n] of Object.entries(options.maxEntries ?? {})) {
      const map = bpf.objectFindMap(obj, name);
      if (!map) throw new Error(`${path} has no map ${name}`);
      check(bpf.mapSetMaxEntries(map, n), `setting max_entries of ${name} to ${n}`);
    }
    for (const [name, fd] of Object.entries(options.reuseMapFds ?? {})) {
      const map = bpf.objectFindMap(obj, name);
      if (!map) throw new Error(`${path} has no map ${name}`);
      check(bpf.mapReuseFd(map, fd), `reusing an existing map for ${name}`);
    }
    const program = onlyXdpProgram(obj, path);
    const egress = bpf.objectPrograms(obj).find((p) => bpf.programType(p) === BPF_PROG_TYPE_SCHED_CLS);
    if (options.egress && !egress) throw new Error(`${path} has no tc program for connection tracking`);
    if (egress) check(bpf.programSetAutoload(egress, options.egress === true), 'choosing the programs to load');
    bpf.clearLibbpfMessages();
    logBuffer[0] = 0;
    const result = bpf.objectLoad(obj);
    if (result < 0) throw loadError(path, result, logBuffer);

    const maps = new Map<string, MapRef>();
    for (const m of bpf.objectMaps(obj)) {
      const name = bpf.mapName(m);
      if (name.includes('.')) continue; // libbpf's internal .rodata/.bss maps
      maps.set(name, {
        name,
        fd: bpf.mapFd(m),
        type: bpf.mapType(m),
        keySize: bpf.mapKeySize(m),
        valueSize: bpf.mapValueSize(m),
        maxEntries: bpf.mapMaxEntries(m),
      });
    }
    let closed = false;
    return {
      path,
      programName: bpf.programName(program),
      progFd: bpf.programFd(program),
      insns: bpf.programInsns(program),
      egressProgFd: options.egress && egress ? bpf.programFd(egress) : undefined,
      maps,
      close() {
        if (closed) return;
        closed = true;
        bpf.objectClose(obj);
      },
    };
  } catch (err) {
    bpf.objectClose(obj);
    throw err;
  }
}

/**
 * Loads `insns` (with map fds in place) as an XDP program named `name`. On
 * a refusal libbpf loads again with the verifier's log, which the thrown
 * VerifierError carries.
 */
export function loadXdpInsns(name: string, insns: Buffer, logBufferSize = 4 << 20): number {
  const log = Buffer.alloc(logBufferSize);
  const opts = Buffer.alloc(OPTS.progLoad.size);
  opts.writeBigUInt64LE(BigInt(OPTS.progLoad.size), 0);
  opts.writeUInt32LE(BPF_XDP, OPTS.progLoad.expectedAttachType);
  opts.writeUInt32LE(log.length, OPTS.progLoad.logSize);
  opts.writeBigUInt64LE(bpf.addressOf(log), OPTS.progLoad.logBuf);
  const fd = bpf.progLoad(BPF_PROG_TYPE_XDP, name, LICENSE, insns, opts);
  if (fd >= 0) return fd;
  const end = log.indexOf(0);
  const text = log.toString('utf8', 0, end < 0 ? log.length : end);
  if (text.trim() === '') throw new KernelError(`loading BPF program '${name}'`, -fd);
  throw new VerifierError(name, -fd, text, { truncated: -fd === 28 /* ENOSPC */ });
}

export interface ObjectSpec {
  path: string;
  programs: { name: string; type: number }[];
  maps: Omit<MapRef, 'fd'>[];
  /** `.rodata` variables: byte offset and size. */
  rodata: Map<string, { offset: number; size: number }>;
}

/** What an object declares, read without loading it (needs no privileges). */
export function inspectObject(path: string): ObjectSpec {
  bpf.captureLibbpfMessages();
  const obj = openObject(path, null);
  try {
    return {
      path,
      programs: bpf.objectPrograms(obj).map((p) => ({ name: bpf.programName(p), type: bpf.programType(p) })),
      maps: bpf
        .objectMaps(obj)
        .map((m) => ({
          name: bpf.mapName(m),
          type: bpf.mapType(m),
          keySize: bpf.mapKeySize(m),
          valueSize: bpf.mapValueSize(m),
          maxEntries: bpf.mapMaxEntries(m),
        }))
        .filter((m) => !m.name.includes('.')),
      rodata: rodataLayout(obj),
    };
  } finally {
    bpf.objectClose(obj);
  }
}

function onlyXdpProgram(obj: bpf.BpfObjectHandle, path: string): bpf.BpfProgramHandle {
  const xdp = bpf.objectPrograms(obj).filter((p) => bpf.programType(p) === BPF_PROG_TYPE_XDP);
  const names = xdp.map((p) => bpf.programName(p));
  if (xdp.length !== 1) {
    throw new Error(`${path} must hold exactly one XDP program, it has ${xdp.length} (${names.join(', ')})`);
  }
  return xdp[0];
}
