/**
 * `lockout`: an interface would drop a packet that a `protect` matches. The
 * proof (compiler/lockout.ts) is exact; when it fails it names the rule that
 * drops, or the default, and a packet it drops, in `xdpfw test --packet`'s
 * form so the user can replay it.
 */
import { formatPacket } from '../../packet/describe.js';
import type { Diagnostic } from '../../policy/diagnostic.js';
import { diagnostic, location } from '../codes.js';
import type { IrCheck } from '../context.js';
import type { IrInterface, IrProtect } from '../ir.js';
import { MAX_PROOF_REGIONS, proveAllowed, type ProofOutcome } from '../lockout.js';

export const checkLockout: IrCheck = (ir) => {
  const out: Diagnostic[] = [];
  for (const protect of ir.protects) {
    for (const iface of ir.interfaces) {
      const outcome = proveAllowed(iface, protect.traffic);
      if (outcome.kind !== 'proven') out.push(lockoutDiagnostic(protect, iface, outcome));
    }
  }
  return out;
};

function lockoutDiagnostic(protect: IrProtect, iface: IrInterface, outcome: Exclude<ProofOutcome, { kind: 'proven' }>): Diagnostic {
  if (outcome.kind === 'too-large') {
    return diagnostic(
      'lockout',
      protect.span,
      `cannot prove that interface '${iface.name}' allows this traffic: the proof splits it into more than ${MAX_PROOF_REGIONS.toLocaleString('en-US')} parts`,
      'protect less traffic at once (several protects with fewer matches each), or simplify the rules it crosses',
    );
  }
  return diagnostic(
    'lockout',
    protect.span,
    `interface '${iface.name}' drops protected traffic: ${droppedBy(iface, outcome)}: ${formatPacket(outcome.packet)}`,
    outcome.rule
      ? `allow the protected traffic in a rule above ${location(outcome.rule.span)}, or narrow that rule`
      : `allow the protected traffic in a rule of interface '${iface.name}'`,
  );
}

/** Who drops, and where: `rule "ssh-ban" (drop …) at f:3:3, when its dynamic set or limit holds, drops`. */
export function droppedBy(iface: IrInterface, outcome: Extract<ProofOutcome, { kind: 'dropped' }>): string {
  const { rule } = outcome;
  if (!rule) return `'default ${iface.defaultAction}'${iface.defaultSpan ? ` at ${location(iface.defaultSpan)}` : ''} drops`;
  const who = rule.name !== undefined ? `rule "${rule.name}" (${rule.text})` : `rule '${rule.text}'`;
  return `${who} at ${location(rule.span)}${outcome.stateful ? ', when its dynamic set or limit holds,' : ''} drops`;
}
