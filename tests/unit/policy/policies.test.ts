import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy, setEntryCount, setEntryText, type SourceHost } from '../../../src/policy/index.js';

const repo = resolve(import.meta.dirname, '../../..');
const fileHost: SourceHost = {
  readFile: (path) => readFileSync(path, 'utf8'),
  resolve: (from, path) => join(dirname(from), path),
};

describe('policies/edge.xdpfw', () => {
  it('is the example of SPEC §1, the same text as the spec-example golden sample', () => {
    const policy = readFileSync(join(repo, 'policies/edge.xdpfw'), 'utf8');
    expect(policy).toBe(readFileSync(join(import.meta.dirname, 'samples/spec-example/input.xdpfw'), 'utf8'));
    expect(readFileSync(join(repo, 'policies/lists/bogons.txt'), 'utf8')).toBe(
      readFileSync(join(import.meta.dirname, 'samples/spec-example/lists/bogons.txt'), 'utf8'),
    );
  });

  it('loads from disk without a diagnostic', () => {
    const { document, diagnostics } = loadPolicy(join(repo, 'policies/edge.xdpfw'), fileHost);
    expect(diagnostics).toEqual([]);
    expect(document!.items.map((i) => i.kind)).toEqual(['define', 'set', 'set', 'interface']);
  });

  it('blocks the IPv4 bogons and leaves out the documentation prefixes the example allows', () => {
    const { document } = loadPolicy(join(repo, 'policies/edge.xdpfw'), fileHost);
    const bogons = document!.items.find((i) => i.kind === 'set' && i.name.name === 'bogons');
    const file = bogons?.kind === 'set' && bogons.source.kind === 'file' ? bogons.source.entries : null;
    const entries = file ? Array.from({ length: setEntryCount(file) }, (_, i) => setEntryText(file, i)) : [];
    expect(entries).toEqual([
      '0.0.0.0/8',
      '10.0.0.0/8',
      '100.64.0.0/10',
      '127.0.0.0/8',
      '169.254.0.0/16',
      '172.16.0.0/12',
      '192.0.0.0/24',
      '192.168.0.0/16',
      '198.18.0.0/15',
      '224.0.0.0/4',
      '240.0.0.0/4',
    ]);
    for (const documentation of ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24']) expect(entries).not.toContain(documentation);
  });
});
