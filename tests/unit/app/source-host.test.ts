import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSourceHost } from '../../../src/app/source-host.js';
import { runCli } from '../../support/cli.js';
import { scratchDir } from '../../support/scratch.js';

const dir = scratchDir('xdpfw-source-host-');

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
