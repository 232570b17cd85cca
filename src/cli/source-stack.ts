/**
 * A bug's stack trace with each bundled frame named by its src/ file, line
 * and column. bin/xdpfw.js runs the CLI bundled (scripts/bundle-cli.ts), so
 * Node names frames dist/bundle/chunk-….js. Node maps them itself only when
 * source maps are on before the modules load, and then reads and indexes
 * the maps of all the modules at every start, though almost no run prints a
 * trace; this reads the maps of a trace's files when it is printed.
 */
import { readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { fileURLToPath } from 'node:url';

/** `file:///…/x.js:LINE:COLUMN` in a V8 stack frame (line and column 1-based). */
const JS_FRAME = /(file:\/\/[^\s()]+\.js):(\d+):(\d+)/g;

/** `stack` with every frame of a .js file that has a map beside it (x.js.map) rewritten to its source's path:line:column; other frames as they were. */
export function withSourceLocations(stack: string): string {
  const maps = new Map<string, SourceMap | null>();
  return stack.replace(JS_FRAME, (frame, url: string, line: string, column: string) => {
    if (!maps.has(url)) maps.set(url, readMap(url));
    const entry = maps.get(url)?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry)) return frame;
    const source = fileURLToPath(new URL(entry.originalSource, url));
    return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

/** The map of the module at `url`, or null when it has none (a package's file, or the unbundled build). */
function readMap(url: string): SourceMap | null {
  try {
    return new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')) as SourceMapPayload);
  } catch {
    return null;
  }
}
