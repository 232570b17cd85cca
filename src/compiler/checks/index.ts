/**
 * The compiler's checks, in the order they run. AST checks find errors (and
 * a few warnings) in what was written; IR checks warn about what the checked
 * policy means. Each returns every finding of its concern; the stage fails
 * once at its end, so the user sees all errors at once.
 */
import type { Check, IrCheck } from '../context.js';
import { checkBans } from './ban.js';
import { checkBansWithinRate } from './ban-within-rate.js';
import { checkConflictingProtocols } from './conflicting-protocols.js';
import { checkConntrackOptions } from './conntrack-options.js';
import { checkCtStateDuplicates } from './ct-state-duplicate.js';
import { checkCtStateNames } from './ct-state-unknown.js';
import { checkDefineCycles } from './define-cycle.js';
import { checkDefineTypes } from './define-type.js';
import { checkDuplicateConntrack, checkDuplicateLimits } from './duplicate-block.js';
import { checkDuplicateDefaults } from './duplicate-default.js';
import { checkDuplicateDefines } from './duplicate-define.js';

import { checkDuplicateInterfaces } from './duplicate-interface.js';
import { checkDuplicateMatches } from './duplicate-match.js';
import { checkDuplicateRuleNames } from './duplicate-rule-name.js';
import { checkDuplicateSets } from './duplicate-set.js';
import { checkDynamicSetsAlone } from './dynamic-set-alone.js';
import { checkDynamicSetEntries } from './dynamic-set-entries.js';
import { checkDynamicSetOptions } from './dynamic-set-options.js';
import { checkEmptySets } from './empty-set.js';
import { checkExpansionLimits } from './expansion-limit.js';
import { checkFamilies } from './family-mismatch.js';
import { checkIcmpTypes } from './icmp-type-unknown.js';
import { checkAddresses } from './invalid-address.js';
import { checkLimitPer } from './limit-per.js';
import { checkLockout } from './lockout.js';
import { checkLimitRates } from './limit-rate.js';
import { checkLimitsOptions } from './limits-options.js';
import { checkPorts } from './invalid-port.js';
import { checkProtocolNumbers } from './invalid-protocol.js';
import { checkNeighbourDiscovery } from './nd-dropped.js';
import { checkReturnTraffic } from './no-return-traffic.js';
import { checkNoInterfaces, checkNoRules } from './no-rules.js';
import { checkPortProtocols } from './port-without-protocol.js';
import { checkShadowedRules } from './shadowed-rule.js';
import { checkTcpFlagMasks } from './tcp-flags-mask.js';
import { checkTcpFlagNames } from './tcp-flags-unknown.js';
import { checkRuleCount } from './too-many-rules.js';
import { checkTailCounts } from './too-many-tails.js';
import { checkUnknownDefines } from './unknown-define.js';
import { checkUnknownSets } from './unknown-set.js';
import { checkUnprotectableMatches } from './unprotectable-match.js';

export const AST_CHECKS: readonly Check[] = [
  checkDuplicateSets,
  checkDuplicateDefines,
  checkDuplicateInterfaces,
  checkUnknownSets,
  checkUnknownDefines,
  checkDefineCycles,
  checkExpansionLimits,
  checkDefineTypes,
  checkAddresses,
  checkEmptySets,
  checkPorts,
  checkProtocolNumbers,
  checkConflictingProtocols,
  checkDuplicateMatches,
  checkPortProtocols,
  checkTcpFlagNames,
  checkTcpFlagMasks,
  checkIcmpTypes,
  checkCtStateNames,
  checkCtStateDuplicates,
  checkFamilies,
  checkDuplicateRuleNames,
  checkDuplicateDefaults,
  checkRuleCount,
  checkNoRules,
  checkNoInterfaces,
  checkDuplicateConntrack,
  checkConntrackOptions,
  checkDynamicSetEntries,
  checkDynamicSetOptions,
  checkDynamicSetsAlone,
  checkLimitRates,
  checkLimitPer,
  checkBans,
  checkBansWithinRate,
  checkTailCounts,
  checkDuplicateLimits,
  checkLimitsOptions,
  checkUnprotectableMatches,
];

export const IR_CHECKS: readonly IrCheck[] = [checkShadowedRules, checkNeighbourDiscovery, checkReturnTraffic, checkLockout];
