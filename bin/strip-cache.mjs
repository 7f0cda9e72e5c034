// Preloaded by bin/tskubelet (node --import): serves the project's .ts modules from a cache of
// their type-stripped JavaScript, so the process never loads Node's TypeScript stripper (amaro,
// a WebAssembly build of swc: ~20 MiB of resident memory kept for the life of the process).
// A cache entry is keyed by the SHA-256 of the source, so an edited file is stripped again
// (in-process, with node:module's stripTypeScriptTypes, which loads amaro only then). Stripping
// replaces types with blanks, so line and column numbers in stack traces stay those of the .ts.
// Plain JavaScript on purpose: this file itself must not need stripping.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const cacheDir = process.env.TSKUBELET_STRIP_CACHE || path.join(root, 'node_modules', '.cache', 'tskubelet-strip');
const rootUrl = `file://${root}/`;
let cacheWritable = true;

registerHooks({
  load(url, context, nextLoad) {
    if (!url.startsWith(rootUrl) || !url.endsWith('.ts') || url.includes('/node_modules/')) return nextLoad(url, context);
    const source = readFileSync(new URL(url));
    const key = createHash('sha256').update(source).digest('hex');
    const cached = path.join(cacheDir, `${key}.js`);
    let js;
    try {
      js = readFileSync(cached, 'utf8');
    } catch {
      js = stripTypeScriptTypes(source.toString('utf8'), { mode: 'strip' });
      if (cacheWritable) {
        try {
          mkdirSync(cacheDir, { recursive: true });
          const tmp = `${cached}.${process.pid}.tmp`;
          writeFileSync(tmp, js);
          renameSync(tmp, cached);
        } catch {
          cacheWritable = false; // a read-only tree: strip in memory every time
        }
      }
    }
    return { format: 'module', source: js, shortCircuit: true };
  },
});
