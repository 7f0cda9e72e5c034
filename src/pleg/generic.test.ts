import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import type { RuntimeService } from '../cri/client.ts';
import { silentLogger } from '../observability/logger.ts';
import { GenericPleg } from './generic.ts';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

test('relistSoon brings relists forward (50 ms and 300 ms after the event, once per burst); the period goes on', async () => {
  const clock = new FakeClock(0);
  const relists: number[] = [];
  const runtime = {
    listPodSandbox: async () => {
      relists.push(clock.now());
      return [];
    },
    listContainers: async () => [],
  } as unknown as RuntimeService;
  const pleg = new GenericPleg({ runtime, clock, logger: silentLogger, onPodChanged: () => {}, onRelist: () => {} });
  const ac = new AbortController();
  const loop = pleg.run(ac.signal);
  await settle();
  assert.deepEqual(relists, [0]);
  clock.advance(100);
  pleg.relistSoon(ac.signal);
  pleg.relistSoon(ac.signal); // a burst: the same two relists
  await settle();
  clock.advance(50);
  await settle();
  assert.deepEqual(relists, [0, 150]);
  clock.advance(250);
  await settle();
  assert.deepEqual(relists, [0, 150, 400]);
  clock.advance(1000);
  await settle();
  assert.deepEqual(relists, [0, 150, 400, 1400]);
  ac.abort();
  await loop;
});
