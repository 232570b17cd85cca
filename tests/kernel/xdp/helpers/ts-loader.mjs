// Lets a child `node` run the TypeScript sources directly (Node 20 cannot):
// `node --import ./ts-loader.mjs script.ts`. Maps `./x.js` imports to `./x.ts`
// when only the .ts exists and strips types with TypeScript's transpileModule.
import fs from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';

if (!process.env.XDPFW_TS_LOADER_HOOKS) {
  process.env.XDPFW_TS_LOADER_HOOKS = '1';
  register(import.meta.url, import.meta.url);
}

export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const url = new URL(specifier, context.parentURL);
    if (url.protocol === 'file:' && !fs.existsSync(fileURLToPath(url))) {
      const ts = new URL(url.href.replace(/\.js$/, '.ts'));
      if (fs.existsSync(fileURLToPath(ts))) return next(ts.href, context);
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const { default: ts } = await import('typescript');
  const source = fs.readFileSync(fileURLToPath(url), 'utf8');
  const out = ts.transpileModule(source, {
    fileName: fileURLToPath(url),
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false },
  });
  return { format: 'module', source: out.outputText, shortCircuit: true };
}
