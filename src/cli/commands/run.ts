import fs from 'node:fs';

import {
  ConfigError,
  configFromOptions,
  configFromYaml,
  withOverrides,
  type ControllerConfig,
  type RunOptions,
} from '../../controller/config.js';
import { Controller } from '../../controller/controller.js';
import { createLogger, type Logger } from '../../controller/logger.js';
import { WebConfigError, readWebConfig, type WebConfig } from '../../controller/web-config.js';
import { ensureBpffs } from '../../xdp/index.js';
import { ExitCode } from '../../app/exit-codes.js';
import type { CliIo } from '../io.js';
import { refuseIfForeign } from '../../app/ownership.js';
import { requireRoot } from '../../app/preconditions.js';
import { UserError } from '../../app/user-error.js';

function loadConfig(options: RunOptions): ControllerConfig {
  try {
    if (!options.config) return configFromOptions(options);
    const clash = (
      ['iface', 'policy', 'git', 'branch', 'path', 'poll', 'mode', 'debounce', 'requireSigned', 'allowedSigners', 'keyring'] as const
    ).filter((k) => options[k] !== undefined);
    if (clash.length > 0) {
      throw new ConfigError([
        `--config cannot be combined with ${clash.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')}: put them in the file`,
      ]);
    }
    let text: string;
    try {
      text = fs.readFileSync(options.config, 'utf8');
    } catch (error) {
      throw new UserError('config-not-found', `cannot read ${options.config}: ${(error as Error).message}`, ExitCode.usage);
    }
    const node = options.node ?? (process.env.XDPFW_NODE || undefined);
    return withOverrides(configFromYaml(text, options.config, node), options);
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new UserError('config-invalid', error.problems.join('\n  '), ExitCode.usage, 'see docs/controller.md');
    }
    throw error;
  }
}

/** The metrics endpoint's web configuration, checked whole before anything starts. */
function loadWebConfig(file: string | undefined): WebConfig | undefined {
  if (file === undefined) return undefined;
  try {
    return readWebConfig(file);
  } catch (error) {
    if (!(error instanceof WebConfigError)) throw error;
    throw new UserError(
      'web-config-invalid',
      error.problems.join('\n  '),
      ExitCode.usage,
      'see docs/controller.md, "Securing the endpoint"',
    );
  }
}

/** SIGHUP: the web configuration read again and put in force, or refused (logged) with the one in force kept. */
function rereadWebConfig(file: string, controller: Controller, log: Logger): void {
  let next: WebConfig;
  try {
    next = readWebConfig(file);
  } catch (error) {
    const problems = error instanceof WebConfigError ? error.problems : [(error as Error).message];
    log.error({ file, problems }, 'web configuration refused; the one in force stays');
    return;
  }
  const refused = controller.replaceWebConfig(next);
  if (refused) log.error({ file }, `web configuration not put in force: ${refused}; the one in force stays`);
  else log.info({ file, tls: next.tls !== undefined, basicAuth: next.users.size > 0 }, 'web configuration read again');
}

/**
 * `xdpfw run`: the controller daemon. Returns when SIGTERM or SIGINT stops it
 * (exit 0, policies left in force unless --detach-on-exit). SIGHUP reloads.
 * Policy, git, disk and kernel failures are logged and survived; only a bad
 * configuration or a metrics address that cannot be bound stops it at start.
 */
export async function runCommand(options: RunOptions, _io: CliIo): Promise<number> {
  const config = loadConfig(options);
  const web = loadWebConfig(config.webConfig);
  requireRoot('run');
  ensureBpffs(); // bpffs-missing (with the mount command as its hint) before anything starts
  refuseIfForeign(config.interfaces.map((i) => i.name)); // another tool's hook: say so now, not in a retry loop
  const log = createLogger({ level: config.logLevel });
  const controller = new Controller(config, log, { web });

  const onRejection = (reason: unknown) => log.error({ err: reason }, 'unexpected failure (a bug); the controller keeps running');
  process.on('unhandledRejection', onRejection);
  let stop: (signal: string) => void = () => undefined;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  // Signal handlers do not keep Node running, and the sources' timers are unref'd: this does, until a stop signal.
  const keepAlive = setInterval(() => undefined, 1 << 30);
  const onHup = () => {
    if (config.webConfig) rereadWebConfig(config.webConfig, controller, log);
    controller.reloadAll();
  };
  const onTerm = () => stop('SIGTERM');
  const onInt = () => stop('SIGINT');
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  try {
    try {
      await controller.start();
    } catch (error) {
      await controller.stop();
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
        throw new UserError(
          'metrics-listen',
          `cannot serve metrics at ${options.metrics ?? 'the configured address'}: ${code}`,
          ExitCode.system,
        );
      }
      throw error;
    }
    const signal = await stopped;
    log.info({ signal }, 'stopping');
    await controller.stop();
    return ExitCode.ok;
  } finally {
    clearInterval(keepAlive);
    process.off('SIGHUP', onHup);
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('unhandledRejection', onRejection);
    log.flush();
  }
}
