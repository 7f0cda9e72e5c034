import { LABEL_MANAGED_BY } from '../kuberuntime/labels.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import type { Container, Image } from '../cri/types.ts';
import { silentLogger } from '../observability/logger.ts';
import { ImageGCManager, bytesToFree, imagesInUse, imagesToRemove, type ImageRecord } from './image-gc.ts';
import { deleteAllUnusedContainers } from './container-gc.ts';

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

test('deleteAllUnusedContainers removes our exited containers only', async () => {
  const removed: string[] = [];
  const ours = { [LABEL_MANAGED_BY]: 'true' };
  const n = await deleteAllUnusedContainers({
    listContainers: () => Promise.resolve([
      { id: 'a', state: 'CONTAINER_EXITED', labels: ours }, { id: 'b', state: 'CONTAINER_RUNNING', labels: ours },
      { id: 'c', state: 'CONTAINER_EXITED', labels: ours }, { id: 'foreign', state: 'CONTAINER_EXITED', labels: {} },
    ] as unknown as Container[]),
    removeContainer: (id) => {
      removed.push(id);
      return Promise.resolve();
    },
  }, silentLogger, new AbortController().signal);
  assert.equal(n, 2);
  assert.deepEqual(removed, ['a', 'c']);
});
