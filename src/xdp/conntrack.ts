/**
 * Connection tracking's kernel objects (docs/DESIGN.md, "Connection
 * tracking"): the namespace's tables, pinned once under
 * `<bpffs>/conntrack/<netns-id>/` and handed to every program that uses
 * `ct` (never copied or emptied by a reload), their timeouts, and the egress
 * program's tcx link, pinned beside the interface's XDP link.
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
import { BPF_TCX_EGRESS, OPTS } from './uapi.js';

/** A policy's `conntrack { … }`, resolved: times in seconds. */
export interface ConntrackSettings {
  size: number;
  timeouts: { tcpSyn: number; tcpEstablished: number; tcpClose: number; udp: number; udpStream: number; icmp: number };
  /** Half-open entries the host may create a second before the flood guard refuses more. */
  floodThreshold: number;
}

/** The pins of the namespace's tables, by map name. */
const TABLE_PIN: Record<string, string> = {
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

/** The pin of the egress link in an interface's directory. */
const EGRESS_PIN = 'egress';

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
  if (pinnedInterfaces(o).some((ifname) => fs.existsSync(path.join(interfacePinDir(ifname, o), EGRESS_PIN)))) return false;
  fs.rmSync(conntrackDir(o), { recursive: true, force: true });
  return true;
}

/* ---- the egress link ------------------------------------------------------- */

const egressPin = (ifname: string, o: PinOptions): string => path.join(interfacePinDir(ifname, o), EGRESS_PIN);

/**
 * Runs `progFd` on `ifname`'s egress: swaps the program of the pinned tcx
 * link when there is one, else creates and pins a link.
 */
export function attachEgress(progFd: number, ifname: string, o: PinOptions = {}): void {
  const pin = egressPin(ifname, o);
  const existing = openPinned(pin, `egress link of ${ifname}`);
  if (existing !== null) {
    try {
      if (linkInfo(existing).ifindex !== 0) {
        replaceLinkProgram(existing, progFd, undefined, ifname);
        return;
      }
    } finally {
      closeFd(existing);
    }
  }
  const opts = Buffer.alloc(OPTS.linkCreate.size);
  opts.writeBigUInt64LE(BigInt(OPTS.linkCreate.size), 0);
  const fd = bpf.linkCreate(progFd, ifindexOf(ifname), BPF_TCX_EGRESS, opts);
  if (fd < 0) {
    throw new KernelError(`attaching the connection-tracking egress program to ${ifname} (tcx)`, -fd, {
      hint: 'connection tracking needs tcx links (Linux 6.6 or later)',
    });
  }
  try {
    pinFd(fd, pin, `the egress link of ${ifname}`);
  } finally {
    closeFd(fd);
  }
}

/** Stops recording on `ifname`'s egress (a policy without `ct` replaced one with it). */
export function detachEgress(ifname: string, o: PinOptions = {}): void {
  const pin = egressPin(ifname, o);
  const fd = openPinned(pin, `egress link of ${ifname}`);
  if (fd === null) return;
  try {
    detachLink(fd);
  } finally {
    closeFd(fd);
    fs.rmSync(pin, { force: true });
  }
}
