// Image pulls by pull policy (upstream pkg/kubelet/images/image_manager.go): Always pulls at each
// container start, IfNotPresent only when the runtime lacks the image, Never fails with
// ErrImageNeverPull. A failed pull is ErrImagePull, then ImagePullBackOff while backing off
// (10 s doubling to 300 s). With serializeImagePulls (upstream default) one pull runs at a time;
// concurrent pulls of the same image share one request.
import type { ImageService } from '../cri/client.ts';
import type { PodSandboxConfig } from '../cri/types.ts';
import { imagePullBackoffKey, type Backoff } from '../common/backoff.ts';
import type { Clock } from '../common/clock.ts';
import { errorMessage } from '../common/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod } from '../kube/types.ts';
import { ContainerStartError } from './errors.ts';

export interface ImageManagerDeps {
  images: ImageService;
  backoff: Backoff;
  clock: Clock;
  recorder: EventRecorder;
  serializePulls: boolean;
}

export class ImageManager {
  private readonly deps: ImageManagerDeps;
  private pullQueue: Promise<unknown> = Promise.resolve();
  private readonly inflight = new Map<string, Promise<string>>();

  constructor(deps: ImageManagerDeps) {
    this.deps = deps;
  }

  /** Makes sure the container's image is present; resolves to the image reference to run. */
  async ensureImage(pod: Pod, container: Container, sandboxConfig: PodSandboxConfig, signal?: AbortSignal): Promise<string> {
    const image = container.image ?? '';
    const { recorder, images, backoff } = this.deps;
    if (!image) throw new ContainerStartError('InvalidImageName', `Failed to apply default image tag "": couldn't parse image name "": invalid reference format`, { code: 'InvalidInput' });
    const policy = container.imagePullPolicy ?? 'IfNotPresent';
    if (policy !== 'Always') {
      const present = await images.imageStatus(image, signal).catch(() => null);
      if (present) {
        recorder.event(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
        return present.id;
      }
      if (policy === 'Never') {
        const msg = `Container image "${image}" is not present with pull policy of Never`;
        recorder.event(pod, 'Warning', 'ErrImageNeverPull', msg);
        throw new ContainerStartError('ErrImageNeverPull', msg, { retryAfterMs: 10_000 });
      }
    }
    const key = imagePullBackoffKey(pod.metadata?.uid ?? '', image);
    const now = this.deps.clock.now();
    if (backoff.isInBackOffSinceUpdate(key, now)) {
      const msg = `Back-off pulling image "${image}"`;
      recorder.event(pod, 'Normal', 'BackOff', msg);
      throw new ContainerStartError('ImagePullBackOff', msg, { retryAfterMs: backoff.delay(key) });
    }
    recorder.event(pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
    const started = this.deps.clock.now();
    try {
      const ref = await this.pull(image, sandboxConfig, signal);
      const secs = ((this.deps.clock.now() - started) / 1000).toFixed(3);
      recorder.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${secs}s`);
      return ref;
    } catch (err) {
      backoff.next(key, this.deps.clock.now());
      const msg = `Failed to pull image "${image}": ${errorMessage(err)}`;
      recorder.event(pod, 'Warning', 'Failed', msg);
      throw new ContainerStartError('ErrImagePull', msg, { retryAfterMs: backoff.delay(key), cause: err });
    }
  }

  private pull(image: string, sandboxConfig: PodSandboxConfig, signal?: AbortSignal): Promise<string> {
    const existing = this.inflight.get(image);
    if (existing) return existing;
    const run = (): Promise<string> => this.deps.images.pullImage(image, undefined, sandboxConfig, signal);
    const p = this.deps.serializePulls ? this.enqueue(run) : run();
    this.inflight.set(image, p);
    const forget = (): void => {
      this.inflight.delete(image);
    };
    p.then(forget, forget);
    return p;
  }

  private enqueue(run: () => Promise<string>): Promise<string> {
    const p = this.pullQueue.then(run, run);
    this.pullQueue = p.catch(() => undefined);
    return p;
  }
}
