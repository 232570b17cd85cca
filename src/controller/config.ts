/**
 * What `xdpfw run` keeps in force, from its command line or a YAML file:
 * interfaces, each under a policy source (a file or directory, or a git
 * repository's branch and path), plus metrics, attach mode and timings.
 * Validation collects every problem and reports them together.
 */

import path from 'node:path';

import { parse as parseYaml } from 'yaml';

import type { AttachMode } from '../xdp/index.js';
import type { SignatureRequirement } from './sources/commit-signature.js';

export type SourceConfig =
  | { kind: 'file'; path: string }
  | { kind: 'git'; repo: string; branch: string; path: string; pollSeconds: number; requireSigned?: SignatureRequirement };

export interface InterfaceConfig {
  name: string;
  mode: AttachMode;
  source: SourceConfig;
}

export interface ControllerConfig {
  interfaces: InterfaceConfig[];
  metrics?: { host: string; port: number };
  /** The metrics endpoint's web configuration (TLS, users), exporter-toolkit's format: web-config.ts. */
  webConfig?: string;
  detachOnExit: boolean;
  /** A file source waits this long after the last change before reloading. */
  debounceMs: number;
  /** Where git sources keep their clones. */
  cacheDir: string;
  logLevel: string;
  /** First delay before a failed reload is tried again (then doubled, up to 5 min); default 10. */
  retrySeconds?: number;
  /** How often the managed interfaces are looked at for removal and re-creation; default 2. */
  linkPollSeconds?: number;
  /** The heap a policy's compile may use, in MiB (its worker's V8 old generation); default 2048. */
  compileMemoryMb?: number;
  /** How long a policy's compile may take before it is ended and the policy refused; default 60. */
  compileTimeoutSeconds?: number;
  /** How often the pins of namespaces and interfaces that went away are freed (as `xdpfw gc`); default 600. */
  gcSeconds?: number;
}

export const DEFAULTS = {
  mode: 'auto' as AttachMode,
  branch: 'main',
  gitPath: 'policy.xdpfw',
  pollSeconds: 30,
  debounceMs: 300,
  cacheDir: '/var/cache/xdpfw',
  logLevel: 'info',
  retrySeconds: 10,
  linkPollSeconds: 2,
  compileMemoryMb: 2048,
  compileTimeoutSeconds: 60,
  gcSeconds: 600,
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const MODES: AttachMode[] = ['native', 'generic', 'auto'];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'ConfigError';
  }
}

/**
 * `HOST:PORT`, `[V6]:PORT`, or `PORT` / `:PORT` alone for the loopback
 * address 127.0.0.1: the metrics (and /healthz's errors) say which policies
 * and rules guard the host, so serving every address is asked for by name
 * (`0.0.0.0:PORT`, `[::]:PORT`).
 */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^(?:(?:\[([^\]]+)\]|([^:]*)):)?(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? (m[2] || LOOPBACK), port };
}

const LOOPBACK = '127.0.0.1';

/** Seconds as a number or `30s`, `2m`, `500ms`. */
export function parseSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return value > 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return n > 0 ? n : undefined;
}

/** A git repository given as a local path becomes absolute; URLs stay as they are. */
function repoLocation(repo: string, base: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/]+@[^:]+:/.test(repo) ? repo : path.resolve(base, repo);
}

/** The identity of a source: interfaces with equal keys share one watcher or poller. */
export function sourceKey(s: SourceConfig): string {
  if (s.kind === 'file') return `file ${s.path}`;
  const signed = s.requireSigned && ` signed by ${Object.values(s.requireSigned)[0]}`;
  return `git ${s.repo} ${s.branch}:${s.path}${signed ?? ''}`;
}

export interface RunOptions {
  config?: string;
  iface?: string[];
  policy?: string;
  git?: string;
  branch?: string;
  path?: string;
  poll?: string;
  requireSigned?: boolean;
  allowedSigners?: string;
  keyring?: string;
  metrics?: string;
  webConfig?: string;
  mode?: string;
  detachOnExit?: boolean;
  debounce?: string;
  cacheDir?: string;
  logLevel?: string;
  compileMemory?: string;
  compileTimeout?: string;
  gcInterval?: string;
  /** The node whose entry of the file's `nodes` list chooses the interfaces (`--node`, or XDPFW_NODE). */
  node?: string;
}

/** The configuration of a command line without `--config`. */
export function configFromOptions(o: RunOptions, cwd = process.cwd()): ControllerConfig {
  const problems: string[] = [];
  const ifaces = o.iface ?? [];
  if (ifaces.length === 0) problems.push('give at least one --iface (or a --config file)');
  if (o.node !== undefined) problems.push("--node needs --config: it chooses an entry of the file's nodes list");
  if (!o.policy === !o.git) problems.push('give exactly one of --policy FILE and --git REPO');
  for (const [flag, value] of [
    ['--branch', o.branch],
    ['--path', o.path],
    ['--poll', o.poll],
  ] as const) {
    if (value !== undefined && !o.git) problems.push(`${flag} needs --git`);
  }
  if (o.requireSigned && !o.git) problems.push('--require-signed needs --git');
  if (o.requireSigned && !o.allowedSigners === !o.keyring) {
    problems.push('--require-signed needs exactly one of --allowed-signers FILE (SSH) and --keyring FILE (OpenPGP)');
  }
  if (!o.requireSigned && (o.allowedSigners || o.keyring)) problems.push('--allowed-signers and --keyring need --require-signed');
  const raw: Record<string, unknown> = {
    metrics: o.metrics,
    webConfig: o.webConfig,
    mode: o.mode,
    detachOnExit: o.detachOnExit,
    debounceMs: o.debounce === undefined ? undefined : Number(o.debounce),
    cacheDir: o.cacheDir,
    logLevel: o.logLevel,
    compileMemoryMb: o.compileMemory === undefined ? undefined : Number(o.compileMemory),
    compileTimeoutSeconds: o.compileTimeout,
    gcSeconds: o.gcInterval,
    interfaces: ifaces.map((name) => ({
      name,
      policy: o.policy,
      git: o.git,
      branch: o.branch,
      path: o.path,
      poll: o.poll,
      requireSigned: o.requireSigned ? (o.allowedSigners ? { allowedSigners: o.allowedSigners } : { keyring: o.keyring }) : undefined,
    })),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return validateConfig(raw, cwd, 'command line');
}

/**
 * Parses a YAML configuration; relative paths are relative to the file.
 * `node` picks the interfaces of the first `nodes` entry whose glob matches it.
 */
export function configFromYaml(text: string, file: string, node?: string): ControllerConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new ConfigError([`${file}: ${(error as Error).message.split('\n')[0]}`]);
  }
  return validateConfig(raw, path.dirname(path.resolve(file)), file, node);
}

/** Command-line flags given beside --config override the file's top-level settings. */
export function withOverrides(config: ControllerConfig, o: RunOptions): ControllerConfig {
  const out = { ...config };
  if (o.metrics !== undefined) out.metrics = parseListen(o.metrics) ?? fail(`--metrics: '${o.metrics}' is not HOST:PORT`);
  if (o.webConfig !== undefined) out.webConfig = path.resolve(o.webConfig);
  if (out.webConfig !== undefined && !out.metrics) fail('--web-config needs --metrics (or metrics: in the file)');
  if (o.detachOnExit) out.detachOnExit = true;
  if (o.logLevel !== undefined) out.logLevel = o.logLevel;
  if (o.cacheDir !== undefined) out.cacheDir = o.cacheDir;
  if (o.compileMemory !== undefined) {
    out.compileMemoryMb =
      parseMegabytes(o.compileMemory) ?? fail(`--compile-memory: '${o.compileMemory}' is not a number of MiB (16 or more)`);
  }
  if (o.compileTimeout !== undefined) {
    out.compileTimeoutSeconds =
      parseSeconds(o.compileTimeout) ?? fail(`--compile-timeout: '${o.compileTimeout}' is not a positive duration`);
  }
  if (o.gcInterval !== undefined) {
    out.gcSeconds = parseSeconds(o.gcInterval) ?? fail(`--gc-interval: '${o.gcInterval}' is not a positive duration`);
  }
  return out;
}

/** A whole number of MiB, at least 16 (below that a worker cannot even load the compiler). */
function parseMegabytes(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 16 ? n : undefined;
}

function fail(problem: string): never {
  throw new ConfigError([problem]);
}

const KNOWN_TOP = new Set([
  'interfaces',
  'metrics',
  'webConfig',
  'mode',
  'detachOnExit',
  'debounceMs',
  'cacheDir',
  'logLevel',
  'pollSeconds',
  'branch',
  'retrySeconds',
  'linkPollSeconds',
  'compileMemoryMb',
  'compileTimeoutSeconds',
  'gcSeconds',
  'nodes',
]);
const KNOWN_IFACE = new Set(['name', 'policy', 'git', 'branch', 'path', 'poll', 'pollSeconds', 'mode', 'requireSigned']);
const KNOWN_NODE = new Set(['match', 'interfaces']);

/** `requireSigned: { allowedSigners: FILE }` or `{ keyring: FILE }`, the file relative to the configuration. */
function signatureRequirement(value: unknown, base: string, problem: (p: string) => void): SignatureRequirement | undefined {
  if (value === undefined || value === null) return undefined;
  const e = (typeof value === 'object' && !Array.isArray(value) ? value : {}) as Record<string, unknown>;
  const keys = Object.keys(e);
  if (keys.length !== 1 || !['allowedSigners', 'keyring'].includes(keys[0]) || typeof e[keys[0]] !== 'string') {
    problem('requireSigned: give { allowedSigners: FILE } (SSH signatures) or { keyring: FILE } (OpenPGP)');
    return undefined;
  }
  const file = path.resolve(base, e[keys[0]] as string);
  return keys[0] === 'allowedSigners' ? { allowedSigners: file } : { keyring: file };
}

/**
 * A shell glob (`*`, `?`, `[a-z]`, `[!0-9]`) as an anchored regular
 * expression, or undefined when its brackets do not close.
 */
export function globToRegExp(glob: string): RegExp | undefined {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) return undefined;
      const body = glob.slice(i + 1, end);
      const negated = body.startsWith('!');
      out += `[${negated ? '^' : ''}${(negated ? body.slice(1) : body).replace(/[\\^\]]/g, '\\$&')}]`;
      i = end;
    } else out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/**
 * The `nodes` entries as (glob, interfaces, label) with the problems of
 * their shape; every entry's interfaces are checked later, chosen or not,
 * so a mistake for one node shows on all of them.
 */
function nodeEntries(value: unknown, problems: string[], at: (p: string) => string): { match?: RegExp; list: unknown; label: string }[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    problems.push(at('nodes: expected a list of { match: GLOB, interfaces: [...] }'));
    return [];
  }
  const entries: { match?: RegExp; list: unknown; label: string }[] = [];
  for (const [i, item] of value.entries()) {
    const here = `nodes[${i}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      problems.push(at(`${here}: expected a mapping with 'match' and 'interfaces'`));
      continue;
    }
    const e = item as Record<string, unknown>;
    for (const key of Object.keys(e)) if (!KNOWN_NODE.has(key)) problems.push(at(`${here}: unknown setting '${key}'`));
    const match = typeof e.match === 'string' && e.match !== '' ? globToRegExp(e.match) : undefined;
    if (e.match === undefined) problems.push(at(`${here}: match is missing: a glob of node names (*, ?, [a-z])`));
    else if (!match) problems.push(at(`${here}: match must be a glob of node names (*, ?, [a-z]), not '${String(e.match)}'`));
    entries.push({ match, list: e.interfaces, label: `${here}.interfaces` });
  }
  return entries;
}

export function validateConfig(raw: unknown, base: string, where: string, node?: string): ControllerConfig {
  const problems: string[] = [];
  const at = (p: string) => `${where}: ${p}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new ConfigError([at('expected a mapping with an `interfaces` list')]);
  const top = raw as Record<string, unknown>;
  for (const key of Object.keys(top)) if (!KNOWN_TOP.has(key)) problems.push(at(`unknown setting '${key}'`));

  const mode = (value: unknown, what: string): AttachMode => {
    if (value === undefined || value === null) return DEFAULTS.mode;
    if (MODES.includes(value as AttachMode)) return value as AttachMode;
    problems.push(at(`${what}: mode must be native, generic or auto, not '${String(value)}'`));
    return DEFAULTS.mode;
  };
  const defaultMode = mode(top.mode, 'mode');
  const defaultPoll = top.pollSeconds === undefined ? DEFAULTS.pollSeconds : parseSeconds(top.pollSeconds);
  if (defaultPoll === undefined) problems.push(at(`pollSeconds: '${String(top.pollSeconds)}' is not a positive duration`));

  let metrics: ControllerConfig['metrics'];
  if (top.metrics !== undefined && top.metrics !== null) {
    const listen = top.metrics;
    metrics = typeof listen === 'string' || typeof listen === 'number' ? parseListen(String(listen)) : undefined;
    if (!metrics) problems.push(at(`metrics: '${String(top.metrics)}' is not HOST:PORT`));
  }
  const webConfig = top.webConfig === undefined || top.webConfig === null ? undefined : path.resolve(base, String(top.webConfig));
  if (webConfig !== undefined && top.metrics === undefined) problems.push(at('webConfig needs metrics (the address it secures)'));
  const debounceMs = top.debounceMs === undefined ? DEFAULTS.debounceMs : Number(top.debounceMs);
  if (!Number.isFinite(debounceMs) || debounceMs < 0)
    problems.push(at(`debounceMs: '${String(top.debounceMs)}' is not a number of milliseconds`));
  const seconds = (key: 'retrySeconds' | 'linkPollSeconds' | 'compileTimeoutSeconds' | 'gcSeconds'): number => {
    if (top[key] === undefined) return DEFAULTS[key];
    const value = parseSeconds(top[key]);
    if (value === undefined) problems.push(at(`${key}: '${String(top[key])}' is not a positive duration`));
    return value ?? DEFAULTS[key];
  };
  const retrySeconds = seconds('retrySeconds');
  const linkPollSeconds = seconds('linkPollSeconds');
  const compileTimeoutSeconds = seconds('compileTimeoutSeconds');
  const gcSeconds = seconds('gcSeconds');
  let compileMemoryMb = DEFAULTS.compileMemoryMb;
  if (top.compileMemoryMb !== undefined) {
    const mb = parseMegabytes(top.compileMemoryMb);
    if (mb === undefined) problems.push(at(`compileMemoryMb: '${String(top.compileMemoryMb)}' is not a number of MiB (16 or more)`));
    compileMemoryMb = mb ?? compileMemoryMb;
  }
  const logLevel = top.logLevel === undefined ? DEFAULTS.logLevel : String(top.logLevel);
  if (!LOG_LEVELS.includes(logLevel)) problems.push(at(`logLevel must be one of ${LOG_LEVELS.join(', ')}`));

  const nodes = nodeEntries(top.nodes, problems, at);
  const hasTopLevel = top.interfaces !== undefined || nodes.length === 0;
  const lists = [...(hasTopLevel ? [{ list: top.interfaces, label: 'interfaces' }] : []), ...nodes];
  const checked = lists.map(({ list, label }) => interfacesOf(list, label));
  const chosen = node === undefined ? undefined : nodes.findIndex((n) => n.match?.test(node));
  let interfaces: InterfaceConfig[] = [];
  if (chosen !== undefined && chosen >= 0) interfaces = checked[lists.length - nodes.length + chosen];
  else if (hasTopLevel) interfaces = checked[0];
  else if (node === undefined)
    problems.push(at('nodes: give --node NAME (or XDPFW_NODE) to choose an entry; there are no top-level interfaces'));
  else problems.push(at(`node '${node}' matches no entry of nodes, and there are no top-level interfaces`));

  /** One list of interfaces (the top-level one or a node's), each entry checked. */
  function interfacesOf(list: unknown, label: string): InterfaceConfig[] {
    const interfaces: InterfaceConfig[] = [];
    if (!Array.isArray(list) || list.length === 0) problems.push(at(`${label}: a list of at least one interface is needed`));
    const seen = new Set<string>();
    for (const [i, item] of (Array.isArray(list) ? list : []).entries()) {
      const here = `${label}[${i}]`;
      if (typeof item !== 'object' || item === null) {
        problems.push(at(`${here}: expected a mapping`));
        continue;
      }
      const e = item as Record<string, unknown>;
      for (const key of Object.keys(e)) if (!KNOWN_IFACE.has(key)) problems.push(at(`${here}: unknown setting '${key}'`));
      const name = typeof e.name === 'string' ? e.name : '';
      if (!/^[^/\s\0]{1,15}$/.test(name)) problems.push(at(`${here}: name must be an interface name (1-15 characters)`));
      else if (seen.has(name)) problems.push(at(`${here}: interface ${name} is listed twice`));
      seen.add(name);
      const hasPolicy = e.policy !== undefined && e.policy !== null;
      const hasGit = e.git !== undefined && e.git !== null;
      let source: SourceConfig | undefined;
      if (hasPolicy && e.requireSigned !== undefined) problems.push(at(`${here}: requireSigned needs a git source`));
      if (hasPolicy === hasGit) {
        problems.push(at(`${here}: give exactly one of 'policy' (a file or directory) and 'git' (a repository)`));
      } else if (hasPolicy) {
        source = { kind: 'file', path: path.resolve(base, String(e.policy)) };
      } else {
        const pollRaw = e.poll ?? e.pollSeconds;
        const poll = pollRaw === undefined ? defaultPoll : parseSeconds(pollRaw);
        if (poll === undefined) problems.push(at(`${here}: poll: '${String(pollRaw)}' is not a positive duration`));
        const file = String(e.path ?? DEFAULTS.gitPath);
        if (path.posix.isAbsolute(file) || path.posix.normalize(file).startsWith('..')) {
          problems.push(at(`${here}: path must be relative to the repository root, not '${file}'`));
        }
        source = {
          kind: 'git',
          repo: repoLocation(String(e.git), base),
          branch: String(e.branch ?? top.branch ?? DEFAULTS.branch),
          path: path.posix.normalize(file),
          pollSeconds: poll ?? DEFAULTS.pollSeconds,
        };
        const requireSigned = signatureRequirement(e.requireSigned, base, (p) => problems.push(at(`${here}: ${p}`)));
        if (requireSigned) source.requireSigned = requireSigned;
      }
      if (source) interfaces.push({ name, mode: e.mode === undefined ? defaultMode : mode(e.mode, here), source });
    }
    return interfaces;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    interfaces,
    metrics,
    webConfig,
    detachOnExit: top.detachOnExit === true,
    debounceMs,
    cacheDir: top.cacheDir === undefined ? DEFAULTS.cacheDir : path.resolve(base, String(top.cacheDir)),
    logLevel,
    retrySeconds,
    linkPollSeconds,
    compileMemoryMb,
    compileTimeoutSeconds,
    gcSeconds,
  };
}
