/**
 * An iptables-save dump and an ip6tables-save dump → one policy. Each dump
 * is flattened on its own; then their rule lists are merged so that, for
 * each family, the policy's rules that can match it come in that family's
 * order. A rule both lists hold in the same relative order and that names
 * nothing of one family (no address, no ICMP type, no limit, whose buckets
 * iptables keeps apart per family) is written once, for both; every other
 * rule is written for its own family (`ip4`/`ip6` unless its addresses say
 * so). The longest common subsequence of the two lists decides which rules
 * are shared: a rule of one family moves freely past the other family's,
 * which never match its packets. Different chain policies become the
 * IPv4 one as `default` and a last rule for IPv6.
 */
import type { ImportDiagnostic } from './codes.js';
import { refuseTailsPastLimit, type FlatRule } from './flatten.js';
import { impliedFamily } from './iptables-conjoin.js';
import { ruleText, emitPolicy } from './iptables-emit.js';
import type { SetDeclaration } from './iptables-sets.js';
import { blockInterfaces, type FlatDump, type Translation } from './iptables-translate.js';
import type { Citation, SourceProgram } from './program.js';

export interface FamilyDumps {
  v4: { dump: FlatDump; file: string };
  v6: { dump: FlatDump; file: string };
  interfaces?: string[];
}

export interface MergedTranslation extends Omit<Translation, 'program'> {
  /** Both dumps' meanings, for the proof: the first judges IPv4, the second IPv6. */
  programs: [SourceProgram, SourceProgram];
}

export function mergeFamilies({ v4, v6, interfaces: given }: FamilyDumps): MergedTranslation {
  const cited = (rules: FlatRule[], file: string) => rules.map((r) => ({ ...r, cites: r.cites.map((c): Citation => ({ ...c, file })) }));
  const ipv4 = cited(v4.dump.flat, v4.file);
  const ipv6 = cited(v6.dump.flat, v6.file);
  const merged = mergeLists(ipv4, ipv6);
  const p4 = v4.dump.program.policy;
  const p6 = v6.dump.program.policy;
  if (p4 !== p6) {
    merged.push({
      cites: [],
      comments: [`${v6.file}'s policy: what no rule of it decides`],
      verdict: p6,
      condition: { family: 6 },
    });
  }
  const interfaces = blockInterfaces({ flat: merged, chainLine: v4.dump.chainLine }, given, v4.dump.report);
  // The two dumps' tails share each interface's 64 (a refusal is reported in the IPv4 dump's run; its citation names the file).
  const kept = refuseTailsPastLimit(merged, interfaces, v4.dump.report);
  const header = [
    ...v4.dump.header,
    ...v6.dump.header,
    'A rule both dumps hold in the same place is written once; the others name their family.',
  ];
  const sets = new Map<string, SetDeclaration>();
  for (const set of [...v4.dump.sets, ...v6.dump.sets]) sets.set(set.name, set);
  const policy = emitPolicy(header, interfaces, p4, kept, v4.file, 'both', { sets: [...sets.values()] });
  const d4 = v4.dump.diagnostics();
  const d6 = v6.dump.diagnostics();
  const in6 = (d: ImportDiagnostic): ImportDiagnostic => ({ ...d, file: d.file ?? v6.file });
  return {
    policy,
    programs: [v4.dump.program, v6.dump.program],
    refusals: [...d4.refusals, ...d6.refusals.map(in6)],
    warnings: [...d4.warnings, ...d6.warnings.map(in6)],
  };
}

/** The key of a rule that may stand for both families; undefined when it is one family's. */
function sharedKey(rule: FlatRule): string | undefined {
  const c = rule.condition;
  if (rule.audit || c.src || c.dst || c.family !== undefined || c.limit || c.dynamicSet || c.ban !== undefined) return undefined;
  if (impliedFamily(c) !== undefined) return undefined;
  return `${c.iface ?? ''}\n${ruleText(rule.verdict, c)}`;
}

/** Both lists merged: the longest common subsequence of shareable rules once, the rest for its own family. */
function mergeLists(a: FlatRule[], b: FlatRule[]): FlatRule[] {
  const ka = a.map(sharedKey);
  const kb = b.map(sharedKey);
  // lengths[i][j]: the longest common subsequence of a[i..] and b[j..].
  const lengths = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lengths[i][j] = ka[i] !== undefined && ka[i] === kb[j] ? lengths[i + 1][j + 1] + 1 : Math.max(lengths[i + 1][j], lengths[i][j + 1]);
    }
  }
  const out: FlatRule[] = [];
  const only = (rule: FlatRule, family: 4 | 6): FlatRule => ({ ...rule, condition: { ...rule.condition, family } });
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && ka[i] !== undefined && ka[i] === kb[j]) {
      out.push({ ...a[i], cites: [...a[i].cites, ...b[j].cites], comments: [...new Set([...a[i].comments, ...b[j].comments])] });
      i++;
      j++;
    } else if (j >= b.length || (i < a.length && lengths[i + 1][j] >= lengths[i][j + 1])) out.push(only(a[i++], 4));
    else out.push(only(b[j++], 6));
  }
  return out;
}
