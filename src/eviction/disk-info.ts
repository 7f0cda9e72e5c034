// Whether the runtime keeps its images on a filesystem of their own (upstream DiskInfoProvider
// HasDedicatedImageFs): the image filesystem's device differs from the kubelet root dir's.
import { stat } from 'node:fs/promises';
import type { ImageService } from '../cri/client.ts';

/**
 * True when the first image filesystem CRI ImageFsInfo names is on another device than `rootDir`.
 * Rejects when the runtime cannot be asked or a path cannot be read.
 */
export async function hasDedicatedImageFs(images: Pick<ImageService, 'imageFsInfo'>, rootDir: string, signal: AbortSignal): Promise<boolean> {
  const info = await images.imageFsInfo(signal);
  const mountpoint = info.imageFilesystems[0]?.fs_id?.mountpoint;
  if (!mountpoint) return false;
  const [root, image] = await Promise.all([stat(rootDir), stat(mountpoint)]);
  return root.dev !== image.dev;
}
