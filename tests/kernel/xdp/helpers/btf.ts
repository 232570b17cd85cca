/** Reads `bpftool btf dump file X format raw` into structs, enums and datasec variables. */

import { execFileSync } from 'node:child_process';

export interface BtfDump {
  structs: Map<string, { size: number; members: Record<string, number> }>;
  enums: Map<string, Record<string, number>>;
  /** datasec name → variable name → size */
  datasecs: Map<string, Record<string, number>>;
}

export function dumpBtf(file: string): BtfDump {
  const text = execFileSync('bpftool', ['btf', 'dump', 'file', file, 'format', 'raw'], { encoding: 'utf8' });
  const dump: BtfDump = { structs: new Map(), enums: new Map(), datasecs: new Map() };
  let members: Record<string, number> | null = null;
  for (const line of text.split('\n')) {
    const head = /^\[\d+\] (STRUCT|ENUM|DATASEC) '([^']*)' (?:.*?)size=(\d+)/.exec(line);
    if (head) {
      members = {};
      const [, kind, name, size] = head;
      if (kind === 'STRUCT' && name !== '(anon)') dump.structs.set(name, { size: Number(size), members });
      else if (kind === 'ENUM') dump.enums.set(name, members);
      else if (kind === 'DATASEC') dump.datasecs.set(name, members);
      else members = null;
      continue;
    }
    if (/^\[\d+\]/.test(line)) {
      members = null;
      continue;
    }
    if (!members) continue;
    const member = /^\s+'([^']+)' type_id=\d+ bits_offset=(\d+)/.exec(line);
    const value = /^\s+'([^']+)' val=(-?\d+)/.exec(line);
    const variable = /^\s+type_id=\d+ offset=\d+ size=(\d+) \(VAR '([^']+)'\)/.exec(line);
    if (member) members[member[1]] = Number(member[2]) / 8;
    else if (value) members[value[1]] = Number(value[2]);
    else if (variable) members[variable[2]] = Number(variable[1]);
  }
  return dump;
}
