import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQuantity } from './quantity.ts';
import { isInvalidInput } from '../common/errors.ts';

test('parseQuantity: decimal, binary and exponent forms in base units', () => {
  const cases: [string, number][] = [
    ['1', 1],
    ['0', 0],
    ['100m', 0.1],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['250u', 250e-6],
    ['5n', 5e-9],
    ['2k', 2000],
    ['64Mi', 64 * 1024 * 1024],
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['128974848', 128974848],
    ['129e6', 129e6],
    ['129M', 129e6],
    ['1E', 1e18],
    ['2E-3', 0.002],
    ['+1Ki', 1024],
    ['-1', -1],
  ];
  for (const [s, want] of cases) assert.ok(Math.abs(parseQuantity(s) - want) <= Math.abs(want) * 1e-12, `${s} → ${parseQuantity(s)}`);
});

test('parseQuantity: rejects malformed quantities with invalidInput', () => {
  for (const s of ['', 'abc', '1x', '1K', '1mi', '1 Gi', '1e', '1..2', 'Mi', '1constructor', '1e999']) {
    assert.throws(() => parseQuantity(s), (err) => isInvalidInput(err), s);
  }
});
