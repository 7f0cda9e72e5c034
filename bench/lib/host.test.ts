import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isTskubelet } from './host.ts';

test('isTskubelet: the program, not a file argument, is tskubelet', () => {
  assert.ok(isTskubelet(['/usr/bin/node', '--max-semi-space-size=2', '--import', '/r/bin/strip-cache.mjs', '/r/src/main.ts', '--v=2']));
  assert.ok(isTskubelet(['bash', '/r/bin/tskubelet', '--root-dir', '/x']));
  assert.ok(isTskubelet(['bash', '/r/scripts/node.sh', '--import', '/r/bin/strip-cache.mjs', '/r/src/main.ts']));
  assert.ok(!isTskubelet(['node', '/r/node_modules/.bin/eslint', 'src/gc', 'src/main.ts']));
  assert.ok(!isTskubelet(['node', '--test', 'src/main.test.ts']));
  assert.ok(!isTskubelet(['vim', 'src/main.ts']));
});
