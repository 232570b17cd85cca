/**
 * XDP attachment through bpf_link: attach in a chosen mode, swap the program
 * of a running link atomically, detach, and ask the kernel what is attached.
 * A link (unlike a netlink attachment) belongs to its fds and pins: it stays
 * while pinned, and nobody else can replace it by accident.
 */

import { AttachmentError, ENOTSUPP, KernelError, check, errnoName } from './errors.js';
import * as bpf from './libbpf.js';
import { BPF_F_REPLACE, BPF_XDP, INFO, OPTS, XDP_ATTACHED, XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE } from './uapi.js';

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

const attachOperation = (ifname: string, mode: AttachedMode): string => `attaching the XDP program to ${ifname} in ${mode} mode`;

const EBUSY = 16;
const EEXIST = 17;

/** EBUSY / EEXIST from link_create: the hook is taken by a program that is not xdpfw's link (index.ts's `attach` names it). */
function hookTaken(ifname: string, mode: AttachedMode, errno: number): AttachmentError {
  const other = errno === EEXIST ? ' in the other mode' : '';
  return new AttachmentError(
    'foreign-xdp',
    `cannot attach xdpfw to ${ifname} in ${mode} mode: another XDP program is attached${other}; xdpfw will not remove it`,
    `see what it is with 'ip link show ${ifname}', and let its owner remove it`,
  );
}

/**
 * Attaches `progFd` to `ifname` with a new bpf_link. 'auto' tries native
 * (driver) mode first and falls back to generic when the driver refuses.
 */
export function attachXdp(progFd: number, ifname: string, mode: AttachMode): Attachment {
  const ifindex = ifindexOf(ifname);
  const first: AttachedMode = mode === 'generic' ? 'generic' : 'native';
  const fd = linkCreate(progFd, ifname, ifindex, first);
  if (fd >= 0) return { linkFd: fd, ifindex, mode: first };
  if (-fd === EBUSY || -fd === EEXIST) throw hookTaken(ifname, first, -fd);
  if (mode === 'auto' && [EOPNOTSUPP, ENOTSUPP, EINVAL].includes(-fd)) {
    const generic = linkCreate(progFd, ifname, ifindex, 'generic');
    if (-generic === EBUSY || -generic === EEXIST) throw hookTaken(ifname, 'generic', -generic);
    check(generic, attachOperation(ifname, 'generic'));
    return { linkFd: generic, ifindex, mode: 'generic', nativeError: errnoName(-fd) };
  }
  throw new KernelError(attachOperation(ifname, first), -fd);
}

/**
 * Swaps the program of a running link in one step: packets see the old or
 * the new program, never none. With `expectedProgFd` it is a compare-and-
 * swap: it fails (EPERM) if the link runs anything else.
 */
export function replaceLinkProgram(linkFd: number, newProgFd: number, expectedProgFd?: number, ifname = 'the interface'): void {
  const opts = Buffer.alloc(OPTS.linkUpdate.size);
  opts.writeBigUInt64LE(BigInt(OPTS.linkUpdate.size), 0);
  if (expectedProgFd !== undefined) {
    opts.writeUInt32LE(BPF_F_REPLACE, OPTS.linkUpdate.flags);
    opts.writeUInt32LE(expectedProgFd, OPTS.linkUpdate.oldProgFd);
  }
  const r = bpf.linkUpdate(linkFd, newProgFd, opts);
  if (r === -EPERM && expectedProgFd !== undefined) throw swapLost(ifname);
  if (r === -ENOLINK) throw linkGone(ifname);
  check(r, `replacing the program of the XDP link of ${ifname}`);
}

const EPERM = 1;
const ENOLINK = 67;

export const swapLost = (ifname: string, detail = ''): AttachmentError =>
  new AttachmentError(
    'swap-lost',
    `another writer changed the program on ${ifname} while xdpfw replaced it${detail}; nothing was changed by this command`,
    'run the command again: it will replace what runs now',
  );

export const linkGone = (ifname: string): AttachmentError =>
  new AttachmentError(
    'link-gone',
    `xdpfw's XDP link of ${ifname} is detached: the interface was removed, or something detached the link`,
    `check the interface with 'ip link show ${ifname}', then apply the policy again`,
  );

/** Detaches the link from its interface now, even while pins or other fds still hold it; a link already detached is left as it is. */
export function detachLink(linkFd: number): void {
  const r = bpf.linkDetach(linkFd);
  if (r === -ENOLINK) return;
  check(r, 'detaching the XDP link');
}

export interface LinkInfo {
  /** enum bpf_link_type: BPF_LINK_TYPE_XDP (6) for an XDP link. */
  type: number;
  linkId: number;
  progId: number;
  /** 0 once the link is detached. */
  ifindex: number;
}

export function linkInfo(linkFd: number): LinkInfo {
  const info = Buffer.alloc(INFO.link.size);
  check(bpf.objGetInfoByFd(linkFd, info), 'reading the XDP link');
  return {
    type: info.readUInt32LE(INFO.link.type),
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
