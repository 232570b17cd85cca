/**
 * A reader that closes early (`xdpfw compile FILE | head -1`): xdpfw stops
 * quietly with exit 0, as other Unix tools do, instead of printing EPIPE's
 * stack. A real pipe, so it needs the build (dist/), as wrapper.test.ts does.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scratchDir } from '../../support/scratch.js';

const ENTRY = resolve(import.meta.dirname, '../../../bin/xdpfw.js');
const dir = scratchDir('xdpfw-epipe-');

describe('xdpfw writing into a pipe its reader closed', () => {
  it('exits 0 without a stack trace when the reader closes after the first chunk', async () => {
    // Far more output than a pipe buffers (64 KiB), so writes go on after the reader is gone.
    const rules = Array.from({ length: 2000 }, (_, i) => `  drop tcp dport ${i + 1} src 10.${i >> 8}.${i & 255}.0/24`).join('\n');
    const file = join(dir, 'big.xdpfw');
    writeFileSync(file, `interface eth9 {\n${rules}\n}\n`);
    const child = spawn(process.execPath, [ENTRY, 'compile', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((done) => child.on('close', (status) => done(status)));
    expect(stderr).not.toMatch(/EPIPE|Error|at /);
    expect(code).toBe(0);
  }, 30_000);
});
