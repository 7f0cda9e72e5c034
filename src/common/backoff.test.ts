import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.ts';
import { isInvalidInput } from './errors.ts';
import { Backoff, CRASH_LOOP_BACKOFF, IMAGE_PULL_BACKOFF, crashLoopBackoffKey, imagePullBackoffKey } from './backoff.ts';

const S = 1000;

test('next: initial, doubling, capped at max', () => {
  const clock = new FakeClock(1_000_000);
  const b = new Backoff(CRASH_LOOP_BACKOFF, clock);
  const seen: number[] = [];
  for (let i = 0; i < 8; i++) {
    b.next('k');
    seen.push(b.delay('k') / S);
    clock.advance(b.delay('k'));
  }
  assert.deepEqual(seen, [10, 20, 40, 80, 160, 300, 300, 300]);
});

test('delay is 0 for an unknown key; keys are independent', () => {
  const clock = new FakeClock();
  const b = new Backoff({ initialMs: 1, maxMs: 8 }, clock);
  assert.equal(b.delay('a'), 0);
  b.next('a');
  b.next('a');
  b.next('b');
  assert.equal(b.delay('a'), 2);
  assert.equal(b.delay('b'), 1);
  assert.equal(b.size, 2);
});

/** The kubelet's doBackOff: skip the restart while backing off, else step the backoff and restart. */
function restartAllowed(b: Backoff, key: string, finishedAt: number): boolean {
  if (b.isInBackOffSince(key, finishedAt)) return false;
  b.next(key, finishedAt);
  return true;
}

test('crash loop: the kubelet waits 10, 20, 40, 80, 160, 300, 300 s between restarts', () => {
  const clock = new FakeClock(0);
  const b = new Backoff(CRASH_LOOP_BACKOFF, clock);
  const waits: number[] = [];
  for (let restarts = 0; restarts < 8; restarts++) {
    const finishedAt = clock.now(); // the container exits at once
    let waited = 0;
    while (!restartAllowed(b, 'k', finishedAt)) {
      clock.advance(S);
      waited += 1;
    }
    if (restarts > 0) waits.push(waited);
  }
  assert.deepEqual(waits, [10, 20, 40, 80, 160, 300, 300]);
});

test('crash loop: a container that ran for more than 600 s starts again at 10 s', () => {
  const clock = new FakeClock(0);
  const b = new Backoff(CRASH_LOOP_BACKOFF, clock);
  for (let i = 0; i < 6; i++) b.next('k');
  assert.equal(b.delay('k'), 300 * S);
  // Restarted at t=0 (last next), exits 600 s later: not expired yet (upstream uses '>').
  clock.advance(600 * S);
  assert.equal(b.isInBackOffSince('k', clock.now()), true);
  // Exits 600.001 s later: expired, no backoff, and next() starts again at 10 s.
  clock.advance(1);
  assert.equal(b.isInBackOffSince('k', clock.now()), false);
  b.next('k', clock.now());
  assert.equal(b.delay('k'), 10 * S);
});

test('isInBackOffSince measures from the event time, not the last update', () => {
  const clock = new FakeClock(100 * S);
  const b = new Backoff(CRASH_LOOP_BACKOFF, clock);
  b.next('k'); // 10 s
  assert.equal(b.isInBackOffSince('k', 95 * S), true); // 5 s since event
  assert.equal(b.isInBackOffSince('k', 90 * S), false); // exactly 10 s: not < delay
  assert.equal(b.isInBackOffSince('unknown', 100 * S), false);
});

test('the reset threshold defaults to 2 x max', () => {
  const clock = new FakeClock(0);
  const b = new Backoff({ initialMs: 1 * S, maxMs: 4 * S }, clock);
  b.next('k');
  b.next('k');
  clock.advance(8 * S);
  b.next('k');
  assert.equal(b.delay('k'), 4 * S);
  clock.advance(8 * S + 1);
  b.next('k');
  assert.equal(b.delay('k'), 1 * S);
});

test('image pulls: isInBackOffSinceUpdate measures from the last next()', () => {
  const clock = new FakeClock(0);
  const b = new Backoff(IMAGE_PULL_BACKOFF, clock);
  const key = imagePullBackoffKey('uid-1', 'nginx:1.27');
  assert.equal(key, 'uid-1_nginx:1.27');
  assert.equal(b.isInBackOffSinceUpdate(key, clock.now()), false);
  b.next(key); // pull failed
  clock.advance(9 * S);
  assert.equal(b.isInBackOffSinceUpdate(key, clock.now()), true);
  clock.advance(1 * S);
  assert.equal(b.isInBackOffSinceUpdate(key, clock.now()), false);
  b.next(key); // failed again: 20 s
  clock.advance(19 * S);
  assert.equal(b.isInBackOffSinceUpdate(key, clock.now()), true);
  clock.advance(600 * S);
  assert.equal(b.isInBackOffSinceUpdate(key, clock.now()), false); // expired
});

test('reset forgets a key', () => {
  const clock = new FakeClock(0);
  const b = new Backoff(CRASH_LOOP_BACKOFF, clock);
  b.next('k');
  b.next('k');
  b.reset('k');
  assert.equal(b.delay('k'), 0);
  assert.equal(b.isInBackOffSince('k', clock.now()), false);
  b.next('k');
  assert.equal(b.delay('k'), 10 * S);
});

test('gc drops entries idle for more than the reset threshold', () => {
  const clock = new FakeClock(0);
  const b = new Backoff(CRASH_LOOP_BACKOFF, clock);
  b.next('old');
  clock.advance(300 * S);
  b.next('young');
  clock.advance(300 * S);
  b.gc();
  assert.equal(b.size, 2); // 'old' idle exactly 600 s: kept
  clock.advance(1);
  b.gc();
  assert.equal(b.size, 1);
  assert.equal(b.delay('old'), 0);
  assert.equal(b.delay('young'), 10 * S);
});

test('options are validated', () => {
  const clock = new FakeClock();
  assert.throws(() => new Backoff({ initialMs: -1, maxMs: 1 }, clock), isInvalidInput);
  assert.throws(() => new Backoff({ initialMs: 1, maxMs: Number.NaN }, clock), isInvalidInput);
  assert.throws(() => new Backoff({ initialMs: 1, maxMs: 1, resetAfterMs: Infinity }, clock), isInvalidInput);
});

test('crashLoopBackoffKey follows upstream getStableKey', () => {
  assert.equal(crashLoopBackoffKey({ name: 'web', namespace: 'default', uid: 'u1' }, 'nginx', '1a2b'), 'web_default_u1_nginx_1a2b');
});
