import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isInvalidInput } from '../common/errors.ts';
import { DEFAULT_LOG_OPTIONS, parseLogOptions } from './options.ts';

const NOW = Date.UTC(2024, 0, 1, 12, 0, 0);
const parse = (q: string): ReturnType<typeof parseLogOptions> => parseLogOptions(new URLSearchParams(q), NOW);
const rejects = (q: string, message?: RegExp): void => {
  assert.throws(
    () => parse(q),
    (err: unknown) => isInvalidInput(err) && (!message || message.test((err as Error).message)),
    q,
  );
};

test('no parameters: the defaults', () => {
  assert.deepEqual(parse(''), DEFAULT_LOG_OPTIONS);
});

test('booleans: the forms of Go strconv.ParseBool, a bare name is true, others are refused', () => {
  for (const v of ['true', '1', 't', 'T', 'TRUE', 'True', '']) assert.equal(parse(`follow=${v}`).follow, true, v);
  for (const v of ['false', '0', 'f', 'F', 'FALSE', 'False']) assert.equal(parse(`follow=${v}`).follow, false, v);
  assert.equal(parse('follow').follow, true);
  const o = parse('follow=true&previous=1&timestamps=true');
  assert.deepEqual([o.follow, o.previous, o.timestamps], [true, true, true]);
  rejects('follow=yes', /follow/);
  rejects('timestamps=2', /timestamps/);
  rejects('previous=tRuE', /previous/);
});

test('tailLines: integers >= 0; the legacy tail parameter', () => {
  assert.equal(parse('tailLines=10').tailLines, 10);
  assert.equal(parse('tailLines=0').tailLines, 0);
  assert.equal(parse('tailLines=%2B7').tailLines, 7);
  assert.equal(parse('tailLines=').tailLines, 0, 'empty decodes as 0, as upstream');
  rejects('tailLines=-1', /tailLines/);
  rejects('tailLines=1.5', /tailLines/);
  rejects('tailLines=abc', /tailLines/);
  rejects('tailLines=99999999999999999999', /out of range/);
  assert.equal(parse('tail=5').tailLines, 5);
  assert.equal(parse('tailLines=3&tail=all').tailLines, null);
  assert.equal(parse('tailLines=3&tail=').tailLines, 3, 'an empty legacy tail is ignored');
});

test('limitBytes: integers >= 1', () => {
  assert.equal(parse('limitBytes=1').limitBytes, 1);
  assert.equal(parse('limitBytes=500').limitBytes, 500);
  rejects('limitBytes=0', /limitBytes/);
  rejects('limitBytes=-3', /limitBytes/);
  rejects('limitBytes=x', /limitBytes/);
});

test('sinceSeconds: >= 1, relative to now', () => {
  assert.deepEqual(parse('sinceSeconds=60').since, { seconds: NOW / 1000 - 60, nanos: 0 });
  rejects('sinceSeconds=0', /sinceSeconds/);
  rejects('sinceSeconds=-5', /sinceSeconds/);
});

test('sinceTime: RFC 3339 (fraction allowed); empty or null is no filter', () => {
  assert.deepEqual(parse('sinceTime=2024-01-01T11:00:00Z').since, { seconds: NOW / 1000 - 3600, nanos: 0 });
  assert.deepEqual(parse(`sinceTime=${encodeURIComponent('2024-01-01T13:00:00.5+02:00')}`).since, { seconds: NOW / 1000 - 3600, nanos: 500_000_000 });
  assert.equal(parse('sinceTime=').since, null);
  assert.equal(parse('sinceTime=null').since, null);
  rejects('sinceTime=yesterday', /sinceTime/);
  rejects('sinceTime=2024-01-01', /sinceTime/);
});

test('sinceSeconds and sinceTime together are refused', () => {
  rejects('sinceSeconds=10&sinceTime=2024-01-01T11:00:00Z', /at most one/);
  rejects('sinceSeconds=10&sinceTime=', /at most one/);
});

test('stream: All, Stdout, Stderr; a specific stream excludes tailLines', () => {
  assert.equal(parse('stream=Stdout').stream, 'Stdout');
  assert.equal(parse('stream=Stderr').stream, 'Stderr');
  assert.equal(parse('stream=All&tailLines=3').stream, 'All');
  rejects('stream=stdout', /stream/);
  rejects('stream=', /stream/);
  rejects('stream=Stdout&tailLines=3', /mutually exclusive/);
  rejects('stream=Stderr&tail=3', /mutually exclusive/);
  assert.equal(parse('stream=Stderr&tail=all').stream, 'Stderr');
});

test('unknown parameters are ignored; the first of repeated values counts', () => {
  const o = parse('container=x&insecureSkipTLSVerifyBackend=true&foo=bar&tailLines=2&tailLines=9');
  assert.equal(o.tailLines, 2);
  assert.equal(o.follow, false);
});
