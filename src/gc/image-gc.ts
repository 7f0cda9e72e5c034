// Image garbage collection (upstream pkg/kubelet/images/image_gc_manager.go): every 5 minutes,
// when the image filesystem is at least imageGCHighThresholdPercent full, remove unused images,
// least recently used first, until it is down to imageGCLowThresholdPercent. An image is never
// removed while a container (of any state) uses it, when the runtime pins it, when it is the
// sandbox image, or before imageMinimumGCAge has passed since the kubelet first saw it. Before the
// disk check, each round also removes the unused images not used for imageMaximumGCAge (when set,
// and once the kubelet has run that long: upstream freeOldImages). The eviction manager calls
// deleteUnusedImages under disk pressure (every unused image old enough).
import type { Clock } from '../common/clock.ts';
import { runEvery } from '../common/periodic.ts';
import { errorMessage, isAbort, isNotFound } from '../common/errors.ts';
import type { ImageService, RuntimeService } from '../cri/client.ts';
import type { Image } from '../cri/types.ts';
import type { Logger } from '../observability/logger.ts';

/** How often images are garbage collected, ms (upstream ImageGCPeriod, 5 min). */
export const IMAGE_GC_PERIOD_MS = 5 * 60_000;

export interface ImageGCPolicy {
  /** Disk usage (percent of the image filesystem) at or above which GC runs; 100 disables it. */
  highThresholdPercent: number;
  /** Disk usage GC frees down to. */
  lowThresholdPercent: number;
  /** An image is not removed before this long after the kubelet first saw it, ms. */
  minAgeMs: number;
  /** An unused image not used for this long is removed whatever the disk usage, ms; 0 disables it (upstream MaxAge). */
  maxAgeMs?: number;
}

/** What the kubelet knows of one image (upstream imageRecord). */
export interface ImageRecord {
  id: string;
  /** When this kubelet first listed it, and last saw a container use it, ms. */
  firstDetectedMs: number;
  lastUsedMs: number;
  sizeBytes: number;
  pinned: boolean;
}

/**
 * Upstream GarbageCollect's arithmetic: bytes to free so that usage falls to the low threshold,
 * or 0 while usage (100 − available × 100 / capacity, in whole percent) is below the high one.
 */
export function bytesToFree(capacityBytes: number, availableBytes: number, policy: Pick<ImageGCPolicy, 'highThresholdPercent' | 'lowThresholdPercent'>): number {
  if (capacityBytes <= 0 || policy.highThresholdPercent >= 100) return 0;
  const usagePercent = 100 - Math.trunc((availableBytes * 100) / capacityBytes);
  if (usagePercent < policy.highThresholdPercent) return 0;
  return Math.max(0, Math.trunc((capacityBytes * (100 - policy.lowThresholdPercent)) / 100) - availableBytes);
}

/**
 * Upstream freeSpace's choice: unused, unpinned images old enough, least recently used first
 * (then first detected), until `amount` bytes are covered. Pure.
 */
export function imagesToRemove(records: readonly ImageRecord[], inUse: ReadonlySet<string>, nowMs: number, minAgeMs: number, amount: number): ImageRecord[] {
  const candidates = records
    .filter((r) => !inUse.has(r.id) && !r.pinned && nowMs - r.firstDetectedMs >= minAgeMs)
    .sort((a, b) => a.lastUsedMs - b.lastUsedMs || a.firstDetectedMs - b.firstDetectedMs);
  const out: ImageRecord[] = [];
  let freed = 0;
  for (const r of candidates) {
    if (freed >= amount) break;
    out.push(r);
    freed += r.sizeBytes;
  }
  return out;
}

/**
 * Upstream freeOldImages' choice: unused, unpinned images whose last use (never: the epoch) is
 * more than `maxAgeMs` ago. None while maxAgeMs is 0 or the kubelet has not yet run for
 * maxAgeMs since `startedMs` (it only knows of uses since then). Pure.
 */
export function oldImagesToRemove(records: readonly ImageRecord[], inUse: ReadonlySet<string>, nowMs: number, startedMs: number, maxAgeMs: number): ImageRecord[] {
  if (maxAgeMs <= 0 || nowMs - startedMs <= maxAgeMs) return [];
  return records.filter((r) => !inUse.has(r.id) && !r.pinned && nowMs - r.lastUsedMs > maxAgeMs);
}

/** The image IDs the containers use: a container names its image by ID, tag or digest. Pure. */
export function imagesInUse(images: readonly Image[], containerImageRefs: readonly string[]): Set<string> {
  const refs = new Set(containerImageRefs.filter(Boolean));
  const out = new Set<string>();
  for (const img of images) {
    if (refs.has(img.id) || img.repo_tags.some((t) => refs.has(t)) || img.repo_digests.some((d) => refs.has(d))) out.add(img.id);
  }
  return out;
}

export interface ImageGCDeps {
  images: Pick<ImageService, 'listImages' | 'removeImage' | 'imageFsInfo'>;
  runtime: Pick<RuntimeService, 'listContainers'>;
  /** statfs of a folder (the image filesystem's mount point); null when it cannot be read. */
  fsInfo: (dir: string) => Promise<{ capacityBytes: number; availableBytes: number } | null>;
  policy: ImageGCPolicy;
  /** The sandbox (pause) image: never removed, whatever the runtime says about pinning. */
  sandboxImage: string;
  clock: Clock;
  logger: Logger;
}

export class ImageGCManager {
  private readonly deps: ImageGCDeps;
  private readonly log: Logger;
  private readonly records = new Map<string, ImageRecord>();
  /** When GC began (upstream beganGC): uses before it are unknown, so maxAge counts from here. */
  private readonly startedMs: number;

  constructor(deps: ImageGCDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'image-gc' });
    this.startedMs = deps.clock.now();
  }

  /** Runs GC now and every IMAGE_GC_PERIOD_MS until the signal aborts; failures are logged. */
  run(signal: AbortSignal): Promise<void> {
    return runEvery(this.deps.clock, IMAGE_GC_PERIOD_MS, signal, (s) => this.garbageCollect(s), (err) => this.log.warn({ err: errorMessage(err) }, 'Image garbage collection failed'));
  }

  /**
   * One GC round (upstream GarbageCollect): images past the maximum age, then space down to the
   * low threshold. Resolves to the bytes freed. Rejects when the runtime cannot be listed.
   */
  async garbageCollect(signal: AbortSignal): Promise<number> {
    const { images, inUse } = await this.detectImages(signal);
    const oldFreed = await this.freeOldImages(images, inUse, signal);
    const fs = await this.deps.images.imageFsInfo(signal);
    const mountpoint = fs.imageFilesystems[0]?.fs_id?.mountpoint;
    const info = mountpoint ? await this.deps.fsInfo(mountpoint) : null;
    if (!info) return oldFreed;
    const amount = bytesToFree(info.capacityBytes, info.availableBytes, this.deps.policy);
    if (amount <= 0) return oldFreed;
    this.log.info({ usagePercent: 100 - Math.trunc((info.availableBytes * 100) / info.capacityBytes), highThresholdPercent: this.deps.policy.highThresholdPercent, bytesToFree: amount }, 'Disk usage on image filesystem is over the high threshold, trying to free bytes down to the low threshold');
    const freed = await this.freeSpace(images, inUse, amount, signal);
    if (freed < amount) this.log.warn({ bytesToFree: amount, freed }, 'Failed to garbage collect required amount of images');
    return oldFreed + freed;
  }

  /** Upstream freeOldImages: removes the unused images not used for the policy's maxAgeMs. Resolves to the bytes freed. */
  private async freeOldImages(images: readonly Image[], inUse: ReadonlySet<string>, signal: AbortSignal): Promise<number> {
    const maxAgeMs = this.deps.policy.maxAgeMs ?? 0;
    let freed = 0;
    for (const r of oldImagesToRemove([...this.records.values()], inUse, this.deps.clock.now(), this.startedMs, maxAgeMs)) {
      if (await this.freeImage(r, images, signal, { reason: 'age', maxAgeMs, lastUsed: r.lastUsedMs > 0 ? new Date(r.lastUsedMs).toISOString() : 'never' })) freed += r.sizeBytes;
    }
    return freed;
  }

  /** Upstream DeleteUnusedImages (disk pressure): every unused image old enough. Resolves to the bytes freed. */
  async deleteUnusedImages(signal: AbortSignal): Promise<number> {
    const { images, inUse } = await this.detectImages(signal);
    return this.freeSpace(images, inUse, Number.POSITIVE_INFINITY, signal);
  }

  /** Lists images and containers; records first detection and last use; forgets images gone. */
  private async detectImages(signal: AbortSignal): Promise<{ images: Image[]; inUse: Set<string> }> {
    const now = this.deps.clock.now();
    const [images, containers] = await Promise.all([this.deps.images.listImages(signal), this.deps.runtime.listContainers(undefined, signal)]);
    const inUse = imagesInUse(images, [...containers.flatMap((c) => [c.image_ref, c.image?.image ?? '', c.image_id]), this.deps.sandboxImage]);
    const seen = new Set<string>();
    for (const img of images) {
      seen.add(img.id);
      const prev = this.records.get(img.id);
      this.records.set(img.id, {
        id: img.id,
        firstDetectedMs: prev?.firstDetectedMs ?? now,
        lastUsedMs: inUse.has(img.id) ? now : (prev?.lastUsedMs ?? 0),
        sizeBytes: img.size,
        pinned: img.pinned,
      });
    }
    for (const id of [...this.records.keys()]) if (!seen.has(id)) this.records.delete(id);
    return { images, inUse };
  }

  private async freeSpace(images: readonly Image[], inUse: ReadonlySet<string>, amount: number, signal: AbortSignal): Promise<number> {
    const chosen = imagesToRemove([...this.records.values()], inUse, this.deps.clock.now(), this.deps.policy.minAgeMs, amount);
    let freed = 0;
    for (const r of chosen) if (await this.freeImage(r, images, signal, { reason: 'space' })) freed += r.sizeBytes;
    return freed;
  }

  /** Upstream freeImage: removes one image and forgets it; false when the runtime refused (logged). */
  private async freeImage(r: ImageRecord, images: readonly Image[], signal: AbortSignal, why: Record<string, unknown>): Promise<boolean> {
    const tags = images.find((i) => i.id === r.id)?.repo_tags ?? [];
    try {
      await this.deps.images.removeImage(r.id, signal);
      this.records.delete(r.id);
      this.log.info({ imageID: r.id, tags, sizeBytes: r.sizeBytes, ...why }, 'Removing image to free bytes');
      return true;
    } catch (err) {
      if (isAbort(err) && signal.aborted) throw err;
      if (!isNotFound(err)) this.log.warn({ imageID: r.id, err: errorMessage(err) }, 'Failed to remove image');
      return false;
    }
  }
}
