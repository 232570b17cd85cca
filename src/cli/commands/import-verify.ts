/**
 * What `import … --verify` prints: that the policy was proved equivalent,
 * or the packet on which it differs with who decides it on each side (the
 * source rules, jumps first, and the policy's rule or default), in `xdpfw
 * test --packet`'s form so that it can be replayed.
 */
import type { VerifyReport } from '../../app/import-verify.js';
import { location } from '../../compiler/codes.js';
import { MAX_VERIFY_REGIONS, type SourceDecision } from '../../import/verify.js';
import { formatPacket } from '../../packet/describe.js';

/** Text lines, for stderr, and whether the proof holds; `source` names the dump (two, merged: "a and b"), `file` the first. */
export function verifyLines(report: VerifyReport, file: string, source = file): { ok: boolean; lines: string[] } {
  const { outcome, policyFile } = report;
  const took = `${Math.round(report.milliseconds)} ms`;
  switch (outcome.kind) {
    case 'equivalent':
      return {
        ok: true,
        lines: [
          `${source}: verified: ${policyFile} decides every packet as ${source} ${source === file ? 'does' : 'do'} on ${plural('interface', outcome.interfaces)} (${outcome.regions.toLocaleString('en-US')} regions, ${took})`,
        ],
      };
    case 'counterexample':
      return {
        ok: false,
        lines: [
          `${source}: ${policyFile} decides otherwise than ${source} on interface '${outcome.iface}': ${formatPacket(outcome.packet)}`,
          `  ${source}: ${sourceText(outcome.source, file)}`,
          `  ${policyFile}: ${outcome.policy.verdict}, by ${outcome.policy.rule ? `rule '${outcome.policy.rule.text}' at ${location(outcome.policy.rule.span)}` : 'the default'}`,
          ...outcome.assumed.map(
            (a) => `  when the limit or set of ${file}:${a.line} (${a.text}) ${a.holds ? 'holds' : 'does not hold'} for it`,
          ),
        ],
      };
    case 'too-large':
      return {
        ok: false,
        lines: [
          `${source}: not verified: on interface '${outcome.iface}' the proof cuts the header space into more than ${MAX_VERIFY_REGIONS.toLocaleString('en-US')} regions`,
        ],
      };
    case 'unsupported':
      return {
        ok: false,
        lines: [`${source}: not verified: on interface '${outcome.iface}', ${outcome.reason}`],
      };
  }
}

/** The JSON form of the outcome, for `import --json`. */
export function verifyJson(report: VerifyReport): Record<string, unknown> {
  const { outcome } = report;
  const base = { result: outcome.kind, policy: report.policyFile, milliseconds: Math.round(report.milliseconds) };
  if (outcome.kind !== 'counterexample') {
    const { kind: _kind, ...rest } = outcome;
    return { ...base, ...rest };
  }
  const rule = outcome.policy.rule;
  return {
    ...base,
    iface: outcome.iface,
    packet: formatPacket(outcome.packet),
    source: { verdict: outcome.source.verdict, rules: outcome.source.path, ...(outcome.source.unjudged ? { unjudged: true } : {}) },
    translation: { verdict: outcome.policy.verdict, ...(rule ? { rule: rule.text, at: location(rule.span) } : { default: true }) },
    assumed: outcome.assumed,
  };
}

function sourceText(decision: SourceDecision, file: string): string {
  if (decision.unjudged) return `${decision.verdict}: its rules never see this family`;
  if (decision.path.length === 0) return `${decision.verdict}, by the policy of chain ${decision.policyOf}`;
  const rules = decision.path.map((cite) => `${cite.file ?? file}:${cite.line}: ${cite.text.trim()}`);
  return `${decision.verdict}, by ${rules.join(' > ')}`;
}

function plural(word: string, names: string[]): string {
  return `${word}${names.length === 1 ? '' : 's'} ${names.map((n) => `'${n}'`).join(', ')}`;
}
