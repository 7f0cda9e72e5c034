import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.ts';
import { runEvery } from './periodic.ts';

test('runEvery: runs at once, then a period after each run; errors go to onError; the abort ends it', async () => {
  const clock = new FakeClock(0);
  const ac = new AbortController();
  const runs: number[] = [];
  const errors: unknown[] = [];
  const loop = runEvery(clock, 1000, ac.signal, async () => {
    runs.push(clock.now());
    if (runs.length === 2) throw new Error('boom');
  }, (err) => errors.push(err));
  const settle = (): Promise<void> => new Promise((r) => setImmediate(r));
  await settle();
  assert.deepEqual(runs, [0]);
  clock.advance(1000);
  await settle();
  clock.advance(1000);
  await settle();
  assert.deepEqual(runs, [0, 1000, 2000]);
  assert.equal(errors.length, 1);
  ac.abort();
  await loop;
});
