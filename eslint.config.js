// Lint: typescript-eslint's recommended rules, no import cycles, and the
// module map of docs/DESIGN.md as import zones (a zone forbids its `target`
// files to import its `from` files):
//
//   policy, packet, contract      import nothing of ours
//   compiler                      policy, packet, contract
//   xdp                           compiler (its output types), contract
//   import                        policy, compiler (pure readers of other firewalls' rules)
//   app                           xdp (through src/xdp/index.ts), compiler, policy, packet, import
//   cli, controller               app and below; never each other, except that
//                                 `xdpfw run` (src/cli/commands/run.ts) starts the controller
//
// Outside src/xdp only src/xdp/index.ts may be imported; tests and benches
// may reach the internals listed in XDP_INTERNALS_FOR_TESTS.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

const root = path.dirname(fileURLToPath(import.meta.url));
/** An absolute glob under the repository (the rule matches globs against absolute paths). */
const at = (glob) => path.join(root, glob);

/** What tests and benches may import from inside src/xdp besides index.ts (they drive the loader's parts directly). */
const XDP_INTERNALS_FOR_TESTS = [
  'asm',
  'conntrack',
  'dynsets',
  'conntrack-read',
  'errors',
  'fast-path',
  'judge',
  'layout',
  'libbpf',
  'limits',
  'link',
  'live-maps',
  'maps',
  'mount-visibility',
  'netns',
  'object',
  'pins',
  'test-run',
  'uapi',
];

const zones = [
  { target: at('src/policy/**'), from: at('src/!(policy)/**'), message: 'src/policy imports nothing of ours.' },
  { target: at('src/packet/**'), from: at('src/!(packet)/**'), message: 'src/packet imports nothing of ours.' },
  { target: at('src/contract/**'), from: at('src/!(contract)/**'), message: 'src/contract imports nothing of ours.' },
  {
    target: at('src/compiler/**'),
    from: at('src/{xdp,app,cli,controller}/**'),
    message: 'the compiler is pure: it imports policy, packet and contract only.',
  },
  {
    target: at('src/xdp/**'),
    from: at('src/{policy,app,cli,controller}/**'),
    message: 'src/xdp imports the compiler (its output types) and the contract only.',
  },
  {
    target: at('src/import/**'),
    from: at('src/{packet,contract,xdp,app,cli,controller}/**'),
    message: 'src/import is pure: it imports policy and compiler only.',
  },
  {
    target: at('src/{policy,packet,contract,compiler,xdp,controller}/**'),
    from: at('src/import/**'),
    message: 'only src/app, src/cli and tests import src/import.',
  },
  { target: at('src/app/**'), from: at('src/{cli,controller}/**'), message: 'the application layer is below the CLI and the controller.' },
  { target: at('src/controller/**'), from: at('src/cli/**'), message: 'the controller and the CLI never import each other.' },
  {
    target: [at('src/cli/*.ts'), at('src/cli/commands/!(run).ts')],
    from: at('src/controller/**'),
    message: 'only `xdpfw run` (src/cli/commands/run.ts) starts the controller.',
  },
  {
    target: at('src/!(xdp)/**'),
    from: at('src/xdp/**'),
    except: [at('src/xdp/@(index).ts')], // a glob, as the rule wants when `from` is one
    message: 'outside src/xdp, import src/xdp/index.ts only.',
  },
  {
    target: [at('tests/**'), at('bench/**'), at('scripts/**')],
    from: at('src/xdp/**'),
    except: [at(`src/xdp/@(index|${XDP_INTERNALS_FOR_TESTS.join('|')}).ts`)],
    message: 'add the module to XDP_INTERNALS_FOR_TESTS in eslint.config.js if a test must reach it.',
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/policy/generated/**', '.test-results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver()] },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { zones }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['**/*.{js,mjs}'], languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } } },
);
