/**
 * Seeded mutations of a fuzz sample (tests/support/fuzz-samples.ts) for the
 * front end's fuzz test: each returns the sample with one kind of damage.
 * Texts are handled as Latin-1 strings, one character a byte, so that any
 * byte survives the round trip to disk.
 */
import { posix } from 'node:path';
import type { FuzzSample } from './fuzz-samples.js';
import type { Random } from './random.js';

/** Paths outside the case directory that some mutations point at. */
export interface FuzzPlaces {
  /** A FIFO no one writes to: opening it for reading blocks. */
  fifo: string;
}

/** What a mutation works on. */
interface Damage {
  /** A copy of the sample, which the mutation changes. */
  sample: FuzzSample;
  /** A file of the sample (the root most often): policy, include or set file. */
  target: string;
  /** A policy file of the sample (the root most often). */
  policy: string;
  random: Random;
  corpus: readonly FuzzSample[];
  places: FuzzPlaces;
  /** Replaces a file's text with `change(text)`. */
  edit(path: string, change: (text: string) => string): void;
}

const MUTATIONS = {
  truncate({ edit, target, random }: Damage) {
    edit(target, (t) => t.slice(0, random.int(0, t.length)));
  },

  /** Bytes cut anywhere from one file into another, or whole lines (one sample's statements in another). */
  splice({ edit, target, random, corpus }: Damage) {
    const donorSample = random.pick(corpus);
    const donor = random.pick([...donorSample.files.values()]).toString('latin1');
    if (random.chance(0.5)) {
      const from = random.int(0, donor.length);
      const slice = donor.slice(from, from + random.int(1, 400));
      edit(target, (t) => {
        const at = random.int(0, t.length);
        return t.slice(0, at) + slice + t.slice(at + random.int(0, 40));
      });
    } else {
      const lines = donor.split('\n');
      const from = random.int(0, lines.length - 1);
      const slice = lines.slice(from, from + random.int(1, 8)).join('\n');
      edit(target, (t) => insertAt(t, pickLineStart(t, random), `${slice}\n`));
    }
  },

  'duplicate-token'({ edit, target, random }: Damage) {
    edit(target, (t) => {
      const token = pickToken(t, random);
      if (!token) return t + t;
      const copies = random.chance(0.2) ? random.int(2, 50) : 1;
      const separator = random.pick(['', ' ', '\n', ', ']);
      const end = token.index + token.text.length;
      return t.slice(0, end) + (separator + token.text).repeat(copies) + t.slice(end);
    });
  },

  'swap-tokens'({ edit, target, random }: Damage) {
    edit(target, (t) => {
      const [first, second] = [pickToken(t, random), pickToken(t, random)].sort((a, b) => (a?.index ?? 0) - (b?.index ?? 0));
      if (!first || !second || first.index === second.index) return t;
      return (
        t.slice(0, first.index) +
        second.text +
        t.slice(first.index + first.text.length, second.index) +
        first.text +
        t.slice(second.index + second.text.length)
      );
    });
  },

  /** Bytes of any value, overwritten or inserted. */
  'random-bytes'({ edit, target, random }: Damage) {
    edit(target, (t) => {
      for (let n = random.int(1, 32); n > 0; n--) {
        const at = random.int(0, t.length);
        const byte = String.fromCharCode(random.int(0, 255));
        t = t.slice(0, at) + byte + t.slice(random.chance(0.5) ? at + 1 : at);
      }
      return t;
    });
  },

  'invalid-utf8'({ edit, target, random }: Damage) {
    edit(target, (t) => {
      for (let n = random.int(1, 4); n > 0; n--) t = insertAt(t, random.int(0, t.length), random.pick(ODD_BYTES));
      return t;
    });
  },

  /** A number of the text replaced by a huge or malformed one, or a statement that has one where a port, protocol or prefix length goes. */
  'huge-number'({ edit, target, policy, random }: Damage) {
    edit(random.chance(0.8) ? policy : target, (t) => {
      const numbers = [...t.matchAll(/\d+/g)];
      if (numbers.length === 0 || random.chance(0.15)) return `${t}\n${random.pick(HUGE_STATEMENTS)(random.pick(HUGE_NUMBERS))}\n`;
      const at = random.pick(numbers);
      return t.slice(0, at.index) + random.pick(HUGE_NUMBERS) + t.slice(at.index + at[0].length);
    });
  },

  /** Thousands of `{`, closed or not, where a list may open and anywhere else. */
  'deep-nesting'({ edit, policy, random }: Damage) {
    edit(policy, (t) => {
      const depth = random.int(1_000, 20_000);
      const open = random.pick(['{', '{ ', '{\n', '{,']).repeat(depth);
      const close = random.chance(0.5) ? '}'.repeat(depth) : '';
      const nest = random.pick([
        () => insertAt(t, pickTokenBoundary(t, random), open + close),
        () => `${t}\ndefine fz = ${open}80${close}\n`,
        () => `${t}\nset fz ${open}10.0.0.1${close}\n`,
        () => `${t}\ninterface fz0 { drop src ${open}10.0.0.1${close} }\n`,
        () => `${t}\n${'interface fz0 {\n'.repeat(depth)}`,
      ]);
      return nest();
    });
  },

  'deep-references'({ edit, policy, random }: Damage) {
    edit(policy, (t) => `${t}\n${referenceChain(random)}`);
  },

  'include-loop'(damage: Damage) {
    includeLoop(damage);
  },

  'include-special'({ edit, policy, random, sample, places }: Damage) {
    const path = quoted(specialPath(sample, posix.dirname(policy), random, places));
    edit(policy, (t) => insertAt(t, random.chance(0.7) ? 0 : pickLineStart(t, random), `include ${path}\n`));
  },

  'set-from-special'({ edit, policy, random, sample, places }: Damage) {
    const path = quoted(specialPath(sample, posix.dirname(policy), random, places));
    const use = random.chance(0.5) ? 'interface fz0 { drop src @fz }\n' : '';
    edit(policy, (t) => insertAt(t, random.chance(0.7) ? 0 : pickLineStart(t, random), `set fz from ${path}\n${use}`));
  },

  'long-line'({ edit, target, random }: Damage) {
    edit(target, (t) => insertAt(t, pickLineStart(t, random), `${longLine(random)}\n`));
  },

  'garbage-1mb'({ sample, target, random }: Damage) {
    sample.files.set(target, garbage(random, 1 << 20));
  },
} satisfies Record<string, (damage: Damage) => void>;

export type MutationKind = keyof typeof MUTATIONS;

export const MUTATION_KINDS = Object.keys(MUTATIONS) as MutationKind[];

export function mutate(
  kind: MutationKind,
  original: FuzzSample,
  corpus: readonly FuzzSample[],
  random: Random,
  places: FuzzPlaces,
): FuzzSample {
  const sample: FuzzSample = { ...original, files: new Map(original.files), symlinks: new Map() };
  const policies = [...sample.files.keys()].filter((path) => path.endsWith('.xdpfw'));
  MUTATIONS[kind]({
    sample,
    target: random.chance(0.7) ? sample.root : random.pick([...sample.files.keys()]),
    policy: random.chance(0.6) ? sample.root : random.pick(policies),
    random,
    corpus,
    places,
    edit: (path, change) => sample.files.set(path, Buffer.from(change(sample.files.get(path)?.toString('latin1') ?? ''), 'latin1')),
  });
  return sample;
}

// ---- pieces ---------------------------------------------------------------------

/** Bytes that are not valid UTF-8, or are but trouble a lexer (NUL, a BOM or CR alone, U+2028). */
const ODD_BYTES = [
  '\xff',
  '\xfe\xff',
  '\xc3', // a lead byte without its continuation
  '\x80\x80', // continuations without a lead
  '\xc0\xaf', // an overlong '/'
  '\xed\xa0\x80', // a UTF-16 surrogate
  '\xf4\x90\x80\x80', // above U+10FFFF
  '\xef\xbb\xbf', // a byte-order mark in the middle
  '\x00',
  '\r',
  '\xe2\x80\xa8',
  '\xf0\x9f\x94\xa5', // valid: an astral character (two UTF-16 units)
];

const HUGE_NUMBERS = [
  '123456789012345678901234567890',
  '99999999999999999999999999999999999999999',
  '9'.repeat(400),
  `${'0'.repeat(60)}80`,
  '1e309',
  '-1',
  '0x50',
  '65536',
  '4294967296',
  '18446744073709551616',
  '1.5',
  'NaN',
  'Infinity',
];

const HUGE_STATEMENTS: ((n: string) => string)[] = [
  (n) => `interface fz0 { allow tcp dport ${n} }`,
  (n) => `interface fz0 { allow udp sport 1-${n} }`,
  (n) => `interface fz0 { allow proto ${n} }`,
  (n) => `interface fz0 { allow icmp type ${n} }`,
  (n) => `interface fz0 { drop src 10.0.0.0/${n} }`,
  (n) => `interface fz0 { drop dst 2001:db8::/${n} }`,
  (n) => `define fz = ${n}`,
  (n) => `set fz { ${n} }`,
];

/**
 * A chain of defines and sets thousands deep (sometimes closed into a cycle),
 * used by a rule: deep enough that resolving it by recursion overflows the
 * call stack (from ~3,000 sets or ~5,000 defines).
 */
function referenceChain(random: Random): string {
  const depth = random.int(3_000, 8_000);
  const sets = random.pick(['defines', 'sets', 'mixed']);
  const isSet = (i: number) => sets === 'sets' || (sets === 'mixed' && i % 2 === 1);
  const ref = (i: number) => (isSet(i) ? `@fz${i}` : `$fz${i}`);
  const lines: string[] = [];
  const cyclic = random.chance(0.3);
  for (let i = 0; i < depth; i++) {
    const next = i + 1 < depth ? ref(i + 1) : cyclic ? ref(0) : '10.0.0.1';
    lines.push(isSet(i) ? `set fz${i} { ${next} }` : `define fz${i} = ${next}`);
  }
  if (random.chance(0.5)) lines.reverse();
  lines.push(`interface fz0 { drop src ${ref(0)} }`);
  return `${lines.join('\n')}\n`;
}

/** An include that leads back to the file that holds it: directly, through other files, or through symbolic links. */
function includeLoop({ sample, policy, random, edit }: Damage): void {
  const dir = posix.dirname(policy);
  const self = posix.basename(policy);
  const add = (path: string, text: string) => sample.files.set(path, Buffer.from(text, 'latin1'));
  const include = (path: string) =>
    edit(policy, (t) => insertAt(t, random.chance(0.7) ? 0 : pickLineStart(t, random), `include "${path}"\n`));
  switch (random.int(0, 4)) {
    case 0: // a file includes itself
      include(random.pick([self, `./${self}`, `nowhere/../${self}`]));
      break;
    case 1: // a includes b includes a
      add(posix.join(dir, 'loop-b.xdpfw'), `include "${self}"\n`);
      include('loop-b.xdpfw');
      break;
    case 2: // a → b → c → a, through a subdirectory
      add(posix.join(dir, 'loop/b.xdpfw'), 'include "c.xdpfw"\n');
      add(posix.join(dir, 'loop/c.xdpfw'), `include "../${self}"\n`);
      include('loop/b.xdpfw');
      break;
    case 3: // a symbolic link to the file itself: another name, the same text
      sample.symlinks.set(posix.join(dir, 'loop-link.xdpfw'), self);
      include('loop-link.xdpfw');
      break;
    default: // a link that points at itself
      sample.symlinks.set(posix.join(dir, 'loop-self'), 'loop-self');
      include('loop-self');
  }
}

/** A path that names something other than a readable regular file. */
function specialPath(sample: FuzzSample, dir: string, random: Random, places: FuzzPlaces): string {
  const link = (target: string): string => {
    sample.symlinks.set(posix.join(dir, 'fz-link'), target);
    return 'fz-link';
  };
  const choices: (() => string)[] = [
    () => '.',
    () => '..',
    () => '/',
    () => '',
    () => 'fz-dir',
    () => '/dev/null',
    () => '/dev/zero',
    () => '/dev/urandom',
    () => '/dev/full',
    () => places.fifo,
    () => '/proc/self/status', // a regular file whose size reads as 0
    () => link('/dev/zero'),
    () => link(places.fifo),
    () => link('nowhere/at/all'),
    () => 'missing.txt',
    () => 'a\0b',
    () => 'x'.repeat(5_000),
  ];
  return random.pick(choices)();
}

function longLine(random: Random): string {
  const length = Math.round(10_000 * 100 ** random.next()); // 10 kB to 1 MB, as many of each tenfold
  const kinds: (() => string)[] = [
    () => 'a'.repeat(length),
    () => '9'.repeat(length),
    () => `# ${'x'.repeat(length)}`,
    () => `define fz = { ${Array.from({ length: length / 12 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.1`).join(', ')} }`,
    () => `interface fz0 { allow tcp dport 22 name "${'n'.repeat(length)}" }`,
    () => `"${'s'.repeat(length)}`,
    () => ':'.repeat(length),
  ];
  return random.pick(kinds)();
}

/** Random bytes, or random policy words and punctuation (which get further into the grammar). */
function garbage(random: Random, size: number): Buffer {
  const bytes = Buffer.alloc(size + 32);
  if (random.chance(0.5)) {
    for (let i = 0; i < size; i += 4) bytes.writeUInt32LE(Math.floor(random.next() * 2 ** 32), i);
  } else {
    // Byte by byte: joining strings took five times as long, and a case's budget is milliseconds.
    for (let at = 0; at < size;) {
      const word = random.pick(WORDS);
      for (let i = 0; i < word.length; i++) bytes[at++] = word[i]!;
      const separator = random.pick(SEPARATORS);
      for (let i = 0; i < separator.length; i++) bytes[at++] = separator[i]!;
    }
  }
  return bytes.subarray(0, size);
}

const WORDS = [
  'interface',
  'eth0',
  'define',
  'set',
  'include',
  'from',
  'allow',
  'drop',
  'default',
  'src',
  'dst',
  'sport',
  'dport',
  'tcp',
  'udp',
  'icmp',
  'icmpv6',
  'proto',
  'ip4',
  'ip6',
  'flags',
  'syn',
  'ack',
  '/',
  'type',
  'echo-request',
  'name',
  '"x"',
  '{',
  '}',
  ';',
  '!',
  '@s',
  '$d',
  '80',
  '1-1024',
  '10.0.0.0/8',
  '2001:db8::/32',
  '::',
  '#',
].map((word) => Buffer.from(word, 'latin1'));

const SEPARATORS = [' ', ' ', '\n', '', ', '].map((separator) => Buffer.from(separator, 'latin1'));

// ---- positions -------------------------------------------------------------------

const TOKEN = /"[^"\n]*"|[A-Za-z0-9_.:/@$-]+|[{}=,;!#]/g;

function pickToken(text: string, random: Random): { text: string; index: number } | undefined {
  const tokens = [...text.matchAll(TOKEN)];
  if (tokens.length === 0) return undefined;
  const token = random.pick(tokens);
  return { text: token[0], index: token.index };
}

function pickTokenBoundary(text: string, random: Random): number {
  const token = pickToken(text, random);
  return token === undefined ? 0 : token.index + (random.chance(0.5) ? token.text.length : 0);
}

function pickLineStart(text: string, random: Random): number {
  const starts = [0];
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
  return random.pick(starts);
}

function insertAt(text: string, at: number, piece: string): string {
  return text.slice(0, at) + piece + text.slice(at);
}

/** A policy string literal of `path`. */
function quoted(path: string): string {
  return `"${path.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
