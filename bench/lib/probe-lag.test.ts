import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundariesIn, expectedReady, flipBoundary, parseReadinessLine, TransitionTracker } from './probe-lag.ts';

test('expectedReady follows even 10 s slots', () => {
  assert.equal(expectedReady(0), true);
  assert.equal(expectedReady(9_999), true);
  assert.equal(expectedReady(10_000), false);
  assert.equal(expectedReady(20_500), true);
});

test('flipBoundary picks the latest boundary of the matching direction', () => {
  assert.equal(flipBoundary(20_700, true), 20_000); // ready slot started at 20 s
  assert.equal(flipBoundary(20_700, false), 10_000); // a late unready answers 10 s (lag 10.7 s)
  assert.equal(flipBoundary(31_200, false), 30_000);
});

test('parseReadinessLine reads pod status lines only', () => {
  const l = parseReadinessLine('{"level":30,"time":"2026-11-28T22:27:24.458Z","pod":"default/a","ready":"1/1","status":"Running","msg":"pod status"}');
  assert.deepEqual(l, { pod: 'default/a', ready: true, running: true, timeMs: Date.parse('2026-11-28T22:27:24.458Z') });
  assert.equal(parseReadinessLine('{"msg":"pod status","pod":"default/a","ready":"0/1","time":"2026-11-28T22:27:24.458Z"}')?.ready, false);
  assert.equal(parseReadinessLine('{"msg":"pod status","pod":"default/a","ready":"0/0","time":"2026-11-28T22:27:24.458Z"}')?.ready, false);
  assert.equal(parseReadinessLine('{"msg":"other","pod":"default/a","ready":"1/1","time":"2026-11-28T22:27:24.458Z"}'), null);
  assert.equal(parseReadinessLine('not json "pod status"'), null);
});

test('TransitionTracker yields changes with their lag', () => {
  const t = new TransitionTracker();
  assert.equal(t.add({ pod: 'p', ready: false, running: true, timeMs: 19_000 }), null);
  assert.equal(t.add({ pod: 'p', ready: false, running: true, timeMs: 19_500 }), null);
  assert.deepEqual(t.add({ pod: 'p', ready: true, running: true, timeMs: 20_900 }), { pod: 'p', ready: true, timeMs: 20_900, boundaryMs: 20_000, lagMs: 900 });
  assert.deepEqual(boundariesIn(15_000, 40_000), [20_000, 30_000, 40_000]);
});
