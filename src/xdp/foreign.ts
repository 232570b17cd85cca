/**
 * XDP programs on an interface that are not xdpfw's: another tool's
 * (xdp-loader's dispatcher, Cilium, a bpf_link some process holds), or one
 * attached through netlink (`ip link set dev IF xdp …`). An interface has
 * one XDP hook per mode, and xdpfw never takes it from its holder: it names
 * the program, its mode and what keeps it there, so its owner can act.
 */

import { AttachmentError, check } from './errors.js';
import * as bpf from './libbpf.js';
import { linkInfo, progInfo, queryXdp } from './link.js';
import { BPF_LINK_TYPE_XDP } from './uapi.js';

export interface ForeignXdp {
  progId: number;
  /** The program's name as the kernel keeps it (at most 15 characters); empty when it could not be read. */
  name: string;
  mode: 'native' | 'generic' | 'offload';
  /** The bpf_link that holds it; none when it was attached through netlink. */
  linkId?: number;
}

function withFd<T>(fd: number, what: string, read: (fd: number) => T): T {
  check(fd, what);
  try {
    return read(fd);
  } finally {
    bpf.closeFd(fd);
  }
}

/** The XDP link holding program `progId` on `ifindex`, scanning the host's links (few: one per attached program). */
function holdingLink(progId: number, ifindex: number): number | undefined {
  const next = Buffer.alloc(4);
  for (let id = 0; bpf.linkGetNextId(id, next) === 0;) {
    id = next.readUInt32LE(0);
    const fd = bpf.linkGetFdById(id);
    if (fd < 0) continue; // released since the id was listed
    const info = withFd(fd, 'reading a bpf_link', linkInfo);
    if (info.type === BPF_LINK_TYPE_XDP && info.progId === progId && info.ifindex === ifindex) return id;
  }
  return undefined;
}

function programName(progId: number): string {
  const fd = bpf.progGetFdById(progId);
  if (fd < 0) return ''; // detached and freed since the query
  return withFd(fd, 'reading a program', progInfo).name;
}

/** The programs on `ifname`'s XDP hook other than `ownProgId` (the one xdpfw's pinned link runs, if any). */
export function foreignXdp(ifname: string, ownProgId: number | undefined): ForeignXdp[] {
  const q = queryXdp(ifname);
  const modes = [
    ['native', q.native],
    ['generic', q.generic],
    ['offload', q.offload],
  ] as const;
  return modes
    .filter(([, id]) => id !== 0 && id !== ownProgId)
    .map(([mode, progId]) => ({ progId, name: programName(progId), mode, linkId: holdingLink(progId, q.ifindex) }));
}

const IP_LINK_MODE = { native: 'xdpdrv', generic: 'xdpgeneric', offload: 'xdpoffload' } as const;

const describe = (p: ForeignXdp): string =>
  `program ${p.progId}${p.name ? ` "${p.name}"` : ''} (${p.mode} mode, ${
    p.linkId === undefined ? 'attached through netlink' : `held by bpf_link ${p.linkId}`
  })`;

/** What removes `p`, said to whoever owns it. */
function removal(ifname: string, p: ForeignXdp): string {
  if (p.name === 'xdp_dispatcher') {
    return `it is libxdp's dispatcher: 'xdp-loader status ${ifname}' lists the programs it runs, 'xdp-loader unload ${ifname} --all' removes them`;
  }
  if (p.linkId !== undefined) {
    return `'bpftool link show id ${p.linkId}' shows it; it goes when its owner closes or unpins the link (find the owner with 'bpftool link show' and the pins in /sys/fs/bpf)`;
  }
  return `its owner can remove it, or 'ip link set dev ${ifname} ${IP_LINK_MODE[p.mode]} off'`;
}

/** `foreign-xdp`: xdpfw cannot attach to `ifname` while `holders` are there, and will not remove them. */
export function foreignXdpError(ifname: string, holders: ForeignXdp[]): AttachmentError {
  return new AttachmentError(
    'foreign-xdp',
    `${ifname} runs an XDP program that is not xdpfw's: ${holders.map(describe).join(', ')}; xdpfw will not remove it`,
    `${holders.map((p) => removal(ifname, p)).join('; ')}; then run xdpfw again`,
  );
}
