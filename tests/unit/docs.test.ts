import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { COMPILER_CODES } from '../../src/compiler/codes.js';
import { IMPORT_CODES } from '../../src/import/codes.js';
import { POLICY_CODES } from '../../src/policy/codes.js';

/*
 * The documents and the comments stay true to the repository: every code a
 * user can meet has its row, every path they cite exists, and none names an
 * issue, a scratch path or a branch that is not in the repository. The
 * scanners are tested on known-bad text first, so a scanner that stopped
 * finding anything would fail rather than pass.
 */

const root = join(import.meta.dirname, '../..');
const git = (...args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'utf8' });
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Tracked files and files about to be (untracked, not ignored): what a clean clone holds once committed. */
const repoFiles = git('ls-files', '--cached', '--others', '--exclude-standard')
  .split('\n')
  .filter((f) => f !== '');
/** Made by `npm run build` (ignored by git), cited by documents and comments all the same. */
const BUILD_OUTPUTS = ['bpf/xdpfw.bpf.o', 'src/policy/generated/parser.js', 'src/policy/generated/parser.d.ts', 'dist'];
const repoPaths = new Set<string>(BUILD_OUTPUTS.flatMap((p) => [p, ...parents(p)]));
for (const file of repoFiles) [file, ...parents(file)].forEach((p) => repoPaths.add(p));

function parents(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Local and remote-tracking branches, by full and by short name (`origin/main` also as `main`). */
const branches = new Set(
  git('branch', '--list', '--all', '--format=%(refname:short)')
    .split('\n')
    .filter((b) => b !== '' && !b.startsWith('('))
    .flatMap((b) => [b, b.replace(/^[^/]+\//, '')]),
);

// --- scanners ------------------------------------------------------------

const TOP_LEVEL_FILES = String.raw`package(?:-lock)?\.json|tsconfig(?:\.\w+)?\.json|eslint\.config\.js|vitest\.config\.ts|README\.md|CHANGELOG\.md|LICENSE`;
/**
 * A repository path: a top-level folder and a name starting with a letter,
 * `_` or `.` (so `per src/24` is no path), or a known top-level file. Not
 * when glued to a `/` or word before it: `../src/x` and `/usr/include/bpf/x`
 * are not repository-relative.
 */
const REPO_PATH = new RegExp(
  String.raw`(?<![\w./@-])(?:(?:src|bpf|bench|tests|scripts|docs|policies|deploy|bin|\.ci)/[A-Za-z_.][^\s\`'"()\[\],;]*|(?:${TOP_LEVEL_FILES})(?![\w.]))`,
  'g',
);
/** A placeholder or a pattern stands for many paths, not one to look up. */
const PLACEHOLDER = /[*<>{}$…@]|\.\.\./;

/** The repository paths a text cites, `file:line:col` and `#anchor` suffixes removed. */
export function citedPaths(text: string): string[] {
  const found: string[] = [];
  for (const [raw] of text.matchAll(REPO_PATH)) {
    if (PLACEHOLDER.test(raw)) continue;
    const path = raw
      .replace(/[.:!?]+$/, '')
      .replace(/(?::\d+)+$/, '')
      .replace(/#.*$/, '')
      .replace(/\/+$/, '');
    found.push(path);
  }
  return found;
}

/** Inline code spans and relative link targets of a Markdown text (fenced blocks hold examples, not citations). */
export function markdownCitations(text: string, docDir: string): { spans: string[]; links: string[] } {
  const prose = text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
  const spans = [...prose.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
  const links = [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((m) => m[1])
    .filter((target) => !/^(?:[a-z]+:|#)/.test(target))
    .map((target) => posix.normalize(posix.join(docDir, target.replace(/#.*$/, ''))).replace(/\/+$/, ''));
  return { spans, links };
}

const ISSUE_REFERENCE = /\bissues?\s+#?\d+|(?:^|[\s([])#\d+\b/gim;
const SCRATCH_PATH = /(?<![\w.])\/(?:tmp|work)\/\S*/g;
const NAMED_BRANCH = /\bbranch(?:es)?\s+((?:`[^`\n]+`(?:\s*(?:,|and|or)\s*)?)+)|\(branch\s+([\w./-]+)\)/gi;

/** What a document or comment must not hold: issue numbers, scratch paths, branches the repository lacks. */
export function hygieneProblems(text: string, knownBranches: Set<string>): string[] {
  const problems = [...text.matchAll(ISSUE_REFERENCE)].map((m) => `names an issue: '${m[0].trim()}'`);
  problems.push(...[...text.matchAll(SCRATCH_PATH)].map((m) => `names a scratch path: '${m[0]}'`));
  for (const m of text.matchAll(NAMED_BRANCH)) {
    const names = m[1] ? [...m[1].matchAll(/`([^`]+)`/g)].map((n) => n[1]) : [m[2]];
    problems.push(...names.filter((n) => !knownBranches.has(n)).map((n) => `names branch '${n}', not in the repository`));
  }
  return problems;
}

/** The comments of a TypeScript or JavaScript file, found by the TypeScript parser (strings and regexes are no comments). */
export function scriptComments(text: string, fileName: string): string[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const seen = new Set<number>();
  const comments: string[] = [];
  const collect = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) {
      if (seen.has(r.pos)) continue;
      seen.add(r.pos);
      comments.push(text.slice(r.pos, r.end));
    }
  };
  const visit = (node: ts.Node) => {
    collect(ts.getLeadingCommentRanges(text, node.getFullStart()));
    collect(ts.getTrailingCommentRanges(text, node.getEnd()));
    node.getChildren(source).forEach(visit);
  };
  visit(source);
  return comments;
}

/** The comments of a C file: `//` to the line's end and `/* … *\/`, outside string and character literals. */
export function cComments(text: string): string[] {
  const comments: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"' || c === "'") {
      for (i++; i < text.length && text[i] !== c && text[i] !== '\n'; i++) if (text[i] === '\\') i++;
      i++;
    } else if (text.startsWith('//', i) || text.startsWith('/*', i)) {
      const line = text.startsWith('//', i);
      const end = line ? text.indexOf('\n', i) : text.indexOf('*/', i + 2);
      const stop = end === -1 ? text.length : line ? end : end + 2;
      comments.push(text.slice(i, stop));
      i = stop;
    } else i++;
  }
  return comments;
}

/** The comments of a shell script: from a `#` that starts a word outside quotes to the line's end (not the `#!` line). */
export function shellComments(text: string): string[] {
  const comments: string[] = [];
  text.split('\n').forEach((line, n) => {
    if (n === 0 && line.startsWith('#!')) return;
    let quote = '';
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (quote) {
        if (c === '\\' && quote === '"') i++;
        else if (c === quote) quote = '';
      } else if (c === '\\') i++;
      else if (c === '"' || c === "'") quote = c;
      else if (c === '#' && (i === 0 || /[\s;]/.test(line[i - 1]))) {
        comments.push(line.slice(i));
        return;
      }
    }
  });
  return comments;
}

const commentCache = new Map<string, string[]>();
function commentsOf(path: string): string[] {
  let comments = commentCache.get(path);
  if (!comments) {
    const text = read(path);
    comments = /\.(?:ts|mjs|js)$/.test(path) ? scriptComments(text, path) : /\.[ch]$/.test(path) ? cComments(text) : shellComments(text);
    commentCache.set(path, comments);
  }
  return comments;
}

// --- what is scanned -----------------------------------------------------

const documents = repoFiles.filter((f) => f === 'README.md' || f === 'CHANGELOG.md' || /^docs\/[^/]+\.md$/.test(f));
const commented = repoFiles.filter((f) => /^(?:src|bpf|bench|scripts|tests|bin)\//.test(f) && /\.(?:ts|mjs|js|c|h|sh)$/.test(f));

function missingPaths(cited: string[]): string[] {
  return [...new Set(cited.filter((p) => !repoPaths.has(p)))];
}

// --- the scanners find what they are meant to ------------------------------

describe('the document scanners', () => {
  const known = new Set(['main', 'wt-docs']);

  it('find cited paths, strip line numbers and anchors, and skip placeholders and non-repository paths', () => {
    const text =
      'see `src/nope/missing.ts:12:3`, [the design](docs/DESIGN.md#fast-path), src/xdp/ and `tests/kernel/<name>.test.ts`, ' +
      '`src/**/*.ts`, `per src/24`, `../src/cli/main.ts`, `/usr/include/bpf/bpf_helpers.h`, `package.json`.';
    expect(citedPaths(text)).toEqual(['src/nope/missing.ts', 'docs/DESIGN.md', 'src/xdp', 'package.json']);
    expect(missingPaths(citedPaths(text))).toEqual(['src/nope/missing.ts']);
  });

  it('take code spans and relative links outside fenced blocks, links resolved from the document', () => {
    const text =
      '`bench/kernel.ts` and [cli](cli.md#exit-codes), [site](https://example.net), [top](../README.md)\n```\nsrc/fenced.ts\n```\n';
    expect(markdownCitations(text, 'docs')).toEqual({ spans: ['bench/kernel.ts'], links: ['docs/cli.md', 'README.md'] });
  });

  it('flag issue numbers, scratch paths and unknown branches, and leave ordinary prose alone', () => {
    const bad =
      'Targets of issue 3; fixes #21; `npm run bench:ab -- /tmp/before .`; the code is on the branch `summaries-apart` (branch addr-summaries).';
    expect(hygieneProblems(bad, known)).toEqual([
      "names an issue: 'issue 3'",
      "names an issue: '#21'",
      "names a scratch path: '/tmp/before'",
      "names branch 'summaries-apart', not in the repository",
      "names branch 'addr-summaries', not in the repository",
    ]);
    const fine = '#### 25 Nov\na 64-bit mask; the branch on its bit; `--branch main`; the branch `main`; /var/tmp/x; ${#names[@]}';
    expect(hygieneProblems(fine, known)).toEqual([]);
  });

  it('read comments, not strings or regular expressions, in TypeScript, C and shell', () => {
    const tsText = "const s = '/tmp/x'; // see /tmp/y\nconst r = /#3 \\/\\/ no/; /* issue 4 */\nconst t = `// not ${s}`;\n";
    expect(scriptComments(tsText, 'x.ts')).toEqual(['// see /tmp/y', '/* issue 4 */']);
    const cText = 'char *s = "/* no */"; char c = \'"\'; // yes\n/* and\n this */ int x;';
    expect(cComments(cText)).toEqual(['// yes', '/* and\n this */']);
    const shText = '#!/bin/sh\n# top\necho "# not" \'# nor\' ${#a[@]} # yes\nx=$#\n';
    expect(shellComments(shText)).toEqual(['# top', '# yes']);
  });
});

// --- the repository -------------------------------------------------------

describe('the documents list every code a user can meet', () => {
  const language = read('docs/language.md');
  const cli = read('docs/cli.md');

  it.each([...Object.keys(POLICY_CODES), ...Object.keys(COMPILER_CODES), ...Object.keys(IMPORT_CODES)])(
    'diagnostic %s has a row in docs/language.md',
    (code) => {
      expect(language).toMatch(new RegExp(`^\\| \`${code}\` \\| (?:error|warning) \\|`, 'm'));
    },
  );

  /** Every `new UserError('code', …)` and `new EnvironmentError('code', …)` in src, and the kernel errors the CLI passes on. */
  function userErrorCodes(): string[] {
    const codes = new Set(['kernel-error', 'verifier-error', 'unsupported-feature']);
    for (const file of repoFiles.filter((f) => f.startsWith('src/') && f.endsWith('.ts'))) {
      for (const m of read(file).matchAll(/new (?:UserError|EnvironmentError)\(\s*'([a-z-]+)'/g)) codes.add(m[1]);
    }
    // Typed kernel-side errors carry their code in a union type.
    const union = /export type AttachmentCode = ([^;]+);/.exec(read('src/xdp/errors.ts'));
    for (const m of union?.[1].matchAll(/'([a-z-]+)'/g) ?? []) codes.add(m[1]);
    return [...codes].sort();
  }

  it('finds the CLI error codes in the source (the scan works)', () => {
    expect(userErrorCodes()).toEqual(
      expect.arrayContaining(['not-root', 'interface-not-found', 'policy-invalid', 'packet-syntax', 'busy', 'swap-lost', 'link-gone']),
    );
  });

  it.each(userErrorCodes())('CLI error %s has a row in docs/cli.md', (code) => {
    expect(cli).toMatch(new RegExp(`^\\| \`${code}\` \\| [0-9] \\|`, 'm'));
  });
});

describe('documents and comments stay true to the repository', () => {
  it('scans the documents and the source files it should (the lists are not empty)', () => {
    expect(documents).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'docs/DESIGN.md', 'docs/cli.md']));
    expect(commented.length).toBeGreaterThan(100);
    expect(commented).toEqual(expect.arrayContaining(['bpf/xdpfw.h', 'scripts/sandbox.sh', 'src/cli/main.ts']));
  });

  it.each(documents)('every path %s cites exists', (doc) => {
    const { spans, links } = markdownCitations(read(doc), posix.dirname(doc));
    expect(missingPaths([...spans.flatMap(citedPaths), ...links])).toEqual([]);
  });

  it('every path a comment in src, bpf, bench, scripts, tests or bin cites exists', () => {
    const missing = commented.flatMap((file) => missingPaths(commentsOf(file).flatMap(citedPaths)).map((p) => `${file}: ${p}`));
    expect(missing).toEqual([]);
  });

  it.each(documents)('%s names no issue, scratch path or unknown branch', (doc) => {
    expect(hygieneProblems(read(doc), branches)).toEqual([]);
  });

  it('no comment names an issue, a scratch path or an unknown branch', () => {
    const problems = commented.flatMap((file) => hygieneProblems(commentsOf(file).join('\n'), branches).map((p) => `${file}: ${p}`));
    expect(problems).toEqual([]);
  });
});
