import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareLogTime, criHeaderLength, logTimeFromMs, parseCriLine, parseRfc3339 } from './cri-format.ts';

const b = (s: string): Buffer => Buffer.from(s);

test('parseRfc3339: UTC with nanoseconds, the fixed form keeps 9 digits', () => {
  const t = parseRfc3339('2016-10-06T00:17:09.669794202Z');
  assert.ok(t);
  assert.deepEqual(t.time, { seconds: Date.UTC(2016, 9, 6, 0, 17, 9) / 1000, nanos: 669794202 });
  assert.equal(t.fixed, '2016-10-06T00:17:09.669794202Z');
});

test('parseRfc3339: no fraction, short fraction, long fraction (truncated), comma', () => {
  assert.equal(parseRfc3339('2024-01-02T03:04:05Z')?.fixed, '2024-01-02T03:04:05.000000000Z');
  assert.equal(parseRfc3339('2024-01-02T03:04:05.5Z')?.time.nanos, 500_000_000);
  assert.equal(parseRfc3339('2024-01-02T03:04:05.1234567891234Z')?.fixed, '2024-01-02T03:04:05.123456789Z');
  assert.equal(parseRfc3339('2024-01-02T03:04:05,25Z')?.time.nanos, 250_000_000);
});

test('parseRfc3339: zones keep their offset; a zero offset prints as Z', () => {
  const plus = parseRfc3339('2024-01-02T03:04:05.1+02:00');
  assert.ok(plus);
  assert.equal(plus.fixed, '2024-01-02T03:04:05.100000000+02:00');
  assert.equal(plus.time.seconds, Date.UTC(2024, 0, 2, 1, 4, 5) / 1000);
  const minus = parseRfc3339('2024-01-02T03:04:05-05:30');
  assert.equal(minus?.time.seconds, Date.UTC(2024, 0, 2, 8, 34, 5) / 1000);
  assert.equal(parseRfc3339('2024-01-02T03:04:05+00:00')?.fixed, '2024-01-02T03:04:05.000000000Z');
});

test('parseRfc3339: refuses malformed and impossible times', () => {
  for (const bad of [
    '',
    'now',
    '2024-01-02 03:04:05Z',
    '2024-01-02T03:04:05',
    '2024-13-02T03:04:05Z',
    '2024-02-30T03:04:05Z',
    '2024-01-02T24:00:00Z',
    '2024-01-02T03:60:05Z',
    '2024-01-02T03:04:60Z',
    '2024-01-02T03:04:05+0200',
    '2024-01-02T03:04:05.Z',
    '2024-01-02t03:04:05Z',
  ]) {
    assert.equal(parseRfc3339(bad), null, bad);
  }
  assert.ok(parseRfc3339('2024-02-29T00:00:00Z'), 'leap day');
});

test('logTimeFromMs and compareLogTime', () => {
  const t = logTimeFromMs(1_700_000_000_123);
  assert.deepEqual(t, { seconds: 1_700_000_000, nanos: 123_000_000 });
  assert.ok(compareLogTime(t, { seconds: 1_700_000_000, nanos: 123_000_001 }) < 0);
  assert.ok(compareLogTime(t, { seconds: 1_699_999_999, nanos: 999_999_999 }) > 0);
  assert.equal(compareLogTime(t, { ...t }), 0);
  assert.deepEqual(logTimeFromMs(-1), { seconds: -1, nanos: 999_000_000 });
});

test('parseCriLine: full and partial records', () => {
  const full = parseCriLine(b('2016-10-06T00:17:09.669794202Z stdout F log content 1\n'));
  assert.ok(full);
  assert.equal(full.stream, 'stdout');
  assert.equal(full.partial, false);
  assert.equal(full.content.toString(), 'log content 1\n');
  assert.equal(full.timestampText, '2016-10-06T00:17:09.669794202Z');

  const partial = parseCriLine(b('2016-10-06T00:17:09.669794203Z stderr P log content 2\n'));
  assert.ok(partial);
  assert.equal(partial.stream, 'stderr');
  assert.equal(partial.partial, true);
  assert.equal(partial.content.toString(), 'log content 2');
});

test('parseCriLine: tags after the first are ignored; an empty tag is a full record; empty content', () => {
  assert.equal(parseCriLine(b('2016-10-06T00:17:09Z stdout P:x:y abc\n'))?.partial, true);
  const emptyTag = parseCriLine(b('2016-10-06T00:17:09Z stdout  abc\n'));
  assert.equal(emptyTag?.partial, false);
  assert.equal(emptyTag?.content.toString(), 'abc\n');
  assert.equal(parseCriLine(b('2016-10-06T00:17:09Z stdout F \n'))?.content.toString(), '\n');
});

test('parseCriLine: malformed lines are null', () => {
  for (const bad of [
    'hello world\n',
    '2016-10-06T00:17:09Z stdout F\n',
    '2016-10-06T00:17:09Z stdout\n',
    '2016-10-06T00:17:09Z stdin F x\n',
    'yesterday stdout F x\n',
    '{"log":"x","stream":"stdout","time":"2016-10-20T18:39:20.57606443Z"}\n',
    '',
  ]) {
    assert.equal(parseCriLine(b(bad)), null, bad);
  }
});

test('criHeaderLength: through the third space, -1 when a newline comes first or it is too long', () => {
  assert.equal(criHeaderLength(b('2016-10-06T00:17:09Z stdout F x y z')), 30);
  assert.equal(criHeaderLength(b('2016-10-06T00:17:09Z stdout\n F x')), -1);
  assert.equal(criHeaderLength(b('x'.repeat(300) + '   ')), -1);
});
