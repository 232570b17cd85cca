/**
 * The web configuration of the metrics endpoint (`--web-config FILE`), in
 * the format of Prometheus's exporter-toolkit: TLS with an optional client
 * certificate check, response headers, and basic-auth users with bcrypt
 * hashes. Like exporter-toolkit it refuses unknown keys, and the keys of that
 * format that xdpfw does not implement are refused by name rather than
 * ignored: a setting that silently does nothing would look like protection.
 * Relative paths are relative to the file's directory, as exporter-toolkit
 * resolves them.
 */

import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';

export interface TlsServerConfig {
  certFile: string;
  keyFile: string;
  /** Set when clients must present a certificate this CA signed (RequireAndVerifyClientCert). */
  clientCaFile?: string;
  minVersion: tls.SecureVersion;
  maxVersion: tls.SecureVersion;
  /** OpenSSL's names of the TLS 1.2 suites allowed (TLS 1.3's stay Node's defaults, as Go's do). */
  ciphers?: string;
}

export interface WebConfig {
  file: string;
  tls?: TlsServerConfig;
  /** Added to every response. */
  headers: Record<string, string>;
  /** User name → bcrypt hash; empty when no password is asked. */
  users: Map<string, string>;
}

export class WebConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'WebConfigError';
  }
}

const VERSIONS: Record<string, tls.SecureVersion> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const VERSION_ORDER: tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Go's names (crypto/tls.CipherSuites()) of the suites below TLS 1.3, as OpenSSL names them. */
const CIPHER_SUITES: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};

/** The headers exporter-toolkit lets a configuration set, with the values it accepts (none listed: any). */
const HEADERS: Record<string, string[]> = {
  'Strict-Transport-Security': [],
  'X-Content-Type-Options': ['nosniff'],
  'X-Frame-Options': ['deny', 'sameorigin'],
  'X-XSS-Protection': [],
  'Content-Security-Policy': [],
};

/** Keys of exporter-toolkit's format that xdpfw does not implement. */
const NOT_IMPLEMENTED = new Set([
  'rate_limit',
  'tls_server_config.cert',
  'tls_server_config.key',
  'tls_server_config.client_ca',
  'tls_server_config.client_allowed_sans',
  'tls_server_config.prefer_server_cipher_suites',
  'tls_server_config.curve_preferences',
  'http_server_config.http2',
]);

/** `$2a$`, `$2b$` or `$2y$`, a two-digit cost, then 22 characters of salt and 31 of hash. */
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** Reads, checks and loads a web configuration; every problem is reported at once, each with its line. */
export function readWebConfig(file: string): WebConfig {
  const resolved = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(resolved, 'utf8');
  } catch (error) {
    throw new WebConfigError([`cannot read ${file}: ${(error as Error).message}`]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new WebConfigError(doc.errors.map((e) => `${file}:${e.linePos?.[0].line ?? 1}: ${e.message.split('\n')[0]}`));
  }
  const located: { line: number; text: string }[] = [];
  const report = (node: YamlNode | null | undefined, where: string, problem: string) => {
    const line = node?.range ? lines.linePos(node.range[0]).line : undefined;
    located.push({ line: line ?? 0, text: `${file}${line === undefined ? '' : `:${line}`}: ${where}: ${problem}` });
  };

  /** A mapping's entries; the keys not in `known` are reported. */
  const entries = (node: unknown, where: string, known: string[]): Map<string, YamlNode | null> => {
    const found = new Map<string, YamlNode | null>();
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return found;
    if (!isMap(node)) {
      report(node as YamlNode, where, 'expected a mapping');
      return found;
    }
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode;
      const key = String(isScalar(keyNode) ? keyNode.value : keyNode);
      const full = where === '' ? key : `${where}.${key}`;
      if (NOT_IMPLEMENTED.has(full)) report(keyNode, full, 'is not supported by xdpfw');
      else if (!known.includes(key)) report(keyNode, full, `unknown key (known here: ${known.join(', ')})`);
      else found.set(key, pair.value as YamlNode | null);
    }
    return found;
  };
  const text_ = (node: YamlNode | null | undefined, where: string): string | undefined => {
    if (isScalar(node) && typeof node.value === 'string' && node.value !== '') return node.value;
    report(node, where, 'expected a non-empty string');
    return undefined;
  };

  const top = entries(doc.contents, '', ['tls_server_config', 'http_server_config', 'basic_auth_users']);
  const base = path.dirname(resolved);
  const tlsConfig = top.has('tls_server_config')
    ? readTls(top.get('tls_server_config'), base, { report, entries, text: text_ })
    : undefined;

  const headers: Record<string, string> = {};
  const http = entries(top.get('http_server_config'), 'http_server_config', ['headers']);
  for (const [name, value] of entries(http.get('headers'), 'http_server_config.headers', Object.keys(HEADERS))) {
    const where = `http_server_config.headers.${name}`;
    const v = text_(value, where);
    if (v === undefined) continue;
    if (HEADERS[name].length > 0 && !HEADERS[name].includes(v)) report(value, where, `must be ${HEADERS[name].join(' or ')}, not '${v}'`);
    else headers[name] = v;
  }

  const users = new Map<string, string>();
  const usersNode = top.get('basic_auth_users');
  if (usersNode !== undefined && usersNode !== null && !isMap(usersNode)) report(usersNode, 'basic_auth_users', 'expected a mapping');
  for (const pair of isMap(usersNode) ? usersNode.items : []) {
    const user = String(isScalar(pair.key) ? pair.key.value : pair.key);
    const where = `basic_auth_users.${user}`;
    const hash = text_(pair.value as YamlNode | null, where);
    if (hash === undefined) continue;
    const cost = BCRYPT.exec(hash)?.[1];
    if (cost === undefined || Number(cost) < 4 || Number(cost) > 31) {
      report(pair.value as YamlNode, where, 'is not a bcrypt hash ($2y$10$ and 53 characters; htpasswd -nBC 10 "" makes one)');
    } else users.set(user, hash);
  }

  const problems = located.sort((a, b) => a.line - b.line).map((p) => p.text);
  if (problems.length === 0 && tlsConfig) problems.push(...tlsFileProblems(file, tlsConfig));
  if (problems.length > 0) throw new WebConfigError(problems);
  return { file: resolved, tls: tlsConfig, headers, users };
}

interface Reader {
  report(node: YamlNode | null | undefined, where: string, problem: string): void;
  entries(node: unknown, where: string, known: string[]): Map<string, YamlNode | null>;
  text(node: YamlNode | null | undefined, where: string): string | undefined;
}

function readTls(node: YamlNode | null | undefined, base: string, r: Reader): TlsServerConfig | undefined {
  const where = 'tls_server_config';
  const keys = ['cert_file', 'key_file', 'client_auth_type', 'client_ca_file', 'min_version', 'max_version', 'cipher_suites'];
  const e = r.entries(node, where, keys);
  const file = (key: string) => {
    if (!e.has(key)) return undefined;
    const value = r.text(e.get(key), `${where}.${key}`);
    return value === undefined ? undefined : path.resolve(base, value);
  };
  const certFile = file('cert_file');
  const keyFile = file('key_file');
  if (!e.has('cert_file') || !e.has('key_file')) r.report(node, where, 'needs both cert_file and key_file');
  const version = (key: string, fallback: tls.SecureVersion): tls.SecureVersion => {
    if (!e.has(key)) return fallback;
    const name = r.text(e.get(key), `${where}.${key}`);
    if (name !== undefined && VERSIONS[name] === undefined) {
      r.report(e.get(key), `${where}.${key}`, `'${name}' is not one of ${Object.keys(VERSIONS).join(', ')}`);
    }
    return VERSIONS[name ?? ''] ?? fallback;
  };
  const minVersion = version('min_version', 'TLSv1.2');
  const maxVersion = version('max_version', 'TLSv1.3');
  if (VERSION_ORDER.indexOf(minVersion) > VERSION_ORDER.indexOf(maxVersion)) {
    r.report(e.get('max_version'), `${where}.max_version`, 'is below min_version');
  }
  const auth = e.has('client_auth_type') ? r.text(e.get('client_auth_type'), `${where}.client_auth_type`) : 'NoClientCert';
  if (auth !== undefined && auth !== 'NoClientCert' && auth !== 'RequireAndVerifyClientCert') {
    r.report(
      e.get('client_auth_type'),
      `${where}.client_auth_type`,
      `'${auth}' is not supported by xdpfw (NoClientCert or RequireAndVerifyClientCert)`,
    );
  }
  const clientCaFile = file('client_ca_file');
  if (auth === 'RequireAndVerifyClientCert' && !e.has('client_ca_file')) {
    r.report(e.get('client_auth_type'), `${where}.client_auth_type`, 'RequireAndVerifyClientCert needs client_ca_file');
  }
  if (auth === 'NoClientCert' && e.has('client_ca_file')) {
    r.report(e.get('client_ca_file'), `${where}.client_ca_file`, 'is set without client_auth_type: RequireAndVerifyClientCert');
  }
  let ciphers: string | undefined;
  const suites = e.get('cipher_suites');
  if (e.has('cipher_suites')) {
    if (!isSeq(suites)) r.report(suites, `${where}.cipher_suites`, 'expected a list');
    const names: string[] = [];
    for (const item of isSeq(suites) ? (suites.items as YamlNode[]) : []) {
      const name = r.text(item, `${where}.cipher_suites`);
      if (name === undefined) continue;
      if (CIPHER_SUITES[name] === undefined) {
        r.report(
          item,
          `${where}.cipher_suites`,
          `'${name}' is not a TLS 1.2 cipher suite Go allows (${Object.keys(CIPHER_SUITES).join(', ')})`,
        );
      } else names.push(CIPHER_SUITES[name]);
    }
    ciphers = names.join(':');
  }
  if (certFile === undefined || keyFile === undefined) return undefined;
  return {
    certFile,
    keyFile,
    clientCaFile: auth === 'RequireAndVerifyClientCert' ? clientCaFile : undefined,
    minVersion,
    maxVersion,
    ciphers,
  };
}

/** The options of a TLS server (or of its secure context), read from the files now. */
export function tlsServerOptions(c: TlsServerConfig): tls.TlsOptions {
  const ca = c.clientCaFile === undefined ? undefined : fs.readFileSync(c.clientCaFile);
  return {
    cert: fs.readFileSync(c.certFile),
    key: fs.readFileSync(c.keyFile),
    ca,
    requestCert: ca !== undefined,
    rejectUnauthorized: ca !== undefined,
    minVersion: c.minVersion,
    maxVersion: c.maxVersion,
    ...(c.ciphers ? { ciphers: c.ciphers } : {}),
  };
}

/** Whether the files can be read and the key is the certificate's, said the way a user can act on. */
function tlsFileProblems(file: string, c: TlsServerConfig): string[] {
  const problems: string[] = [];
  for (const [key, p] of [
    ['cert_file', c.certFile],
    ['key_file', c.keyFile],
    ['client_ca_file', c.clientCaFile],
  ] as const) {
    if (p === undefined) continue;
    try {
      fs.accessSync(p, fs.constants.R_OK);
    } catch (error) {
      problems.push(
        `${file}: tls_server_config.${key}: cannot read ${p}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    }
  }
  if (problems.length > 0) return problems;
  try {
    tls.createSecureContext(tlsServerOptions(c));
  } catch (error) {
    const reason = (error as Error).message.replace(/^error:[0-9A-Fa-f]+:/, '');
    problems.push(`${file}: tls_server_config: the certificate (${c.certFile}) and key (${c.keyFile}) cannot be used together: ${reason}`);
  }
  return problems;
}
