import { readFileSync } from 'node:fs';
import type { CompiledInterface } from '../../compiler/output.js';
import { buildFrame } from '../../packet/build.js';
import { formatPacket, PacketSyntaxError, parsePacket } from '../../packet/describe.js';
import type { PacketSpec } from '../../packet/spec.js';
import { PolicyJudge, type Judgement } from '../../xdp/index.js';
import type { CliIo } from '../io.js';
import { err, json, out } from '../io.js';
import { ExitCode } from '../../app/exit-codes.js';
import { requireRoot } from '../../app/preconditions.js';
import { compileOrThrow, selectInterfaces } from '../../app/policy-loader.js';
import { ruleRef } from '../../compiler/rule-ref.js';
import { UserError } from '../../app/user-error.js';

export interface TestOptions {
  packet?: string[];
  cases?: string;
  iface?: string;
  json?: boolean;
}

interface Case {
  line?: number;
  text: string;
  packet: PacketSpec;
  expect?: { action: 'allow' | 'drop' | 'reject'; rule?: string };
}

interface Outcome extends Case {
  judgement: Judgement;
  rule: string;
  ok: boolean;
}

/**
 * `xdpfw test FILE --packet P` / `--cases FILE`: every packet is judged by
 * the real kernel program in one load (BPF_PROG_TEST_RUN); with --cases,
 * mismatches are listed and the exit code is 1 if there is any.
 */
export async function testCommand(file: string, options: TestOptions, io: CliIo): Promise<number> {
  const cases: Case[] = [
    ...(options.packet ?? []).map((text) => ({ text, packet: parseOrThrow(text, 'packet') })),
    ...(options.cases ? readCases(options.cases) : []),
  ];
  if (cases.length === 0) throw new UserError('usage', 'give --packet "…" or --cases FILE', ExitCode.usage);
  const policy = compileOrThrow(file, (text) => err(io, text));
  const [iface] = selectInterfaces(policy.compiled.interfaces, options.iface ? [options.iface] : undefined, file);
  if (!iface) throw new UserError('no-interface', `${file} has no interface block to test`, ExitCode.policy);
  requireRoot('test');

  // Limits and dynamic sets get private, empty tables, and the clock stands still for the whole run:
  // the packets meet the buckets and sets in order, and a limit lets exactly its burst through.
  const tails = iface.tails.some((t) => t !== null);
  const judge = await PolicyJudge.load(iface, { ctGiven: true, nowGiven: tails });
  if (tails) judge.setNow(process.hrtime.bigint());
  let outcomes: Outcome[];
  try {
    outcomes = cases.map((c) => {
      const judgement = judge.judge(buildFrame(c.packet), c.packet.ctState);
      const rule = ruleLabel(iface, judgement.matched);
      const ok =
        !c.expect || (c.expect.action === judgement.action && (!c.expect.rule || matchesRule(iface, judgement.matched, c.expect.rule)));
      return { ...c, judgement, rule, ok };
    });
  } finally {
    judge.close();
  }
  const failures = outcomes.filter((o) => !o.ok);
  if (options.json) {
    json(io, {
      interface: iface.name,
      cases: outcomes.map((o) => ({
        line: o.line ?? null,
        packet: o.text,
        verdict: o.judgement.action,
        decidedBy: typeof o.judgement.matched === 'number' ? 'rule' : o.judgement.matched,
        rule: typeof o.judgement.matched === 'number' ? ruleRef(iface.rules[o.judgement.matched]) : null,
        fragment: o.judgement.fragment,
        // `mode audit`: the verdict is the policy's, and the packet passed.
        enforced: !o.judgement.wouldDrop,
        audited: o.judgement.audited.map((i) => ruleRef(iface.rules[i])),
        expected: o.expect ? { verdict: o.expect.action, rule: o.expect.rule ?? null } : null,
        ok: o.ok,
      })),
      passed: outcomes.length - failures.length,
      failed: failures.length,
    });
  } else {
    for (const o of outcomes) {
      const where = o.line ? `${options.cases}:${o.line}: ` : '';
      const mark = o.expect ? (o.ok ? 'ok      ' : 'MISMATCH') : '';
      const wanted = o.expect && !o.ok ? `  (expected ${o.expect.action}${o.expect.rule ? ` ${o.expect.rule}` : ''})` : '';
      const audit = [
        ...(o.judgement.wouldDrop ? ['not enforced: mode audit passes it'] : []),
        ...o.judgement.audited.map((i) => `audited by ${ruleLabel(iface, i)}`),
      ];
      const notes = audit.length > 0 ? ` [${audit.join('; ')}]` : '';
      out(io, `${mark ? `${mark} ` : ''}${where}${formatPacket(o.packet)} => ${o.judgement.action} by ${o.rule}${notes}${wanted}`);
    }
    if (options.cases) out(io, `${outcomes.length - failures.length} passed, ${failures.length} failed`);
  }
  return failures.length === 0 ? ExitCode.ok : ExitCode.policy;
}

function ruleLabel(iface: CompiledInterface, matched: Judgement['matched']): string {
  if (typeof matched !== 'number') return matched;
  const rule = iface.rules[matched];
  return `rule ${matched} (${rule.name ? `"${rule.name}"` : rule.text}, ${rule.location})`;
}

function matchesRule(iface: CompiledInterface, matched: Judgement['matched'], expected: string): boolean {
  if (typeof matched !== 'number') return matched === expected;
  const rule = iface.rules[matched];
  return expected === rule.name || expected === rule.id || expected === String(matched);
}

function parseOrThrow(text: string, where: string): PacketSpec {
  try {
    return parsePacket(text);
  } catch (error) {
    if (error instanceof PacketSyntaxError) {
      throw new UserError(
        'packet-syntax',
        `${where}: ${error.message}\n  ${text}\n  ${' '.repeat(Math.max(0, error.column - 1))}^`,
        ExitCode.usage,
      );
    }
    throw error;
  }
}

const CASE_LINE = /^(?<packet>.*?)\s*=>\s*(?<action>allow|drop|reject)(?:\s+(?<rule>\S.*?))?\s*$/;

/** Lines `PACKET => allow|drop|reject [rule-name]`; `#` starts a comment; blank lines are skipped. */
function readCases(path: string): Case[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UserError('cases-not-found', `cannot read ${path}: ${(error as Error).message}`, ExitCode.usage);
  }
  const cases: Case[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const m = CASE_LINE.exec(line);
    if (!m?.groups) {
      throw new UserError(
        'cases-syntax',
        `${path}:${i + 1}: expected 'PACKET => allow|drop|reject [rule-name]', found '${line}'`,
        ExitCode.usage,
      );
    }
    const rule = m.groups.rule?.replace(/^"(.*)"$/, '$1');
    cases.push({
      line: i + 1,
      text: m.groups.packet,
      packet: parseOrThrow(m.groups.packet, `${path}:${i + 1}`),
      expect: { action: m.groups.action as 'allow' | 'drop' | 'reject', rule },
    });
  });
  return cases;
}
