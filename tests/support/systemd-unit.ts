/**
 * The shipped systemd units as data, for the tests that check them
 * (systemd-analyze) and the one that runs the daemon under the restrictions
 * deploy/xdpfw.service declares: read from the file, so the two never drift.
 */

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
export const SERVICE_PATH = path.join(DEPLOY, 'xdpfw.service');
export const BPFFS_MOUNT_PATH = path.join(DEPLOY, 'run-xdpfw-bpffs.mount');

/** Section → key → every value given, in order (systemd keys such as SystemCallFilter= may repeat). */
export type UnitFile = Map<string, Map<string, string[]>>;

/** systemd.syntax(7): `[Section]`, `Key=value`, `#`/`;` comments, `\` continuing a line. */
export function parseUnit(text: string): UnitFile {
  const unit: UnitFile = new Map();
  let section: Map<string, string[]> | undefined;
  for (const line of text.replace(/\\\n/g, ' ').split('\n')) {
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(trimmed);
    if (header) {
      section = new Map();
      unit.set(header[1], section);
      continue;
    }
    const eq = trimmed.indexOf('=');
    if (eq < 0 || !section) throw new Error(`not a unit file line: ${trimmed}`);
    const key = trimmed.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), trimmed.slice(eq + 1).trim()]);
  }
  return unit;
}

export const serviceUnit = (): UnitFile => parseUnit(fs.readFileSync(SERVICE_PATH, 'utf8'));

/** Every value of `[Service] key`, split on whitespace (the lists systemd takes). */
export function serviceList(unit: UnitFile, key: string): string[] {
  return (unit.get('Service')?.get(key) ?? []).flatMap((v) => v.split(/\s+/).filter(Boolean));
}

/** The one value of `[Service] key` (the last, as systemd takes it), or undefined. */
export const serviceValue = (unit: UnitFile, key: string): string | undefined => unit.get('Service')?.get(key)?.at(-1);

/** A `yes`/`true`/`on`/`1` setting (systemd.syntax(7)'s booleans). */
export const serviceFlag = (unit: UnitFile, key: string): boolean => /^(yes|true|on|1)$/i.test(serviceValue(unit, key) ?? '');

/**
 * The system calls a `SystemCallFilter=` allow list admits: its groups
 * expanded the way systemd expands them (`systemd-analyze syscall-filter`
 * prints every group with its members, groups nested by name), minus the
 * `~` deny lines that follow it.
 */
export function allowedSyscalls(unit: UnitFile): Set<string> {
  const groups = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of execFileSync('systemd-analyze', ['syscall-filter'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split(
    '\n',
  )) {
    if (/^@\S+$/.test(line.trim()) && !line.startsWith(' ')) groups.set(line.trim(), (current = []));
    else if (/^\s+@?[a-z0-9_-]+$/.test(line) && current) current.push(line.trim());
  }
  const expand = (name: string, into: Set<string>): void => {
    if (!name.startsWith('@')) return void into.add(name);
    const members = groups.get(name);
    if (!members) throw new Error(`systemd-analyze does not know the group ${name}`);
    for (const m of members) expand(m, into);
  };
  const allowed = new Set<string>();
  for (const value of unit.get('Service')?.get('SystemCallFilter') ?? []) {
    const deny = value.startsWith('~');
    const names = new Set<string>();
    for (const name of value.replace(/^~/, '').split(/\s+/).filter(Boolean)) expand(name, names);
    for (const name of names) {
      if (deny) allowed.delete(name);
      else allowed.add(name);
    }
  }
  return allowed;
}
