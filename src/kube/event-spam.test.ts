import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventSpamFilter, SPAM_BURST, SPAM_MAX_KEYS, SPAM_REFILL_MS } from './event-spam.ts';

test('25 events per object at once, then one per 5 minutes; objects are independent', () => {
  const f = new EventSpamFilter();
  for (let i = 0; i < SPAM_BURST; i++) assert.equal(f.allow('pod-a', 0), true, `event ${i}`);
  assert.equal(f.allow('pod-a', 1000), false);
  assert.equal(f.allow('pod-b', 1000), true);
  assert.equal(f.allow('pod-a', SPAM_REFILL_MS - 1), false);
  assert.equal(f.allow('pod-a', SPAM_REFILL_MS + 1000), true);
  assert.equal(f.allow('pod-a', SPAM_REFILL_MS + 2000), false);
});

test('the least recently used object is forgotten beyond the cache size (it starts with a full bucket again)', () => {
  const f = new EventSpamFilter();
  for (let i = 0; i < SPAM_BURST; i++) f.allow('old', 0);
  assert.equal(f.allow('old', 0), false);
  for (let i = 0; i < SPAM_MAX_KEYS; i++) f.allow(`k${i}`, 0);
  assert.equal(f.allow('old', 0), true);
});
