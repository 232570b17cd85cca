/**
 * Every load error class (files that cannot be read, include cycles, bad set
 * files), each loaded from an in-memory host. `at` is [file, line, column,
 * end line, end column]; `excerpt` as in syntax-cases.ts (absent when the
 * file itself could not be read).
 */
export interface ExpectedLoadDiagnostic {
  code: string;
  message: string;
  at: [string, number, number, number, number];
  excerpt?: [string, string];
  hint?: string;
}

export interface LoadCase {
  behaviour: string;
  root: string;
  files: Record<string, string>;
  expected: ExpectedLoadDiagnostic[];
}

const SET_FILE_HINT = "a set file holds one address or CIDR a line; '#' starts a comment";

export const loadCases: LoadCase[] = [
  {
    behaviour: 'an include of a missing file is reported at the include path',
    root: 'input.xdpfw',
    files: {
      'input.xdpfw': 'include "missing.xdpfw"\n',
    },
    expected: [
      {
        code: 'include-not-found',
        message: "cannot read included file 'missing.xdpfw': ENOENT: no such file or directory, open 'missing.xdpfw'",
        at: ['input.xdpfw', 1, 9, 1, 24],
        excerpt: ['1 | include "missing.xdpfw"', '  |         ^^^^^^^^^^^^^^^'],
        hint: "'missing.xdpfw' is read relative to the file that names it",
      },
    ],
  },
  {
    behaviour: 'a missing include names both the written and the resolved path',
    root: 'policies/input.xdpfw',
    files: {
      'policies/input.xdpfw': 'include "../common/defs.xdpfw"\n',
    },
    expected: [
      {
        code: 'include-not-found',
        message:
          "cannot read included file '../common/defs.xdpfw' (common/defs.xdpfw): ENOENT: no such file or directory, open 'common/defs.xdpfw'",
        at: ['policies/input.xdpfw', 1, 9, 1, 31],
        excerpt: ['1 | include "../common/defs.xdpfw"', '  |         ^^^^^^^^^^^^^^^^^^^^^^'],
        hint: "'../common/defs.xdpfw' is read relative to the file that names it",
      },
    ],
  },
  {
    behaviour: 'a file that includes itself is an include cycle',
    root: 'input.xdpfw',
    files: {
      'input.xdpfw': 'include "input.xdpfw"\n',
    },
    expected: [
      {
        code: 'include-cycle',
        message: 'include cycle: input.xdpfw → input.xdpfw',
        at: ['input.xdpfw', 1, 9, 1, 22],
        excerpt: ['1 | include "input.xdpfw"', '  |         ^^^^^^^^^^^^^'],
        hint: 'a file cannot include itself, directly or through other files',
      },
    ],
  },
  {
    behaviour: 'files that include each other are an include cycle reported where the loop closes',
    root: 'input.xdpfw',
    files: {
      'input.xdpfw': 'include "a.xdpfw"\n',
      'a.xdpfw': 'include "b.xdpfw"\n',
      'b.xdpfw': '# back to a\ninclude "./a.xdpfw"\n',
    },
    expected: [
      {
        code: 'include-cycle',
        message: 'include cycle: a.xdpfw → b.xdpfw → a.xdpfw',
        at: ['b.xdpfw', 2, 9, 2, 20],
        excerpt: ['2 | include "./a.xdpfw"', '  |         ^^^^^^^^^^^'],
        hint: 'a file cannot include itself, directly or through other files',
      },
    ],
  },
  {
    behaviour: 'a set from a missing file is reported at the file path',
    root: 'input.xdpfw',
    files: {
      'input.xdpfw': 'set bogons from "lists/bogons.txt"\n',
    },
    expected: [
      {
        code: 'set-file-not-found',
        message: "cannot read set file 'lists/bogons.txt': ENOENT: no such file or directory, open 'lists/bogons.txt'",
        at: ['input.xdpfw', 1, 17, 1, 35],
        excerpt: ['1 | set bogons from "lists/bogons.txt"', '  |                 ^^^^^^^^^^^^^^^^^^'],
        hint: "'lists/bogons.txt' is read relative to the file that names it",
      },
    ],
  },
  {
    behaviour: 'each malformed line of a set file is reported at that line',
    root: 'input.xdpfw',
    files: {
      'input.xdpfw': 'set bogons from "bogons.txt"\n',
      'bogons.txt': '10.0.0.0/8\nfoo\n  192.168.0.0/16 172.16.0.0/12  # two on a line\n10.0.0.1,\n',
    },
    expected: [
      {
        code: 'set-file-syntax',
        message: "malformed line in set file: expected one address or CIDR, found 'foo'",
        at: ['bogons.txt', 2, 1, 2, 4],
        excerpt: ['2 | foo', '  | ^^^'],
        hint: SET_FILE_HINT,
      },
      {
        code: 'set-file-syntax',
        message: "malformed line in set file: expected one address or CIDR, found '192.168.0.0/16 172.16.0.0/12'",
        at: ['bogons.txt', 3, 3, 3, 31],
        excerpt: ['3 |   192.168.0.0/16 172.16.0.0/12  # two on a line', '  |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^'],
        hint: SET_FILE_HINT,
      },
      {
        code: 'set-file-syntax',
        message: "malformed line in set file: expected one address or CIDR, found '10.0.0.1,'",
        at: ['bogons.txt', 4, 1, 4, 10],
        excerpt: ['4 | 10.0.0.1,', '  | ^^^^^^^^^'],
        hint: SET_FILE_HINT,
      },
    ],
  },
  {
    behaviour: 'a missing policy file is reported without an excerpt',
    root: 'input.xdpfw',
    files: {},
    expected: [
      {
        code: 'file-not-found',
        message: "cannot read policy file 'input.xdpfw': ENOENT: no such file or directory, open 'input.xdpfw'",
        at: ['input.xdpfw', 1, 1, 1, 1],
      },
    ],
  },
  {
    behaviour: 'errors of every file are reported together in load order',
    root: 'input.xdpfw',
    files: {
      'input.xdpfw': 'include "broken.xdpfw"\nset s from "missing.txt"\nset t from "t.txt"\ninclude "also-broken.xdpfw"\n',
      'broken.xdpfw': 'define web = { 80 443 }\n',
      'also-broken.xdpfw': 'interface eth0 {\n  alow tcp\n}\n',
      't.txt': '10.0.0.1\nbad\n',
    },
    expected: [
      {
        code: 'syntax',
        message: "expected ',', '}' or a newline after '80', found '443'",
        at: ['broken.xdpfw', 1, 19, 1, 22],
        excerpt: ['1 | define web = { 80 443 }', '  |                   ^^^'],
      },
      {
        code: 'set-file-not-found',
        message: "cannot read set file 'missing.txt': ENOENT: no such file or directory, open 'missing.txt'",
        at: ['input.xdpfw', 2, 12, 2, 25],
        excerpt: ['2 | set s from "missing.txt"', '  |            ^^^^^^^^^^^^^'],
        hint: "'missing.txt' is read relative to the file that names it",
      },
      {
        code: 'set-file-syntax',
        message: "malformed line in set file: expected one address or CIDR, found 'bad'",
        at: ['t.txt', 2, 1, 2, 4],
        excerpt: ['2 | bad', '  | ^^^'],
        hint: SET_FILE_HINT,
      },
      {
        code: 'syntax',
        message: "unknown action 'alow' (did you mean 'allow'?)",
        at: ['also-broken.xdpfw', 2, 3, 2, 7],
        excerpt: ['2 |   alow tcp', '  |   ^^^^'],
      },
    ],
  },
  {
    behaviour: 'an included file over 16 MiB is refused at the include, before it is parsed',
    root: 'input.xdpfw',
    files: {
      'input.xdpfw': 'include "huge.xdpfw"\n',
      'huge.xdpfw': '#'.repeat(16 * 1024 * 1024 + 1),
    },
    expected: [
      {
        code: 'file-too-large',
        message: "'huge.xdpfw' is too large: the file holds 16,777,217 bytes, more than the 16 MiB allowed for a policy or included file",
        at: ['input.xdpfw', 1, 9, 1, 21],
        excerpt: ['1 | include "huge.xdpfw"', '  |         ^^^^^^^^^^^^'],
        hint: 'a policy file is text a person writes; put long address lists in set files',
      },
    ],
  },
  {
    behaviour: 'an include tree of more than 256 files is refused at the include of the 257th',
    root: 'f0.xdpfw',
    files: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`f${i}.xdpfw`, `define d${i} = ${i}\ninclude "f${i + 1}.xdpfw"\n`])),
    expected: [
      {
        code: 'too-many-files',
        message: "'f256.xdpfw' would be file 257 of this policy: at most 256 files are read",
        at: ['f255.xdpfw', 2, 9, 2, 21],
        excerpt: ['2 | include "f256.xdpfw"', '  |         ^^^^^^^^^^^^'],
        hint: 'a policy reads its files, includes and set files together; merge some of them',
      },
    ],
  },
];
