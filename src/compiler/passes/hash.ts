/**
 * The compiled interface's hash: sha256 over a canonical serialisation of
 * everything the data plane gets (constants, actions, vectors, tables, trie
 * entries) and of the rules' identities (index, id, name, action) that its
 * counters are reported under. Left out on purpose: the interface name (one
 * policy on two interfaces has one hash) and the rules' display text and
 * location (a comment or a blank line added above a rule changes nothing
 * that is applied). Big tables are fed as packed binary.
 */
import { createHash } from 'node:crypto';
import type { ConntrackSettings } from '../ir.js';
import type { CompiledInterface, LimitSettings, PrefixClasses } from '../output.js';

export type HashedPart = Omit<CompiledInterface, 'hash' | 'name' | 'conntrack' | 'limits'>;

/**
 * `conntrack`, `limits`: the policy's settings when the interface uses
 * `ct state`, or a `limit`, so that a changed timeout or table size is a new
 * policy to a daemon comparing hashes. Tails, dynamic sets and limits enter
 * only when present, so a stateless policy keeps the hash it had before
 * they existed.
 */
export function hashCompiled(c: HashedPart, conntrack: ConntrackSettings | null, limits: LimitSettings | null): string {
  const hash = createHash('sha256');
  // Bigints (a limit's nanoseconds) as decimal strings: JSON.stringify refuses them.
  const text = (label: string, value: unknown) =>
    hash.update(`${label}=${JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  const bytes = (a: Uint8Array | Uint32Array | BigUint64Array) => hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  text('format', 'xdpfw-compiled-3');
  text('default', c.defaultAction);
  text('constants', c.constants);
  text(
    'rules',
    // audit and log only when set: a policy without them keeps its hash.
    c.rules.map((r) => [r.index, r.id, r.name ?? null, r.action, ...(r.audit ? ['audit'] : []), ...(r.log ? ['log'] : [])]),
  );
  text('actions', c.actions);
  text('vectors', [c.vectors.length, c.constants.nwords]);
  for (const words of c.vectors) bytes(words);
  const table = (label: string, values: number[] | null) => {
    text(label, values === null ? null : values.length);
    if (values !== null) hash.update(new Uint8Array(Uint32Array.from(values).buffer));
  };
  table('proto', c.protoClass);
  table('sport', c.sportClass);
  table('dport', c.dportClass);
  table('tcpflags', c.tcpFlagsClass);
  table('icmptype', c.icmpTypeClass);
  table('ctstate', c.ctStateClass);
  if (conntrack !== null) text('conntrack', conntrack);
  if (c.tails.some((tail) => tail !== null)) text('tails', c.tails);
  if (c.dynamicSets.length > 0) text('dynamic-sets', c.dynamicSets);
  if (limits !== null) text('limits', limits);
  const trie = (label: string, entries: PrefixClasses) => {
    text(label, entries.prefixLength.length);
    bytes(entries.prefixLength);
    bytes(entries.words);
    bytes(entries.classId);
  };
  trie('src4', c.src4);
  trie('src6', c.src6);
  trie('dst4', c.dst4);
  trie('dst6', c.dst6);
  return hash.digest('hex');
}
