/**
 * Connection tracking's kernel objects (docs/DESIGN.md, "Connection
 * tracking"): the namespace's tables, pinned once under
 * `<bpffs>/conntrack/<netns-id>/` and handed to every program that uses
 * `ct` (never copied or emptied by a reload), their timeouts, and the egress
 * program's tcx link, pinned beside the interface's XDP link. Reading the
 * tables is conntrack-read.ts.
 */

import fs from 'node:fs';
import path from 'node:path';

import { CT_MIN_TABLE, CT_TIMEOUT, MAP, STRUCT } from '../contract/kernel.js';
import { KernelError, check } from './errors.js';
import * as bpf from './libbpf.js';
import { closeFd } from './libbpf.js';
import { detachLink, ifindexOf, linkInfo, replaceLinkProgram } from './link.js';
import type { MapRef } from './object.js';
import { bpffsRoot, interfacePinDir, namespaceKey, openPinned, pinFd, pinnedInterfaces, type PinOptions } from './pins.js';
import { BPF_TC_EGRESS, BPF_TC_F_REPLACE, BPF_TCX_EGRESS, INFO, OPTS } from './uapi.js';

/** A policy's `conntrack { … }`, resolved: times in seconds. */
export interface ConntrackSettings {
  size: number;
  timeouts: { tcpSyn: number; tcpEstablished: number; tcpClose: number; udp: number; udpStream: number; icmp: number };
  /** Half-open entries the host may create a second before the flood guard refuses more. */
  floodThreshold: number;
}

/** The pins of the namespace's tables, by map name. */
export const TABLE_PIN: Record<string, string> = {
  [MAP.ctTcp]: 'tcp',
  [MAP.ctUdp]: 'udp',
  [MAP.ctIcmp]: 'icmp',
  [MAP.ctFrag]: 'frag',
  [MAP.ctConfig]: 'config',
  [MAP.ctStats]: 'stats',
  [MAP.ctFlood]: 'flood',
};
export const CONNTRACK_MAPS: readonly string[] = Object.keys(TABLE_PIN);

/** Datagrams whose later fragments are awaited at once. */
const FRAG_ENTRIES = 16384;

export const conntrackDir = (o: PinOptions = {}): string => path.join(bpffsRoot(o), 'conntrack', namespaceKey(o));

/** max_entries of the tables when a load creates them: the TCP table takes the size, UDP and ICMP a quarter. */
export function conntrackSizes(s: ConntrackSettings): Record<string, number> {
  const quarter = Math.max(CT_MIN_TABLE, Math.floor(s.size / 4));
  return { [MAP.ctTcp]: s.size, [MAP.ctUdp]: quarter, [MAP.ctIcmp]: quarter, [MAP.ctFrag]: FRAG_ENTRIES };
}

/** The pinned tables of this namespace, opened (the caller closes the fds); missing ones are absent. */
export function openConntrackTables(o: PinOptions = {}): Map<string, number> {
  const fds = new Map<string, number>();
  const dir = conntrackDir(o);
  for (const [name, pin] of Object.entries(TABLE_PIN)) {
    const fd = openPinned(path.join(dir, pin), `connection-tracking map ${name}`);
    if (fd !== null) fds.set(name, fd);
  }
  return fds;
}

/**
 * When the namespace's pinned TCP table has another size than `s` asks
 * for, what to tell the user: a table keeps its size while any interface
 * uses it.
 */
export function keptSizeNotice(tables: ReadonlyMap<string, number>, s: ConntrackSettings): string | null {
  const fd = tables.get(MAP.ctTcp);
  if (fd === undefined) return null;
  const info = Buffer.alloc(INFO.map.size);
  check(bpf.objGetInfoByFd(fd, info), 'reading the connection table');
  const size = info.readUInt32LE(INFO.map.maxEntries);
  if (size === s.size) return null;
  return (
    `the connection table keeps its ${size} TCP entries (the policy asks for ${s.size}): ` +
    'a table is sized when it is created, and it lives until the last interface using ct state is detached'
  );
}

/** Pins the tables a load created (those not pinned yet), so that later programs share them. */
export function pinConntrackTables(maps: ReadonlyMap<string, MapRef>, o: PinOptions = {}): void {
  const dir = conntrackDir(o);
  for (const [name, pin] of Object.entries(TABLE_PIN)) {
    const file = path.join(dir, pin);
    const map = maps.get(name);
    if (!map) throw new Error(`the BPF object has no map ${name}`);
    if (!fs.existsSync(file)) pinFd(map.fd, file, `connection-tracking map ${name}`);
  }
}

/** Writes the timeouts and the flood guard's share per CPU; the programs read them on every packet. */
export function writeConntrackConfig(configFd: number, s: ConntrackSettings): void {
  const layout = STRUCT.xdpfw_ct_config;
  const value = Buffer.alloc(layout.size);
  const seconds: Record<keyof typeof CT_TIMEOUT, number> = {
    syn: s.timeouts.tcpSyn,
    established: s.timeouts.tcpEstablished,
    close: s.timeouts.tcpClose,
    udp: s.timeouts.udp,
    udpStream: s.timeouts.udpStream,
    icmp: s.timeouts.icmp,
  };
  for (const [name, index] of Object.entries(CT_TIMEOUT) as [keyof typeof CT_TIMEOUT, number][]) {
    value.writeBigUInt64LE(BigInt(seconds[name]) * 1_000_000_000n, layout.fields.timeout_ns + 8 * index);
  }
  const cpus = Math.max(1, bpf.numPossibleCpus());
  value.writeBigUInt64LE(BigInt(Math.max(1, Math.ceil(s.floodThreshold / cpus))), layout.fields.flood_per_cpu);
  check(bpf.mapUpdateElem(configFd, Buffer.alloc(4), value), 'writing the connection-tracking timeouts');
}

/** Removes the namespace's tables once no interface records into them any more. */
export function removeConntrackTablesIfUnused(o: PinOptions = {}): boolean {
  const recording = (ifname: string) => Object.values(egressPins(ifname, o)).some((pin) => fs.existsSync(pin));
  if (pinnedInterfaces(o).some(recording)) return false;
  fs.rmSync(conntrackDir(o), { recursive: true, force: true });
  return true;
}

/* ---- the egress hook ------------------------------------------------------- */

/*
 * The recorder runs from a tcx link (Linux 6.6), pinned as `egress` beside
 * the XDP link; where tcx is missing (or XDPFW_EGRESS_HOOK=clsact asks for
 * it) from a clsact filter of xdpfw's own handle and priority, which lives
 * with the interface rather than with a pin: the program is pinned as
 * `egress-clsact` to say which hook holds it.
 */
const EGRESS_LINK_PIN = 'egress';
const EGRESS_CLSACT_PIN = 'egress-clsact';
/** xdpfw's filter on the clsact egress hook: handle and priority "xd". */
const TC_HANDLE = 0x7864;
const TC_PRIORITY = 0x7864;
const EINVAL = 22;
const EEXIST = 17;
const EOPNOTSUPP = 95;

const egressPins = (ifname: string, o: PinOptions) => ({
  link: path.join(interfacePinDir(ifname, o), EGRESS_LINK_PIN),
  clsact: path.join(interfacePinDir(ifname, o), EGRESS_CLSACT_PIN),
});

function tcBuffers(ifname: string, progFd = 0, flags = 0): { hook: Buffer; opts: Buffer } {
  const hook = Buffer.alloc(OPTS.tcHook.size);
  hook.writeBigUInt64LE(BigInt(OPTS.tcHook.size), 0);
  hook.writeInt32LE(ifindexOf(ifname), OPTS.tcHook.ifindex);
  hook.writeUInt32LE(BPF_TC_EGRESS, OPTS.tcHook.attachPoint);
  const opts = Buffer.alloc(OPTS.tcOpts.size);
  opts.writeBigUInt64LE(BigInt(OPTS.tcOpts.size), 0);
  opts.writeInt32LE(progFd, OPTS.tcOpts.progFd);
  opts.writeUInt32LE(flags, OPTS.tcOpts.flags);
  opts.writeUInt32LE(TC_HANDLE, OPTS.tcOpts.handle);
  opts.writeUInt32LE(TC_PRIORITY, OPTS.tcOpts.priority);
  return { hook, opts };
}

/** Puts (or replaces) xdpfw's filter on `ifname`'s clsact egress, creating the qdisc when needed. */
function attachClsact(progFd: number, ifname: string, pin: string): void {
  const { hook, opts } = tcBuffers(ifname, progFd, BPF_TC_F_REPLACE);
  const created = bpf.tcHookCreate(hook);
  if (created < 0 && -created !== EEXIST) check(created, `adding a clsact qdisc to ${ifname}`);
  check(bpf.tcAttach(hook, opts), `attaching the connection-tracking egress program to ${ifname} (clsact)`);
  pinFd(progFd, pin, `the egress program of ${ifname}`);
}

/**
 * Runs `progFd` on `ifname`'s egress: swaps the program of the hook that
 * holds xdpfw's recorder when there is one, else attaches it, by tcx link
 * where the kernel has tcx.
 */
export function attachEgress(progFd: number, ifname: string, o: PinOptions = {}): void {
  const pins = egressPins(ifname, o);
  if (fs.existsSync(pins.clsact)) return attachClsact(progFd, ifname, pins.clsact);
  const existing = openPinned(pins.link, `egress link of ${ifname}`);
  if (existing !== null) {
    try {
      if (linkInfo(existing).ifindex !== 0) return replaceLinkProgram(existing, progFd, undefined, ifname);
    } finally {
      closeFd(existing);
    }
  }
  if (process.env.XDPFW_EGRESS_HOOK === 'clsact') return attachClsact(progFd, ifname, pins.clsact);
  const opts = Buffer.alloc(OPTS.linkCreate.size);
  opts.writeBigUInt64LE(BigInt(OPTS.linkCreate.size), 0);
  const fd = bpf.linkCreate(progFd, ifindexOf(ifname), BPF_TCX_EGRESS, opts);
  if (fd === -EINVAL || fd === -EOPNOTSUPP) return attachClsact(progFd, ifname, pins.clsact); // no tcx: before Linux 6.6
  if (fd < 0) throw new KernelError(`attaching the connection-tracking egress program to ${ifname} (tcx)`, -fd);
  try {
    pinFd(fd, pins.link, `the egress link of ${ifname}`);
  } finally {
    closeFd(fd);
  }
}

/** Stops recording on `ifname`'s egress (a policy without `ct` replaced one with it, or a detach). */
export function detachEgress(ifname: string, o: PinOptions = {}): void {
  const pins = egressPins(ifname, o);
  if (fs.existsSync(pins.clsact)) {
    if (bpf.ifNameToIndex(ifname) !== 0) {
      const { hook, opts } = tcBuffers(ifname);
      const r = bpf.tcDetach(hook, opts);
      if (r < 0 && r !== -2 /* ENOENT: removed already */) check(r, `removing the connection-tracking egress filter of ${ifname}`);
    }
    fs.rmSync(pins.clsact, { force: true });
  }
  const fd = openPinned(pins.link, `egress link of ${ifname}`);
  if (fd === null) return;
  try {
    detachLink(fd);
  } finally {
    closeFd(fd);
    fs.rmSync(pins.link, { force: true });
  }
}
