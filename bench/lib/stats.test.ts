import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, percentile, summarize } from './stats.ts';

test('percentile is nearest-rank: every value is a sample', () => {
  const xs = Array.from({ length: 30 }, (_, i) => i + 1); // 1..30
  assert.equal(percentile(xs, 50), 15);
  assert.equal(percentile(xs, 90), 27);
  assert.equal(percentile(xs, 99), 30);
  assert.equal(percentile(xs, 100), 30);
  assert.equal(percentile([5], 50), 5);
});

test('percentile ignores NaN and gives NaN for no sample', () => {
  assert.equal(percentile([3, Number.NaN, 1, 2], 50), 2);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.ok(Number.isNaN(percentile([Number.NaN], 50)));
});

test('median takes the midpoint for an even count', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.ok(Number.isNaN(median([])));
});

test('summarize counts only valid samples', () => {
  assert.deepEqual(summarize([10, 20, Number.NaN, 30]), { n: 3, p50: 20, p90: 30, p99: 30, max: 30 });
});
