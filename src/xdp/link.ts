/**
 * XDP attachment through bpf_link: attach in a chosen mode, swap the program
 * of a running link atomically, detach, and ask the kernel what is attached.
 * A link (unlike a netlink attachment) belongs to its fds and pins: it stays
 * while pinned, and nobody else can replace it by accident.
 */

import { ENOTSUPP, KernelError, check, errnoName } from './errors.js';
import * as bpf from './libbpf.js';
import {
  BPF_F_REPLACE,
  BPF_XDP,
  INFO,
  OPTS,
  XDP_ATTACHED,
  XDP_FLAGS_DRV_MODE,
  XDP_FLAGS_SKB_MODE,
} from './uapi.js';

export type AttachMode = 'native' | 'generic' | 'auto';
export type AttachedMode = 'native' | 'generic';

const EINVAL = 22;
const EOPNOTSUPP = 95;

/** The ifindex of `ifname` in the calling thread's network namespace. */
export function ifindexOf(ifname: string): number {
  const index = bpf.ifNameToIndex(ifname);
  if (index === 0) {
    const errno = bpf.lastErrno() || 19;
    throw new KernelError(`finding interface ${ifname}`, errno === 2 ? 19 /* ENODEV reads better */ : errno);
  }
  return index;
}

export interface Attachment {
  linkFd: number;
  ifindex: number;
  mode: AttachedMode;
  /** For mode 'auto' when native failed: why, e.g. "EOPNOTSUPP". */
  nativeError?: string;
}

function linkCreate(progFd: number, ifname: string, ifindex: number, mode: AttachedMode): number {
  const opts = Buffer.alloc(OPTS.linkCreate.size);
  opts.writeBigUInt64LE(BigInt(OPTS.linkCreate.size), 0);
  opts.writeUInt32LE(mode === 'native' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE, OPTS.linkCreate.flags);
  return bpf.linkCreate(progFd, ifindex, BPF_XDP, opts);
}

const attachOperation = (ifname: string, mode: AttachedMode): string =>
  `attaching the XDP program to ${ifname} in ${mode} mode`;

const attachHints = (ifname: string): Record<number, string> => ({
  16: `another XDP program is attached (not by xdpfw?): detach it first (ip link set dev ${ifname} xdp off)`,
  17:
    `an XDP program is attached in the other mode (not by xdpfw?): ` +
    `detach it first (ip link set dev ${ifname} xdp off)`,
});

/**
 * Attaches `progFd` to `ifname` with a new bpf_link. 'auto' tries native
 * (driver) mode first and falls back to generic when the driver refuses.
 */
export function attachXdp(progFd: number, ifname: string, mode: AttachMode): Attachment {
  const ifindex = ifindexOf(ifname);
  const first: AttachedMode = mode === 'generic' ? 'generic' : 'native';
  const fd = linkCreate(progFd, ifname, ifindex, first);
  if (fd >= 0) return { linkFd: fd, ifindex, mode: first };
  if (mode === 'auto' && [EOPNOTSUPP, ENOTSUPP, EINVAL].includes(-fd)) {
    const generic = linkCreate(progFd, ifname, ifindex, 'generic');
    check(generic, attachOperation(ifname, 'generic'), { hint: attachHints(ifname)[-generic] });
    return { linkFd: generic, ifindex, mode: 'generic', nativeError: errnoName(-fd) };
  }
  throw new KernelError(attachOperation(ifname, first), -fd, { hint: attachHints(ifname)[-fd] });
}

/**
 * Swaps the program of a running link in one step: packets see the old or
 * the new program, never none. With `expectedProgFd` it is a compare-and-
 * swap: it fails (EPERM) if the link runs anything else.
 */
export function replaceLinkProgram(linkFd: number, newProgFd: number, expectedProgFd?: number): void {
  const opts = Buffer.alloc(OPTS.linkUpdate.size);
  opts.writeBigUInt64LE(BigInt(OPTS.linkUpdate.size), 0);
  if (expectedProgFd !== undefined) {
    opts.writeUInt32LE(BPF_F_REPLACE, OPTS.linkUpdate.flags);
    opts.writeUInt32LE(expectedProgFd, OPTS.linkUpdate.oldProgFd);
  }
  const r = bpf.linkUpdate(linkFd, newProgFd, opts);
  check(r, 'replacing the program of the XDP link', {
    hint:
      r === -1 /* EPERM */ && expectedProgFd !== undefined
        ? 'the link runs another program than expected (replaced by someone else meanwhile?)'
        : undefined,
  });
}

/** Detaches the link from its interface now, even while pins or other fds still hold it. */
export function detachLink(linkFd: number): void {
  check(bpf.linkDetach(linkFd), 'detaching the XDP link');
}

export interface LinkInfo {
  linkId: number;
  progId: number;
  /** 0 once the link is detached. */
  ifindex: number;
}

export function linkInfo(linkFd: number): LinkInfo {
  const info = Buffer.alloc(INFO.link.size);
  check(bpf.objGetInfoByFd(linkFd, info), 'reading the XDP link');
  return {
    linkId: info.readUInt32LE(INFO.link.id),
    progId: info.readUInt32LE(INFO.link.progId),
    ifindex: info.readUInt32LE(INFO.link.xdpIfindex),
  };
}

export interface ProgInfo {
  id: number;
  type: number;
  name: string;
}

export function progInfo(progFd: number): ProgInfo {
  const info = Buffer.alloc(INFO.prog.size);
  check(bpf.objGetInfoByFd(progFd, info), 'reading the program');
  const name = info.subarray(INFO.prog.name, INFO.prog.name + INFO.prog.nameLength);
  const end = name.indexOf(0);
  return {
    id: info.readUInt32LE(INFO.prog.id),
    type: info.readUInt32LE(INFO.prog.type),
    name: name.toString('utf8', 0, end < 0 ? name.length : end),
  };
}

/** An fd for the program with kernel id `id` (close it after use). */
export function progFdById(id: number): number {
  return check(bpf.progGetFdById(id), `opening program id ${id}`);
}

export interface XdpQuery {
  ifindex: number;
  /** Program id per mode; 0 = none. */
  native: number;
  generic: number;
  offload: number;
  /** What `ip link` shows: the single attached program, if exactly one. */
  progId: number;
  mode: 'none' | 'native' | 'generic' | 'offload' | 'multi';
}

/** What the kernel says is attached to `ifname` (by netlink or by link). */
export function queryXdp(ifname: string): XdpQuery {
  const ifindex = ifindexOf(ifname);
  const q = OPTS.xdpQuery;
  const opts = Buffer.alloc(q.size);
  opts.writeBigUInt64LE(BigInt(q.size), 0);
  check(bpf.xdpQuery(ifindex, 0, opts), `querying XDP on ${ifname}`);
  const modes: Record<number, XdpQuery['mode']> = {
    [XDP_ATTACHED.NONE]: 'none',
    [XDP_ATTACHED.DRV]: 'native',
    [XDP_ATTACHED.SKB]: 'generic',
    [XDP_ATTACHED.HW]: 'offload',
    [XDP_ATTACHED.MULTI]: 'multi',
  };
  const attachMode = opts.readUInt8(q.attachMode);
  return {
    ifindex,
    native: opts.readUInt32LE(q.drvProgId),
    generic: opts.readUInt32LE(q.skbProgId),
    offload: opts.readUInt32LE(q.hwProgId),
    progId: opts.readUInt32LE(q.progId),
    mode: modes[attachMode] ?? 'none',
  };
}
