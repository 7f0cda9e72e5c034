import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { http } from './node-http.ts';

void test('node-http hands over the real node:http', () => {
  assert.equal(typeof http.createServer, 'function');
  assert.equal(typeof http.request, 'function');
});

void test("loading every module main.ts imports does not load undici (Node's fetch, ~14 MiB)", () => {
  const main = fileURLToPath(new URL('../main.ts', import.meta.url));
  const specifiers = [...readFileSync(main, 'utf8').matchAll(/^import (?!type )[^;]*? from '([^']+)';$/gm)].map((m) => m[1]!);
  assert.ok(specifiers.length > 10, 'found the imports of main.ts');
  const urls = specifiers.map((s) => (s.startsWith('.') ? new URL(s, new URL('../main.ts', import.meta.url)).href : s));
  const script = `for (const u of ${JSON.stringify(urls)}) await import(u); console.log(JSON.stringify(process.moduleLoadList.filter((m) => m.includes('undici'))));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), []);
});
