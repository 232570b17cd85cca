import { describe, expect, it } from 'vitest';
import { splitBulkPrefixes } from '../../../src/cli/bulk-prefixes.js';
import { runCli } from '../../support/cli.js';

const argv = (...words: string[]) => ['node', 'xdpfw', ...words];

describe('the IPv4 prefixes of set add and set del bypass commander', () => {
  it('takes out the IPv4 words past the name and the first prefix, in order', () => {
    expect(splitBulkPrefixes(argv('set', 'add', 'banned', '192.0.2.1', '192.0.2.2', '198.51.100.0/24', '10.0.0.0/8'))).toEqual({
      argv: argv('set', 'add', 'banned', '192.0.2.1'),
      prefixes: ['192.0.2.2', '198.51.100.0/24', '10.0.0.0/8'],
    });
    expect(splitBulkPrefixes(argv('set', 'del', 'banned', '192.0.2.1', '192.0.2.2')).prefixes).toEqual(['192.0.2.2']);
  });

  it('leaves commander the options, their values and every word that is not a valid IPv4 prefix', () => {
    const words = argv(
      'set',
      'add',
      '--timeout',
      '1.2.3.4',
      'banned',
      '192.0.2.1',
      '2001:db8::1',
      '192.0.2.2',
      '300.1.1.1',
      '192.0.2.0/33',
      '--json',
    );
    expect(splitBulkPrefixes(words)).toEqual({
      argv: argv('set', 'add', '--timeout', '1.2.3.4', 'banned', '192.0.2.1', '2001:db8::1', '300.1.1.1', '192.0.2.0/33', '--json'),
      prefixes: ['192.0.2.2'],
    });
  });

  it('counts the words after -- as operands, options or not', () => {
    expect(splitBulkPrefixes(argv('set', 'add', '--', '-odd-name', '192.0.2.1', '192.0.2.2'))).toEqual({
      argv: argv('set', 'add', '--', '-odd-name', '192.0.2.1'),
      prefixes: ['192.0.2.2'],
    });
  });

  it('returns any other command line whole', () => {
    for (const words of [argv('set', 'list', 'banned'), argv('set', 'flush', 'banned'), argv('check', '192.0.2.1', '192.0.2.2'), argv()]) {
      expect(splitBulkPrefixes(words)).toEqual({ argv: words, prefixes: [] });
    }
  });

  it('keeps commander usage errors for a command line with many addresses', async () => {
    const many = Array.from({ length: 50 }, (_, i) => `192.0.2.${i}`);
    const unknown = await runCli('set', 'add', 'banned', ...many, '--bogus');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("error: unknown option '--bogus'");
    const missing = await runCli('set', 'del', 'banned');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("error: missing required argument 'prefixes'");
  });
});
