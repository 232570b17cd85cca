/**
 * The Debian package around the single executable, laid out in a staging
 * directory and built by dpkg-deb (docs/packaging.md has the file list).
 * The units are copied from deploy/ as they are at build time.
 *
 * The service is installed, not enabled: a firewall that started on
 * install would enforce the example configuration on eth0 of whatever host
 * installed it, cutting off what that example does not allow.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const MAINTAINER = 'xdpfw maintainers <maintainers@xdpfw.invalid>';

/** Loaded with dlopen by koffi, so no ELF dependency of the executable names it. */
const DLOPENED = ['libbpf1 (>= 1:1.0)'];

const POSTINST = `#!/bin/sh
# Makes systemd see the units; enables nothing (a firewall starts once its
# configuration is the administrator's: systemctl enable --now xdpfw).
set -e
if [ "$1" = configure ] && [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
fi
`;

const PRERM = `#!/bin/sh
# Stops the daemon; its policies stay in force from their pins unless it runs
# with --detach-on-exit (docs/controller.md), as on any stop.
set -e
if [ -d /run/systemd/system ] && { [ "$1" = remove ] || [ "$1" = upgrade ]; }; then
	systemctl stop xdpfw.service >/dev/null 2>&1 || true
fi
`;

const POSTRM = `#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
	systemctl daemon-reload >/dev/null || true
fi
`;

function debianArch(): string {
  return execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
}

/**
 * The executable's library dependencies as dpkg-shlibdeps computes them from
 * its ELF NEEDED entries and the installed packages' symbols files (it wants
 * a debian/control to exist, so it runs in an empty one).
 */
function sharedLibraryDepends(executable: string): string[] {
  const scratch = fs.mkdtempSync(path.join(path.dirname(executable), 'shlibdeps-'));
  try {
    fs.mkdirSync(path.join(scratch, 'debian'));
    fs.writeFileSync(path.join(scratch, 'debian/control'), 'Source: xdpfw\n\nPackage: xdpfw\nArchitecture: any\n');
    const out = execFileSync('dpkg-shlibdeps', ['-O', '-e', executable], {
      cwd: scratch,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const line = out.split('\n').find((l) => l.startsWith('shlibs:Depends='));
    if (!line) throw new Error(`dpkg-shlibdeps printed no shlibs:Depends: ${out}`);
    return line
      .slice('shlibs:Depends='.length)
      .split(',')
      .map((d) => d.trim());
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function put(root: string, file: string, data: Buffer | string, mode: number): void {
  const target = path.join(root, file);
  fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
  fs.writeFileSync(target, data);
  fs.chmodSync(target, mode);
}

function copyright(repo: string): string {
  const license = fs.readFileSync(path.join(repo, 'LICENSE'), 'utf8');
  return [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    'Upstream-Name: xdpfw',
    '',
    'Files: *',
    'Copyright: the xdpfw authors',
    'License: MIT',
    // Continuation lines: each line indented, an empty one written as " .".
    ...license
      .trimEnd()
      .split('\n')
      .map((l) => (l.trim() === '' ? ' .' : ` ${l}`)),
    '',
    'Files: usr/bin/xdpfw',
    'Comment: a Node.js release binary with xdpfw and its npm dependencies (commander,',
    ' ipaddr.js, koffi, pino, prom-client, yaml; each MIT) injected; Node.js and the',
    ' libraries it bundles are under the licenses of /usr/share/doc/xdpfw/NODE-LICENSE.',
    'Copyright: Node.js contributors and others',
    'License: MIT',
    '',
  ].join('\n');
}

function changelog(version: string, date: Date): Buffer {
  const text =
    `xdpfw (${version}) unstable; urgency=medium\n\n` +
    `  * Release ${version}; see /usr/share/doc/xdpfw/CHANGELOG.md.\n\n` +
    ` -- ${MAINTAINER}  ${date.toUTCString().replace('GMT', '+0000')}\n`;
  // -n9: no name or time in the gzip header, so the same input gives the same bytes.
  return zlib.gzipSync(text, { level: 9 });
}

/** Sizes in KiB of the files under `root`, as Installed-Size counts them. */
function installedKib(root: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += Math.ceil(fs.statSync(path.join(entry.parentPath, entry.name)).size / 1024);
  }
  return total;
}

function md5sums(root: string): string {
  const lines: string[] = [];
  for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (!entry.isFile() || path.relative(root, file).startsWith('DEBIAN')) continue;
    lines.push(`${crypto.createHash('md5').update(fs.readFileSync(file)).digest('hex')}  ${path.relative(root, file)}`);
  }
  return lines.sort((a, b) => a.slice(34).localeCompare(b.slice(34))).join('\n') + '\n';
}

/** The last commit's time (the changelog's date, so a rebuild gives the same one); now outside a repository. */
function gitCommitTime(repo: string): number {
  try {
    return Number(
      execFileSync('git', ['log', '-1', '--format=%ct'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}

/** Builds `outDir`/xdpfw_<version>_<arch>.deb around `executable`; its path. */
export function buildDeb(repo: string, executable: string, nodeLicense: string, outDir: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string; description: string };
  const arch = debianArch();
  const root = path.join(outDir, 'build/root');
  fs.rmSync(root, { recursive: true, force: true });
  const from = (file: string) => fs.readFileSync(path.join(repo, file));

  put(root, 'usr/bin/xdpfw', fs.readFileSync(executable), 0o755);
  put(root, 'usr/lib/systemd/system/xdpfw.service', from('deploy/xdpfw.service'), 0o644);
  put(root, 'usr/lib/systemd/system/run-xdpfw-bpffs.mount', from('deploy/run-xdpfw-bpffs.mount'), 0o644);
  put(root, 'etc/xdpfw/run.yaml', from('deploy/run.yaml'), 0o644);
  const doc = 'usr/share/doc/xdpfw';
  put(root, `${doc}/copyright`, copyright(repo), 0o644);
  put(root, `${doc}/changelog.Debian.gz`, changelog(pkg.version, new Date(gitCommitTime(repo) * 1000)), 0o644);
  put(root, `${doc}/README.md`, from('README.md'), 0o644);
  put(root, `${doc}/CHANGELOG.md`, from('CHANGELOG.md'), 0o644);
  for (const page of ['cli.md', 'language.md', 'controller.md', 'packaging.md']) put(root, `${doc}/${page}`, from(`docs/${page}`), 0o644);
  put(root, `${doc}/examples/edge.xdpfw`, from('policies/edge.xdpfw'), 0o644);
  put(root, `${doc}/examples/lists/bogons.txt`, from('policies/lists/bogons.txt'), 0o644);
  put(root, `${doc}/NODE-LICENSE`, nodeLicense, 0o644);

  const depends = [...new Set([...DLOPENED, ...sharedLibraryDepends(executable)])];
  const control = [
    'Package: xdpfw',
    `Version: ${pkg.version}`,
    `Architecture: ${arch}`,
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedKib(root)}`,
    `Depends: ${depends.join(', ')}`,
    'Section: net',
    'Priority: optional',
    `Description: ${pkg.description.split(':')[0]}`,
    ' xdpfw compiles a declarative policy (interfaces, sets, rules) into eBPF maps',
    ' and enforces it with an XDP program, before the kernel allocates an skb.',
    ' The command checks, compiles, tests and applies policies; `xdpfw run` keeps',
    ' interfaces under their policies as a systemd service (installed, not enabled).',
    ' This package holds one executable with its own Node.js runtime inside.',
    '',
  ].join('\n');
  put(root, 'DEBIAN/control', control, 0o644);
  put(root, 'DEBIAN/conffiles', '/etc/xdpfw/run.yaml\n', 0o644);
  put(root, 'DEBIAN/postinst', POSTINST, 0o755);
  put(root, 'DEBIAN/prerm', PRERM, 0o755);
  put(root, 'DEBIAN/postrm', POSTRM, 0o755);
  put(root, 'DEBIAN/md5sums', md5sums(root), 0o644);

  const deb = path.join(outDir, `xdpfw_${pkg.version}_${arch}.deb`);
  execFileSync('dpkg-deb', ['--build', '--root-owner-group', '-Zxz', root, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  return deb;
}
