import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidInput } from '../common/errors.ts';
import {
  milliValue,
  nanosToMilli,
  nanosToNumber,
  nanosToValue,
  parseNonNegativeQuantity,
  parseQuantity,
  parseQuantityNanos,
  value,
} from './quantity.ts';

const INT64_MAX = 2n ** 63n - 1n;

test('parseQuantity: plain numbers, fractions and signs', () => {
  const cases: [string | number, number][] = [
    ['0', 0], ['1', 1], ['007', 7], ['1.5', 1.5], ['.5', 0.5], ['5.', 5], ['-1', -1], ['+2', 2], ['-.5', -0.5],
    [12, 12], [0.25, 0.25], [-3, -3], [1e18, 1e18], [1e21, Number(INT64_MAX)],
  ];
  for (const [input, want] of cases) assert.equal(parseQuantity(input), want, String(input));
});

test('parseQuantity: decimal SI suffixes', () => {
  const cases: [string, number][] = [
    ['100m', 0.1], ['1n', 1e-9], ['5u', 5e-6], ['1k', 1000], ['1M', 1e6], ['1.5G', 1.5e9], ['2T', 2e12],
    ['1P', 1e15], ['1E', 1e18], ['250m', 0.25], ['1500m', 1.5],
  ];
  for (const [input, want] of cases) assert.equal(parseQuantity(input), want, input);
});

test('parseQuantity: binary SI suffixes', () => {
  const cases: [string, number][] = [
    ['1Ki', 1024], ['1Mi', 2 ** 20], ['1Gi', 1073741824], ['1Ti', 2 ** 40], ['1Pi', 2 ** 50], ['1Ei', 2 ** 60],
    ['1.5Gi', 1.5 * 2 ** 30], ['0.5Ki', 512], ['-2Mi', -(2 ** 21)],
  ];
  for (const [input, want] of cases) assert.equal(parseQuantity(input), want, input);
});

test('parseQuantity: exponent forms', () => {
  const cases: [string | number, number][] = [
    ['1e3', 1000], ['1E3', 1000], ['1e+3', 1000], ['1e-3', 0.001], ['1E-3', 0.001], ['1.5e2', 150], ['12e0', 12],
    [1e-7, 1e-7],
  ];
  for (const [input, want] of cases) assert.equal(parseQuantity(input), want, String(input));
});

test('parseQuantityNanos is exact', () => {
  assert.equal(parseQuantityNanos('100m'), 100_000_000n);
  assert.equal(parseQuantityNanos('0.1') + parseQuantityNanos('0.2'), parseQuantityNanos('300m'));
  assert.equal(parseQuantityNanos('1Gi'), 1073741824n * 1_000_000_000n);
  assert.equal(parseQuantityNanos('1.5Ki'), 1536n * 1_000_000_000n);
});

test('precision below one nano rounds up, away from zero', () => {
  assert.equal(parseQuantityNanos('0.1n'), 1n);
  assert.equal(parseQuantityNanos('-0.1n'), -1n);
  assert.equal(parseQuantityNanos('1e-10'), 1n);
  assert.equal(parseQuantityNanos('1.0000000001'), 1_000_000_001n);
  assert.equal(parseQuantityNanos('1e-300'), 1n);
  assert.equal(parseQuantityNanos('0e-20'), 0n);
});

test('magnitudes are capped at 2^63-1', () => {
  assert.equal(parseQuantityNanos('100E'), INT64_MAX * 1_000_000_000n);
  assert.equal(parseQuantityNanos('-100E'), -INT64_MAX * 1_000_000_000n);
  assert.equal(parseQuantityNanos('1e999999999999'), INT64_MAX * 1_000_000_000n);
  assert.equal(parseQuantityNanos('9223372036854775807'), INT64_MAX * 1_000_000_000n);
  assert.equal(parseQuantityNanos('16Ei'), INT64_MAX * 1_000_000_000n);
});

test('upstream leniency: a number part without digits is zero', () => {
  for (const input of ['-', '+', '.', '-.', 'k', 'Mi', '-Ki', 'e3', 'E']) assert.equal(parseQuantity(input), 0, input);
});

test('garbage is InvalidInput naming the text', () => {
  const bad = [
    '', ' 1', '1 ', '1.1.M', '1+1.0M', '0.1mi', '0.1am', 'aoeu', '.5i', '1i', '-3.01i', '-3.01e-', '1e', '1kk', '1K',
    '1M-3', '1e3e', '1e1.5', '..5', '1,5', '1e99999999999999999999', 'e-10', '.e-12',
  ];
  for (const input of bad) {
    assert.throws(() => parseQuantity(input), (err: unknown) => {
      assert.ok(isInvalidInput(err), input);
      assert.match((err as Error).message, new RegExp(JSON.stringify(input).replace(/[.+*?()[\]\\^$]/g, '\\$&')));
      return true;
    }, input);
  }
  assert.throws(() => parseQuantity(Number.NaN), isInvalidInput);
  assert.throws(() => parseQuantity(Infinity), isInvalidInput);
  assert.throws(() => parseQuantity(null as unknown as string), isInvalidInput);
});

test('error messages follow upstream wording', () => {
  assert.throws(() => parseQuantity('x1'), /must match the regular expression/);
  assert.throws(() => parseQuantity('1kk'), /unable to parse quantity's suffix/);
  assert.throws(() => parseQuantity('e-10'), /unable to parse numeric part/);
});

test('parseNonNegativeQuantity rejects negatives only', () => {
  assert.equal(parseNonNegativeQuantity('0'), 0);
  assert.equal(parseNonNegativeQuantity('-0'), 0);
  assert.equal(parseNonNegativeQuantity('2Gi'), 2 ** 31);
  assert.throws(() => parseNonNegativeQuantity('-1m'), (err: unknown) => isInvalidInput(err) && /"-1m".*greater than or equal to 0/.test((err as Error).message));
  assert.throws(() => parseNonNegativeQuantity('bad'), isInvalidInput);
});

test('milliValue rounds up like upstream MilliValue', () => {
  const cases: [string | number, number][] = [
    ['1', 1000], ['100m', 100], ['0.1m', 1], ['1n', 1], ['1.0001', 1001], ['0', 0], ['-1n', -1], ['-1.5m', -2],
    ['2Ki', 2048000], [0.5, 500],
  ];
  for (const [input, want] of cases) assert.equal(milliValue(input), want, String(input));
});

test('value rounds up like upstream Value', () => {
  const cases: [string | number, number][] = [
    ['1', 1], ['1500m', 2], ['1m', 1], ['1001m', 2], ['1000m', 1], ['0', 0], ['-1500m', -2], ['1Gi', 1073741824],
    ['1.5Gi', 1610612736], ['123Mi', 128974848], ['1e3', 1000],
  ];
  for (const [input, want] of cases) assert.equal(value(input), want, String(input));
});

test('nano helpers', () => {
  assert.equal(nanosToNumber(1_500_000_000n), 1.5);
  assert.equal(nanosToNumber(-1_500_000_000n), -1.5);
  assert.equal(nanosToMilli(1n), 1);
  assert.equal(nanosToValue(1_000_000_001n), 2);
  assert.equal(nanosToValue(0n), 0);
});

test('long inputs parse in linear time', () => {
  const start = performance.now();
  assert.throws(() => parseQuantity('1'.repeat(200_000) + 'x'), isInvalidInput);
  assert.equal(parseQuantityNanos('1'.repeat(2000)), INT64_MAX * 1_000_000_000n);
  assert.ok(performance.now() - start < 1000);
});
