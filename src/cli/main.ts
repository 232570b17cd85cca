import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ExitCode } from '../app/exit-codes.js';
import type { CliIo } from './io.js';
import { diagnosticJson, err, json } from './io.js';
import { UserError } from '../app/user-error.js';
import { splitBulkPrefixes } from './bulk-prefixes.js';

/** The version in package.json (two directories up from src/cli and from dist/cli). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

const modeOption = () => new Option('--mode <mode>', 'XDP attach mode').choices(['native', 'generic', 'auto']).default('auto');
const collect = (value: string, previous: string[] = []) => [...previous, value];
const waitOption = () =>
  new Option('--wait <seconds>', 'how long to wait while another xdpfw command or the daemon changes the interfaces').default('30');

/**
 * Runs one xdpfw command line; returns the exit code (docs/cli.md, "Exit codes").
 * Each command's module is imported when it runs: `check` and `compile`
 * then never load libbpf, the metrics or the controller (~150 ms at start).
 */
/**
 * A reader that closes early (`xdpfw compile FILE | head -1`) is not an
 * error: like other Unix tools xdpfw stops quietly, exiting 0, instead of
 * printing EPIPE's stack. Any other write error is still a bug.
 */
export function exitQuietlyOnEpipe(stream: NodeJS.EventEmitter, exit: (code: number) => void): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') exit(ExitCode.ok);
    else throw error;
  });
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  let code: number = ExitCode.ok;
  const bulk = splitBulkPrefixes(argv);
  const run = (action: () => number | Promise<number>) => async () => {
    code = await action();
  };
  const program = new Command('xdpfw')
    .description('XDP edge firewall: declarative policy, compiled to eBPF maps, enforced at the driver')
    .version(packageVersion(), '-V, --version', 'the xdpfw version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError();

  program
    .command('check')
    .description('parse and validate policy files; exit 1 with located errors')
    .argument('<files...>')
    .option('--json', 'machine-readable output')
    .action((files: string[], opts) => run(async () => (await import('./commands/check.js')).checkCommand(files, opts, io))());

  const importCommand = program.command('import').description("translate another firewall's rules into an xdpfw policy");
  importCommand
    .command('iptables')
    .description("translate iptables-save output (the filter table's INPUT chain and the chains it reaches)")
    .argument('<file>')
    .option('-o, --output <file>', 'write the policy here (default: stdout)')
    .option('--iface <name>', 'an interface block to write (repeatable; default: those the rules name with -i)', collect)
    .option('--chain <name>', 'the chain whose decisions the policy takes', 'INPUT')
    .option('--ip6 <file>', 'ip6tables-save output to merge into the same policy (rules both dumps share are written once)')
    .option('--ipset <file>', "the sets -m set names, as 'ipset save' writes them")
    .option('--partial', 'write the policy even when rules cannot be translated, listing them at its top')
    .option('--verify [policy]', 'prove that the translation (or the policy file given) decides every packet as the dump does')
    .option('--json', 'machine-readable output')
    .action((file: string, opts) => run(async () => (await import('./commands/import.js')).importIptablesCommand(file, opts, io))());
  importCommand
    .command('nft')
    .description(
      "translate an nftables ruleset: the input hook's filter chain and the chains it reaches ('nft -j list ruleset' output, or text)",
    )
    .argument('<file>')
    .option('-o, --output <file>', 'write the policy here (default: stdout)')
    .option('--iface <name>', 'an interface block to write (repeatable; default: those the rules name with iifname)', collect)
    .option('--partial', 'write the policy even when rules cannot be translated, listing them at its top')
    .option('--verify [policy]', 'prove that the translation (or the policy file given) decides every packet as the ruleset does')
    .option('--json', 'machine-readable output')
    .action((file: string, opts) => run(async () => (await import('./commands/import.js')).importNftCommand(file, opts, io))());

  program
    .command('compile')
    .description('show what a policy compiles to: rules, classes, map entries')
    .argument('<file>')
    .option('--iface <name>', 'only this interface block (repeatable)', collect)
    .option('--json', 'machine-readable output')
    .action((file: string, opts) => run(async () => (await import('./commands/compile.js')).compileCommand(file, opts, io))());

  program
    .command('apply')
    .description('attach a policy to its interfaces, or atomically replace the one in force')
    .argument('<file>')
    .option('--iface <name>', 'only this interface block (repeatable)', collect)
    .addOption(modeOption())
    .addOption(waitOption())
    .option('--force', 'apply even where a running xdpfw run manages the interface, or where it would cut this SSH session')
    .option('--confirm <duration>', 'roll back to the policies in force before unless `xdpfw confirm` runs within it (30s, 10m, 1h)')
    .option('--json', 'machine-readable output')
    .action((file: string, opts) => run(async () => (await import('./commands/apply.js')).applyCommand(file, opts, io))());

  program
    .command('confirm')
    .description('keep the policy of a pending `apply --confirm`: cancel its rollback')
    .addOption(waitOption())
    .option('--json', 'machine-readable output')
    .action((opts) => run(async () => (await import('./commands/confirm.js')).confirmCommand(opts, io))());

  program
    .command('rollback-timer', { hidden: true })
    .argument('<token>')
    .action((token: string) => run(async () => (await import('./commands/confirm.js')).rollbackTimerCommand(token))());

  program
    .command('detach')
    .description('remove xdpfw from interfaces of this network namespace')
    .option('--iface <name>', 'only this interface (repeatable)', collect)
    .addOption(waitOption())
    .option('--force', 'detach even where a running xdpfw run manages the interface')
    .option('--json', 'machine-readable output')
    .action((opts) => run(async () => (await import('./commands/detach.js')).detachCommand(opts, io))());

  program
    .command('gc')
    .description('free the pins and state of network namespaces and interfaces that no longer exist')
    .addOption(waitOption())
    .option('--json', 'machine-readable output')
    .action((opts) => run(async () => (await import('./commands/gc.js')).gcCommand(opts, io))());

  program
    .command('ct')
    .description('the connection table of ct state policies')
    .command('list')
    .description('live connections, local endpoint first, like conntrack -L')
    .option('--iface <name>', "only entries this interface's egress created (repeatable)", collect)
    .option('--json', 'machine-readable output')
    .action((opts) => run(async () => (await import('./commands/ct.js')).ctListCommand(opts, io))());

  const set = program
    .command('set')
    .description('the live entries of dynamic sets: list, add, delete, flush (the next packet sees the change)');
  set
    .command('list')
    .description('live entries: prefix, time left, and the rule (or `set add`) that added each')
    .argument('<name>')
    .option('--json', 'machine-readable output')
    .action((name: string, opts) => run(async () => (await import('./commands/set.js')).setListCommand(name, opts, io))());
  set
    .command('add')
    .description("add (or renew) addresses or prefixes, for --timeout or the set's declared timeout")
    .argument('<name>')
    .argument('<prefixes...>')
    .option('--timeout <duration>', "how long the entries last: 30s, 10m, 6h, 2d (default: the set's timeout)")
    .option('--json', 'machine-readable output')
    .action((name: string, prefixes: string[], opts) =>
      run(async () => (await import('./commands/set.js')).setAddCommand(name, [...prefixes, ...bulk.prefixes], opts, io))(),
    );
  set
    .command('del')
    .description('delete exactly these addresses or prefixes')
    .argument('<name>')
    .argument('<prefixes...>')
    .option('--json', 'machine-readable output')
    .action((name: string, prefixes: string[], opts) =>
      run(async () => (await import('./commands/set.js')).setDelCommand(name, [...prefixes, ...bulk.prefixes], opts, io))(),
    );
  set
    .command('flush')
    .description('delete every entry')
    .argument('<name>')
    .option('--json', 'machine-readable output')
    .action((name: string, opts) => run(async () => (await import('./commands/set.js')).setFlushCommand(name, opts, io))());

  program
    .command('status')
    .description('what is attached where: policy hash, mode, program, since when')
    .option('--json', 'machine-readable output')
    .action((opts) => run(async () => (await import('./commands/status.js')).statusCommand(opts, io))());

  program
    .command('stats')
    .description('per-rule packets and bytes, over-limit packets, dynamic sets, default, malformed, non-IP and fragment counters')
    .option('--iface <name>', 'only this interface (repeatable)', collect)
    .option('--json', 'machine-readable output')
    .option('--watch [seconds]', 'repeat every N seconds (default 1), with rates')
    .action((opts) => run(async () => (await import('./commands/stats.js')).statsCommand(opts, io))());

  program
    .command('trace')
    .description('live decisions of the kernel programs: which rule decided which packet')
    .option('--iface <name>', 'only this interface (repeatable)', collect)
    .option('--rule <name>', "only this rule's decisions, by name, or 'default' (repeatable)", collect)
    .option('--verdict <verdict>', 'only allow, only drop (rejects too), or only audit (not enforced)')
    .option('--src <cidr>', 'only packets from this prefix')
    .option('--dst <cidr>', 'only packets to this prefix')
    .option('--count <n>', 'stop after N decisions')
    .option('--rate <n>', 'decisions a second the kernel sends at most (default 1000)')
    .option('--json', 'one JSON object a line')
    .option('--pcap <file>', 'also write the frames (first 256 bytes) to a pcapng file, the rule in each comment')
    .action((opts) => run(async () => (await import('./commands/trace.js')).traceCommand(opts, io))());

  program
    .command('test')
    .description('judge packets with the real kernel program (BPF_PROG_TEST_RUN)')
    .argument('<file>')
    .option('--packet <text>', 'a packet, e.g. "tcp 198.51.100.1:4242 > 192.0.2.1:22 flags S" (repeatable)', collect)
    .option('--cases <file>', 'a file of lines "PACKET => allow|drop [rule-name]"')
    .option('--iface <name>', 'the interface block to test (default: the first)')
    .option('--json', 'machine-readable output')
    .action((file: string, opts) => run(async () => (await import('./commands/test.js')).testCommand(file, opts, io))());

  program
    .command('run')
    .description('the controller: keep interfaces under a policy file or git branch; reload on change, poll and SIGHUP; serve metrics')
    .option('--config <file>', 'a YAML configuration (several interfaces, each with its source)')
    .option('--node <name>', "with --config: the node whose entry of the file's nodes list names the interfaces (default $XDPFW_NODE)")
    .option('--iface <name>', 'an interface to keep under the policy (repeatable)', collect)
    .option('--policy <file>', 'a policy file, or a directory of *.xdpfw files; reloaded when it changes')
    .option('--git <repo>', 'a git repository (URL or path) holding the policy')
    .option('--branch <name>', 'the branch whose commits are applied (default main)')
    .option('--path <file>', 'the policy file inside the repository (default policy.xdpfw)')
    .option('--poll <seconds>', 'how often to fetch the repository (default 30; SIGHUP fetches at once)')
    .option('--require-signed', 'deploy only commits signed by a key of --allowed-signers or --keyring')
    .option('--allowed-signers <file>', "SSH signers allowed (git's gpg.ssh.allowedSignersFile format)")
    .option('--keyring <file>', 'OpenPGP public keys allowed (gpg --export, binary or armored)')
    .option('--metrics <[host:]port>', 'serve Prometheus /metrics and /healthz there (a port alone: on 127.0.0.1)')
    .option('--web-config <file>', "TLS and basic-auth users for --metrics, in Prometheus exporter-toolkit's web config format")
    .option('--mode <mode>', 'XDP attach mode: native, generic or auto (default auto)')
    .option('--debounce <ms>', 'quiet time after a file change before reloading (default 300)')
    .option('--cache-dir <dir>', 'where git clones are kept (default /var/cache/xdpfw)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (default info)')
    .option('--compile-memory <MiB>', 'the heap a policy compile may use; more and the policy is refused (default 2048)')
    .option('--gc-interval <seconds>', 'how often to free the pins of namespaces and interfaces gone, as xdpfw gc (default 600)')
    .option('--compile-timeout <seconds>', 'how long a policy compile may take; longer and it is refused (default 60)')
    .option('--detach-on-exit', 'detach the policies when stopped (default: they stay in force)')
    .action((opts) => run(async () => (await import('./commands/run.js')).runCommand(opts, io))());

  try {
    await program.parseAsync(bulk.argv);
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    const userError = error instanceof UserError ? error : (await import('../app/kernel-errors.js')).toUserError(error);
    if (userError) {
      err(io, `error[${userError.code}]: ${userError.message}`);
      if (userError.hint) err(io, `  hint: ${userError.hint}`);
      // A script that asked for JSON gets the error as JSON on stdout too.
      if (argv.includes('--json')) json(io, { error: errorJson(userError) });
      return userError.exitCode;
    }
    err(io, `xdpfw: internal error (a bug; please report it with this trace):`);
    const { withSourceLocations } = await import('./source-stack.js');
    err(io, error instanceof Error ? withSourceLocations(error.stack ?? error.message) : String(error));
    return ExitCode.internal;
  }
}

/** `{ code, message, hint, diagnostics }`: a policy's diagnostics as `check --json` prints them, else none. */
function errorJson(error: UserError) {
  return { code: error.code, message: error.message, hint: error.hint ?? null, diagnostics: error.diagnostics.map(diagnosticJson) };
}
