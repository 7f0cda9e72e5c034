import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import type { Container, Image } from '../cri/types.ts';
import { silentLogger } from '../observability/logger.ts';
import { ImageGCManager, bytesToFree, imagesInUse, imagesToRemove, oldImagesToRemove, type ImageRecord } from './image-gc.ts';

test('bytesToFree: nothing below the high threshold, down to the low one above it', () => {
  const policy = { highThresholdPercent: 85, lowThresholdPercent: 80 };
  assert.equal(bytesToFree(1000, 200, policy), 0); // 80 % used
  assert.equal(bytesToFree(1000, 150, policy), 50); // 85 %: free down to 80 %
  assert.equal(bytesToFree(1000, 100, policy), 100);
  assert.equal(bytesToFree(1000, 0, { highThresholdPercent: 100, lowThresholdPercent: 80 }), 0);
});

const rec = (id: string, lastUsedMs: number, firstDetectedMs = 0, sizeBytes = 10, pinned = false): ImageRecord => ({ id, lastUsedMs, firstDetectedMs, sizeBytes, pinned });

test('imagesToRemove: unused, unpinned, old enough, least recently used first, until enough is freed', () => {
  const records = [rec('a', 50), rec('b', 10), rec('used', 0), rec('pinned', 0, 0, 10, true), rec('young', 0, 990), rec('c', 30)];
  const ids = (r: ImageRecord[]): string[] => r.map((x) => x.id);
  assert.deepEqual(ids(imagesToRemove(records, new Set(['used']), 1000, 100, 15)), ['b', 'c']);
  assert.deepEqual(ids(imagesToRemove(records, new Set(['used']), 1000, 100, Infinity)), ['b', 'c', 'a']);
  assert.deepEqual(ids(imagesToRemove(records, new Set(['used']), 1000, 0, Infinity)), ['young', 'b', 'c', 'a']);
});

const image = (id: string, tags: string[], size = 100, pinned = false): Image => ({ id, repo_tags: tags, repo_digests: [], size, uid: null, username: '', spec: null, pinned });

test('imagesInUse: by ID, tag or digest', () => {
  const images = [image('sha256:1', ['r/busybox:1']), image('sha256:2', ['r/other:1']), image('sha256:3', [])];
  assert.deepEqual([...imagesInUse(images, ['r/busybox:1', 'sha256:3', ''])].sort(), ['sha256:1', 'sha256:3']);
});

test('ImageGCManager: deleteUnusedImages keeps used, pinned and sandbox images; GC runs only above the high threshold', async () => {
  const clock = new FakeClock(1_000_000);
  let images = [image('sha256:busy', ['r/busybox:1']), image('sha256:pause', ['r/pause:3'], 1), image('sha256:pinned', ['r/p:1'], 1, true), image('sha256:old', ['r/old:1'], 300), image('sha256:old2', ['r/old2:1'], 300)];
  const removed: string[] = [];
  let available = 500;
  const m = new ImageGCManager({
    images: {
      listImages: () => Promise.resolve(images),
      removeImage: (id) => {
        removed.push(id);
        images = images.filter((i) => i.id !== id);
        available += 300;
        return Promise.resolve();
      },
      imageFsInfo: () => Promise.resolve({ imageFilesystems: [{ timestamp: 0, fs_id: { mountpoint: '/var/lib/containerd' }, used_bytes: null, inodes_used: null }], containerFilesystems: [] }),
    },
    runtime: { listContainers: () => Promise.resolve([{ id: 'c', image_ref: 'sha256:busy', image: null, state: 'CONTAINER_EXITED' } as unknown as Container]) },
    fsInfo: () => Promise.resolve({ capacityBytes: 1000, availableBytes: available }),
    policy: { highThresholdPercent: 50, lowThresholdPercent: 20, minAgeMs: 60_000 },
    sandboxImage: 'r/pause:3',
    clock,
    logger: silentLogger,
  });
  const signal = new AbortController().signal;
  assert.equal(await m.garbageCollect(signal), 0, '50 % used, but nothing is old enough yet');
  assert.deepEqual(removed, []);
  clock.advance(60_000);
  available = 600; // 40 % used: below the high threshold
  assert.equal(await m.garbageCollect(signal), 0);
  available = 400; // 60 % used: free down to 20 % (400 bytes), least recently used first
  assert.equal(await m.garbageCollect(signal), 600);
  assert.deepEqual(removed.sort(), ['sha256:old', 'sha256:old2']);
  images.push(image('sha256:new', ['r/new:1']));
  assert.equal(await m.deleteUnusedImages(signal), 0, 'a new image is not removed before the minimum age');
  clock.advance(60_000);
  await m.deleteUnusedImages(signal);
  assert.deepEqual(images.map((i) => i.id), ['sha256:busy', 'sha256:pause', 'sha256:pinned']);
});

test('oldImagesToRemove: unused, unpinned, last used more than maxAge ago, once the kubelet has run that long', () => {
  const records = [rec('old', 1_000), rec('recent', 9_000), rec('used', 0), rec('pinned', 0, 0, 10, true), rec('never', 0, 9_500)];
  const ids = (r: ImageRecord[]): string[] => r.map((x) => x.id);
  assert.deepEqual(ids(oldImagesToRemove(records, new Set(['used']), 10_000, 0, 5_000)), ['old', 'never']);
  assert.deepEqual(ids(oldImagesToRemove(records, new Set(['used']), 10_000, 0, 0)), [], 'disabled');
  assert.deepEqual(ids(oldImagesToRemove(records, new Set(['used']), 10_000, 5_000, 5_000)), [], 'the kubelet has not run for maxAge yet');
});

test('ImageGCManager: images unused for imageMaximumGCAge go at each round, whatever the disk usage', async () => {
  const clock = new FakeClock(1_000_000);
  const hour = 3_600_000;
  let images = [image('sha256:busy', ['r/busybox:1']), image('sha256:pause', ['r/pause:3'], 1), image('sha256:pinned', ['r/p:1'], 1, true), image('sha256:old', ['r/old:1'], 300)];
  let inUse = ['sha256:busy', 'sha256:old'];
  const removed: string[] = [];
  const m = new ImageGCManager({
    images: {
      listImages: () => Promise.resolve(images),
      removeImage: (id) => {
        removed.push(id);
        images = images.filter((i) => i.id !== id);
        return Promise.resolve();
      },
      imageFsInfo: () => Promise.resolve({ imageFilesystems: [{ timestamp: 0, fs_id: { mountpoint: '/var/lib/containerd' }, used_bytes: null, inodes_used: null }], containerFilesystems: [] }),
    },
    runtime: { listContainers: () => Promise.resolve(inUse.map((ref) => ({ id: ref, image_ref: ref, image: null, state: 'CONTAINER_RUNNING' }) as unknown as Container)) },
    fsInfo: () => Promise.resolve({ capacityBytes: 1000, availableBytes: 900 }), // 10 % used: never over the threshold
    policy: { highThresholdPercent: 85, lowThresholdPercent: 80, minAgeMs: 2 * 60_000, maxAgeMs: hour },
    sandboxImage: 'r/pause:3',
    clock,
    logger: silentLogger,
  });
  const signal = new AbortController().signal;
  assert.equal(await m.garbageCollect(signal), 0);
  inUse = ['sha256:busy']; // 'old' last used now
  clock.advance(hour / 2);
  assert.equal(await m.garbageCollect(signal), 0);
  clock.advance(hour / 2);
  assert.equal(await m.garbageCollect(signal), 0, 'last used exactly maxAge ago: kept (the age must exceed it)');
  clock.advance(1);
  assert.equal(await m.garbageCollect(signal), 300);
  assert.deepEqual(removed, ['sha256:old']);
  assert.deepEqual(images.map((i) => i.id), ['sha256:busy', 'sha256:pause', 'sha256:pinned'], 'in use, sandbox and pinned images stay');
});
