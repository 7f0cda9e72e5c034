// Image pulls by pull policy (upstream pkg/kubelet/images/image_manager.go): Always pulls at each
// container start, IfNotPresent only when the runtime lacks the image, Never fails with
// ErrImageNeverPull. A failed pull is ErrImagePull, then ImagePullBackOff while backing off
// (10 s doubling to 300 s). With serializeImagePulls (upstream default) one pull runs at a time;
// concurrent pulls of the same image with the same credentials share one request.
//
// Credentials (upstream kuberuntime PullImage): the pod's pull secrets and the node's docker
// config give a list of credentials for the image's registry (see src/credentialprovider); each
// is tried in turn until a pull succeeds, and every error is reported, as upstream's aggregate
// ("[e1, e2]" when more than one). Without any, the image is pulled anonymously. Runtime errors
// are redacted of every credential before they reach an event, a status or a log.
//
// Messages, as upstream: the waiting message of ErrImagePull is the runtime's error
// ("rpc error: code = Unknown desc = failed to pull and unpack image ..."); the one of
// ImagePullBackOff is `Back-off pulling image "<image>": ErrImagePull: <that error>`.
import { createHash } from 'node:crypto';
import type { ImageService } from '../cri/client.ts';
import type { AuthConfig, PodSandboxConfig } from '../cri/types.ts';
import { imagePullBackoffKey, type Backoff } from '../common/backoff.ts';
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { PullCredentialSource } from '../credentialprovider/pull-credentials.ts';
import { redactCredentials } from '../credentialprovider/keyring.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod } from '../kube/types.ts';
import { ContainerStartError } from './errors.ts';

export interface ImageManagerDeps {
  images: ImageService;
  backoff: Backoff;
  clock: Clock;
  recorder: EventRecorder;
  serializePulls: boolean;
  /** The credentials each pull tries; absent/null: every pull is anonymous. */
  credentials?: PullCredentialSource | null;
}

/** gRPC status code names as Go prints them (codes.Code.String()), by code number. */
const GRPC_CODE_NAMES = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied', 'ResourceExhausted',
  'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
];

/**
 * The text of a pull error as upstream shows it: a runtime (gRPC) error as Go formats a gRPC
 * status ("rpc error: code = Unknown desc = ..."), anything else its message. Pure.
 */
export function pullErrorText(err: unknown): string {
  const cause = (err as { cause?: unknown } | null)?.cause as { code?: unknown; details?: unknown } | undefined;
  if (cause && typeof cause.code === 'number' && typeof cause.details === 'string') {
    return `rpc error: code = ${GRPC_CODE_NAMES[cause.code] ?? `Code(${cause.code})`} desc = ${cause.details}`;
  }
  return errorMessage(err);
}

/** Upstream utilerrors.Aggregate's message: one error as is, several as "[e1, e2]" without repeats. Pure. */
export function aggregateMessage(messages: readonly string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? unique[0]! : `[${unique.join(', ')}]`;
}

/** A pull that failed with every credential tried: the message aggregates them. */
class PullError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
    this.name = 'PullError';
  }
}

/**
 * At most this many last pull errors are kept (one per pod and image in back-off; an entry goes
 * at the next pull attempt, but a pod deleted while backing off leaves its entry: the oldest go).
 */
const MAX_REMEMBERED_PULL_ERRORS = 1024;

const authsKey = (auths: readonly AuthConfig[]): string =>
  auths.length === 0 ? '' : createHash('sha256').update(JSON.stringify(auths)).digest('hex');

export class ImageManager {
  private readonly deps: ImageManagerDeps;
  private pullQueue: Promise<unknown> = Promise.resolve();
  private readonly inflight = new Map<string, Promise<string>>();
  /** The last pull error by back-off key, for the ImagePullBackOff message (upstream prevPullErrMsg). */
  private readonly lastPullError = new Map<string, string>();

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
        recorder.event(pod, 'Warning', 'Failed', 'Error: ErrImageNeverPull');
        throw new ContainerStartError('ErrImageNeverPull', msg, { retryAfterMs: 10_000 });
      }
    }
    const key = imagePullBackoffKey(pod.metadata?.uid ?? '', image);
    const now = this.deps.clock.now();
    if (backoff.isInBackOffSinceUpdate(key, now)) {
      let msg = `Back-off pulling image "${image}"`;
      recorder.event(pod, 'Normal', 'BackOff', msg);
      recorder.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      const previous = this.lastPullError.get(key);
      if (previous !== undefined) msg = `${msg}: ${previous}`;
      throw new ContainerStartError('ImagePullBackOff', msg, { retryAfterMs: backoff.delay(key) });
    }
    this.lastPullError.delete(key);
    recorder.event(pod, 'Normal', 'Pulling', `Pulling image "${image}"`);
    const started = this.deps.clock.now();
    let auths: AuthConfig[] = [];
    try {
      const sig = signal ?? new AbortController().signal;
      if (this.deps.credentials) auths = await this.deps.credentials.credentialsFor(pod, image, sig);
      const ref = await this.pull(image, auths, sandboxConfig, signal);
      const secs = ((this.deps.clock.now() - started) / 1000).toFixed(3);
      recorder.event(pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${secs}s`);
      backoff.gc();
      return ref;
    } catch (err) {
      if (isAbort(err) || signal?.aborted) throw err;
      backoff.next(key, this.deps.clock.now());
      const text = redactCredentials(err instanceof PullError ? err.message : pullErrorText(err), auths);
      recorder.event(pod, 'Warning', 'Failed', `Failed to pull image "${image}": ${text}`);
      recorder.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull');
      this.lastPullError.set(key, `ErrImagePull: ${text}`);
      if (this.lastPullError.size > MAX_REMEMBERED_PULL_ERRORS) this.lastPullError.delete(this.lastPullError.keys().next().value!);
      throw new ContainerStartError('ErrImagePull', text, { retryAfterMs: backoff.delay(key) });
    }
  }

  /** One pull (shared by concurrent callers with the same image and credentials), queued when pulls are serialized. */
  private pull(image: string, auths: AuthConfig[], sandboxConfig: PodSandboxConfig, signal?: AbortSignal): Promise<string> {
    const key = `${image}\0${authsKey(auths)}`;
    const existing = this.inflight.get(key);
    if (existing) return existing;
    const run = (): Promise<string> => this.pullWithCredentials(image, auths, sandboxConfig, signal);
    const p = this.deps.serializePulls ? this.enqueue(run) : run();
    this.inflight.set(key, p);
    const forget = (): void => {
      this.inflight.delete(key);
    };
    p.then(forget, forget);
    return p;
  }

  /** Tries each credential in turn (anonymous when none); rejects with every error (upstream PullImage). */
  private async pullWithCredentials(image: string, auths: AuthConfig[], sandboxConfig: PodSandboxConfig, signal?: AbortSignal): Promise<string> {
    const { images } = this.deps;
    if (auths.length === 0) return images.pullImage(image, undefined, sandboxConfig, signal);
    const errors: unknown[] = [];
    for (const auth of auths) {
      try {
        return await images.pullImage(image, auth, sandboxConfig, signal);
      } catch (err) {
        if (isAbort(err) || signal?.aborted) throw err;
        errors.push(err);
      }
    }
    throw new PullError(aggregateMessage(errors.map(pullErrorText)), errors.at(-1));
  }

  private enqueue(run: () => Promise<string>): Promise<string> {
    const p = this.pullQueue.then(run, run);
    this.pullQueue = p.catch(() => undefined);
    return p;
  }
}
