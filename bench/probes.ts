/**
 * Probe builds of the data plane, for bench:ab: each is bpf/ with a few
 * lines put into one of its headers, mostly into the IPv4 address-table
 * lookup (table_class4, bpf/lib/addr_table.h) after the /16 table has
 * answered XDPFW_DEEPER, to time one part of the rest of that lookup. Their
 * verdicts are wrong; only time counts. Each is built by bpf/Makefile in a
 * copy of bpf/, so with the product's compiler and flags. Prints the
 * objects' paths, so that
 *
 *   npm run bench:ab -- --rounds 12 $(npx tsx bench/probes.ts as-built no-bitmap bitmap-line)
 *
 * times them against each other.
 * `npm run bench:selftest` checks that every probe still finds its place.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './lib/sh.js';

export const BPF_DIR = fileURLToPath(new URL('../bpf/', import.meta.url));
/**
 * Statements a probe goes before, each in its file of bpf/: in table_class4,
 * the bitmap read (`cls` is the /16's class, `addr` the address) or, for
 * probes marked `record`, the record read (`at` is the marked bucket's
 * rank); in parse_ipv4, the copy of the destination (`ip` is the header);
 * in first_rule, the word loop (`summary` holds the words left).
 */
export const ANCHORS = {
  bitmap: { file: 'lib/addr_table.h', statement: '\tat = bucket_rank(bkt, rank, addr >> 8);\n' },
  record: { file: 'lib/addr_table.h', statement: '\ti = at / XDPFW_BUCKET4_ROW;\n' },
  parse4: { file: 'lib/parse.h', statement: '\tif (field_on(XDPFW_FIELD_DST))\n\t\tcopy_addr4(&a->dst' },
  words: { file: 'lib/classify.h', statement: '\tfor (i = 0; i < XDPFW_MAX_WORDS; i++) {\n\t\t__u64 acc;\n' },
};

/** Reads the address's bitmap word from row `row` (64-byte rows), then `body`. */
const bitmapRead = (row: string, body: string) => `\t{
\t\t__u32 bucket = addr >> 8, row = ${row};
\t\tconst struct xdpfw_bucket_row *r = bpf_map_lookup_elem(bkt, &row);
\t\t__u64 bits;

\t\tif (!r)
\t\t\treturn cls;
\t\tbits = r->bits[(bucket / 64) % XDPFW_BUCKET_ROW_WORDS];
\t\t${body}
\t}
`;
/** For a marked bucket: `index` sets `at`, then the record at `at` answers (no hash probe). */
const bitmapRank = (index: string) =>
  bitmapRead(
    'bucket / 512',
    `if (!((bits >> (bucket % 64)) & 1))
\t\t\treturn cls;
\t\t${index}
\t\ti = at / XDPFW_BUCKET4_ROW;
\t\t{
\t\t\tconst struct xdpfw_bucket4_row *rr = bpf_map_lookup_elem(rec, &i);

\t\t\treturn rr ? rr->rec[at % XDPFW_BUCKET4_ROW].cls : cls;
\t\t}`,
  );
const CONSUME = 'asm volatile("" :: "r"(bits));\n\t\treturn cls;';
/** Bitmap rows of 64 bytes kept within the first `bytes` of the bitmap. */
const confined = (bytes: number) => bitmapRead(`(bucket / 512) & ${bytes / 64 - 1}`, CONSUME);

export const PROBES: Record<string, { about: string; code: string; before?: keyof typeof ANCHORS }> = {
  'as-built': { about: 'the program as built', code: '' },
  'no-bitmap': { about: 'the /16 class, nothing more read', code: '\treturn cls;\n' },
  'bitmap-line': { about: 'the bitmap word read, then the /16 class', code: bitmapRead('bucket / 512', CONSUME) },
  'bitmap-after-class': {
    about: 'as built, with the bitmap line first read at an address made to wait for the /16 class (no overlap of the two misses)',
    code: `\t{
\t\t__u32 z = cls, bucket = addr >> 8, row;
\t\tconst struct xdpfw_bucket_row *r;

\t\tasm volatile("%0 &= 0" : "+r"(z));
\t\trow = bucket / 512 + z;
\t\tr = bpf_map_lookup_elem(bkt, &row);
\t\tif (r)
\t\t\tasm volatile("" :: "r"(r->bits[(bucket / 64) % XDPFW_BUCKET_ROW_WORDS]));
\t}
`,
  },
  'bitmap-16k': { about: 'bitmap-line, rows confined to 16 KiB', code: confined(16 << 10) },
  'bitmap-256k': { about: 'bitmap-line, rows confined to 256 KiB', code: confined(256 << 10) },
  'bitmap-512k': { about: 'bitmap-line, rows confined to 512 KiB', code: confined(512 << 10) },
  'bitmap-1m': { about: 'bitmap-line, rows confined to 1 MiB', code: confined(1 << 20) },
  'bitmap-pages': {
    about: 'bitmap-line, one line on each of 512 pages (TLB reach without the cache footprint)',
    code: bitmapRead('((bucket / 512) & 511) * 64', CONSUME),
  },
  mispredict: {
    about: 'bitmap-line, then a branch on the bucket bit (taken for marked buckets) that reads nothing',
    code: bitmapRead(
      'bucket / 512',
      'if ((bits >> (bucket % 64)) & 1) {\n\t\t\t__u32 t = cls;\n\n\t\t\tasm volatile("%0 += 0" : "+r"(t));\n\t\t\treturn t;\n\t\t}\n\t\treturn cls;',
    ),
  },
  'rank-only': {
    about: "the marked bucket's rank computed (bitmap and rank read), no record",
    code: '\t{\n\t\t__u32 r = bucket_rank(bkt, rank, addr >> 8);\n\n\t\tasm volatile("" :: "r"(r));\n\t\treturn cls;\n\t}\n',
  },
  'no-record': {
    about: 'as built, but a marked bucket whose quick byte does not answer gives the /16 class: no record read',
    code: '\treturn cls;\n',
    before: 'record',
  },
  'records-128k': {
    about: 'as built, with record rows confined to the first 128 KiB of the record array',
    code: '\tat %= 8192;\n',
    before: 'record',
  },
  'records-1m': {
    about: 'as built, with record rows confined to the first 1 MiB of the record array',
    code: '\tat %= 65536;\n',
    before: 'record',
  },
  'records-4m': {
    about: 'as built, with record rows confined to the first 4 MiB of the record array',
    code: '\tat %= 262144;\n',
    before: 'record',
  },
  'early-lines': {
    about: "as built, with the source's /16-table and bitmap lines loaded as soon as the IPv4 header is read",
    code: `\tif (cfg_addr_mode[XDPFW_ADDR_SRC4] == XDPFW_ADDR_TABLE) {
\t\t__u32 s = bpf_ntohl(ip->saddr), row = s >> 17, top = (s >> 16) / XDPFW_CLASS_ROW;
\t\tconst struct xdpfw_bucket_row *r = bpf_map_lookup_elem(&xdpfw_src4_bkt, &row);
\t\tconst struct xdpfw_class_row *l = bpf_map_lookup_elem(&xdpfw_src4_l16, &top);

\t\tif (r)
\t\t\tasm volatile("" :: "r"(r->bits[(s >> 14) & 7]));
\t\tif (l)
\t\t\tasm volatile("" :: "r"(l->cls[(s >> 16) % XDPFW_CLASS_ROW]));
\t}
`,
    before: 'parse4',
  },
  'no-rank': {
    about: "a marked bucket's record read at an index made up from the bitmap row (no rank read), spread like the real ones",
    code: bitmapRank('at = row * 46 + (bucket & 31);'),
  },
  'no-rank-1m5': {
    about: 'no-rank, with record rows confined to 1.5 MiB (as a byte per marked bucket would be)',
    code: bitmapRank('at = (row * 46 + (bucket & 31)) % 98304;'),
  },
  'rank-first': {
    about: 'as built, with the rank row read for every address the bitmap is read for, before the bit is known',
    code: `\t{
\t\t__u32 rank_row = (addr >> 8) / (64 * XDPFW_BUCKET_ROW_WORDS) / XDPFW_CLASS_ROW;
\t\tconst struct xdpfw_class_row *ranks = bpf_map_lookup_elem(rank, &rank_row);

\t\tif (ranks)
\t\t\tasm volatile("" :: "r"(ranks->cls[0]));
\t}
`,
  },
  'table-4m': {
    about: 'one 64-byte line per /16 read from the record array (a 4 MiB table), then the /16 class',
    code: '\t{\n\t\t__u32 top = addr >> 16;\n\t\tconst __u64 *f = bpf_map_lookup_elem(rec, &top);\n\n\t\tif (f)\n\t\t\tasm volatile("" :: "r"(f[0]));\n\t\treturn cls;\n\t}\n',
  },
  'one-word': {
    about: 'the word loop visits only the first word the summaries keep (the rule found there or the default)',
    code: '\tsummary &= -summary;\n',
    before: 'words',
  },
  'no-words': {
    about: 'the summaries read and ANDed, no word visited: every packet takes the default',
    code: '\tasm volatile("" :: "r"(summary));\n\tsummary = 0;\n',
    before: 'words',
  },
  'rare-chain': {
    about: "the full lookup for 1 in 8 of the marked buckets' addresses (~0.55% of the rotation), the /16 class for the rest",
    code: bitmapRead('bucket / 512', 'if (!((bits >> (bucket % 64)) & 1 & (((addr >> 5) & 7) == 0)))\n\t\t\treturn cls;'),
  },
};

function probe(name: string): (typeof PROBES)[string] {
  const p = PROBES[name];
  if (!p) throw new Error(`unknown probe "${name}"; probes: ${Object.keys(PROBES).join(', ')}`);
  return p;
}

/** The file of bpf/ (relative to it) that probe `name` patches. */
export function probeFile(name: string): string {
  return ANCHORS[probe(name).before ?? 'bitmap'].file;
}

/** That file's text (`source`) with probe `name`'s code put before its statement. */
export function probeSource(source: string, name: string): string {
  const p = probe(name);
  const { file, statement } = ANCHORS[p.before ?? 'bitmap'];
  if (source.split(statement).length !== 2) throw new Error(`bench/probes.ts: "${statement.trim()}" is not once in ${file}`);
  return source.replace(statement, p.code + statement);
}

/**
 * Builds the named probes into `dir` (default: $TMPDIR/xdpfw-probes), each
 * by bpf/Makefile in a patched copy of bpf/; returns the objects' paths.
 */
export function buildProbes(names: string[], dir = path.join(os.tmpdir(), 'xdpfw-probes')): string[] {
  fs.mkdirSync(dir, { recursive: true });
  return names.map((name) => {
    const file = probeFile(name);
    const copy = path.join(dir, `${name}.src`);
    const object = path.join(dir, `${name}.o`);
    fs.rmSync(copy, { recursive: true, force: true });
    fs.cpSync(BPF_DIR, copy, { recursive: true, filter: (from) => !from.endsWith('.o') });
    try {
      const patched = path.join(copy, file);
      fs.writeFileSync(patched, probeSource(fs.readFileSync(patched, 'utf8'), name));
      run('make', ['-s', '-C', copy]);
      fs.renameSync(path.join(copy, 'xdpfw.bpf.o'), object);
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }
    return object;
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const names = process.argv.slice(2);
  if (names.length === 0) {
    for (const [name, p] of Object.entries(PROBES)) process.stderr.write(`${name.padEnd(14)} ${p.about}\n`);
    process.exit(2);
  }
  try {
    console.log(buildProbes(names).join(' '));
  } catch (err) {
    process.stderr.write(`probes: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
