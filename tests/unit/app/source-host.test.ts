import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSourceHost } from '../../../src/app/source-host.js';
import { FileTooLargeError, SOURCE_LIMITS } from '../../../src/policy/index.js';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';
import { Watchdog } from '../../support/watchdog.js';

const dir = scratchDir('xdpfw-source-host-');
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);
mkdirSync(join(dir, 'lists'));
symlinkSync('/dev/zero', join(dir, 'zero-link'));
// Were a non-regular file read, the read would block (a FIFO without a
// writer) or never end (/dev/zero): the watchdog fails the run instead.
const watchdog = new Watchdog(5_000);
afterAll(() => watchdog.stop());

/** The error FileSourceHost throws for `path`, or 'read' when it reads it. */
function refusal(path: string): string {
  watchdog.enter(`FileSourceHost.readFile('${path}')`);
  try {
    new FileSourceHost().readFile(path);
    return 'read';
  } catch (error) {
    return (error as Error).message;
  } finally {
    watchdog.leave();
  }
}

describe('FileSourceHost', () => {
  it('reads an ASCII file (decoded as Latin-1, kept off the V8 heap) as written, and records it', () => {
    const path = join(dir, 'list.txt');
    const text = '192.0.2.0/24\n# comment\t~!\n2001:db8::/32\n';
    writeFileSync(path, text);
    const host = new FileSourceHost();
    expect(host.readFile(path)).toBe(text);
    expect(host.texts.get(path)).toBe(text);
  });

  it('reads a UTF-8 file with non-ASCII characters as UTF-8', () => {
    const path = join(dir, 'utf8.xdpfw');
    const text = '# café — naïve ✓ 🔥\ninterface eth0 {\n  default allow\n}\n';
    writeFileSync(path, text);
    expect(new FileSourceHost().readFile(path)).toBe(text);
  });

  it('locates an error after a non-ASCII line at the right column', async () => {
    const path = join(dir, 'located.xdpfw');
    writeFileSync(path, '# naïve ✓\ninterface eth0 { drop src 10.0.0.300 }\n');
    const r = await runCli('check', path);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path}:2:27: error[invalid-address]`);
  });
});

describe('FileSourceHost and files that are not regular files', () => {
  it.each([
    ['a directory', join(dir, 'lists'), 'a directory, not a regular file'],
    ['a FIFO no one writes to', fifo, 'a FIFO, not a regular file'],
    ['/dev/null', '/dev/null', 'a character device, not a regular file'],
    ['/dev/zero', '/dev/zero', 'a character device, not a regular file'],
    ['/dev/urandom', '/dev/urandom', 'a character device, not a regular file'],
    ['a symbolic link to /dev/zero', join(dir, 'zero-link'), 'a character device, not a regular file'],
  ])('refuses %s without reading it', (_, path, message) => {
    expect(refusal(path)).toBe(message);
  });

  it('makes an include of a device and a set file that is a FIFO located errors, and check exits 1', async () => {
    const path = join(dir, 'devices.xdpfw');
    writeFileSync(path, `include "/dev/zero"\nset s from "fifo"\ninterface eth0 { drop src @s }\n`);
    watchdog.enter(`xdpfw check ${path}`);
    const r = await runCli('check', path);
    watchdog.leave();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${path}:1:9: error[include-not-found]: cannot read included file '/dev/zero': a character device, not a regular file`,
    );
    expect(r.stderr).toContain(
      `${path}:2:12: error[set-file-not-found]: cannot read set file 'fifo' (${fifo}): a FIFO, not a regular file`,
    );
  });

  it('makes a policy file that is a FIFO a located file-not-found error', async () => {
    watchdog.enter(`xdpfw check ${fifo}`);
    const r = await runCli('check', fifo);
    watchdog.leave();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${fifo}:1:1: error[file-not-found]: cannot read policy file '${fifo}': a FIFO, not a regular file`);
  });
});

describe('FileSourceHost and files over the size limits', () => {
  // Sparse files: their size is what fstat says, and no block is written.
  const sparse = (name: string, bytes: number): string => {
    const path = join(dir, name);
    writeFileSync(path, '');
    truncateSync(path, bytes);
    return path;
  };

  it('refuses a file larger than asked for before reading it', () => {
    const path = sparse('sparse-17m.txt', 17 * 1024 * 1024);
    expect(() => new FileSourceHost().readFile(path, SOURCE_LIMITS.policyFileBytes)).toThrow(FileTooLargeError);
    expect(() => new FileSourceHost().readFile(path, SOURCE_LIMITS.policyFileBytes)).toThrow(
      'the file holds 17 MiB, more than the 16 MiB allowed',
    );
  });

  it('makes a policy over 16 MiB and a set file over 256 MiB located file-too-large errors, and check exits 1', async () => {
    const root = sparse('sparse-root.xdpfw', SOURCE_LIMITS.policyFileBytes + 1);
    let r = await runCli('check', root);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${root}:1:1: error[file-too-large]: '${root}' is too large: the file holds 16,777,217 bytes`);
    const set = sparse('sparse-set.txt', SOURCE_LIMITS.setFileBytes + 1);
    const path = join(dir, 'big-set.xdpfw');
    writeFileSync(path, `set s from "${set}"\ninterface eth0 { drop src @s }\n`);
    watchdog.enter(`xdpfw check ${path}`);
    r = await runCli('check', path);
    watchdog.leave();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${path}:1:12: error[file-too-large]: '${set}' is too large:`);
    expect(r.stderr).toContain('more than the 256 MiB allowed for a set file');
  });
});
