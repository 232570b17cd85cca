/**
 * A text nftables ruleset → the JSON of `nft -j list ruleset`, by loading it
 * with nft into a new, empty network namespace and listing it there: the
 * host's own rules are never read or touched. Without root, the namespace
 * is made inside a user namespace, where the kernel allows one.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export type NftTextResult = { json: string } | { error: string; line: number; column: number };

/** nft lives in an sbin directory, which a user's PATH may not hold. */
export function findNft(path = process.env.PATH ?? ''): string | undefined {
  for (const dir of [...path.split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin']) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'nft'), constants.X_OK);
      return join(dir, 'nft');
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** `nft`: the binary to run (findNft), undefined when it is not installed. */
export function nftTextToJson(file: string, nft: string | undefined): NftTextResult {
  if (nft === undefined) {
    return {
      error: `not JSON, and 'nft' is not installed to read a text ruleset: give the output of 'nft -j list ruleset' instead`,
      line: 1,
      column: 1,
    };
  }
  const namespace = process.getuid?.() === 0 ? ['--net'] : ['--user', '--map-root-user', '--net'];
  const run = spawnSync('unshare', [...namespace, 'sh', '-c', '"$0" -f "$1" && "$0" -j list ruleset', nft, file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status === 0) return { json: run.stdout };
  const stderr = (run.error?.message ?? run.stderr).trim();
  // nft locates its errors as FILE:LINE:FROM-TO: Error: …
  const located = /:(\d+):(\d+)(?:-\d+)?: Error: (.*)/.exec(stderr);
  if (located) return { error: `nft refused the ruleset: ${located[3]}`, line: Number(located[1]), column: Number(located[2]) };
  const first = stderr.split('\n')[0] || `exit status ${String(run.status)}`;
  return { error: `nft could not load the ruleset in a new network namespace: ${first}`, line: 1, column: 1 };
}
