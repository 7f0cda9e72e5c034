// A failure to start a container, with upstream's waiting reason (ErrImagePull, ImagePullBackOff,
// CrashLoopBackOff, CreateContainerConfigError, CreateContainerError, RunContainerError, ...).
// The reason lands in the container's waiting state; `retryAfterMs` says when to sync again.
import { KubeletError, type ErrorCode } from '../common/errors.ts';

export class ContainerStartError extends KubeletError {
  readonly reason: string;
  readonly retryAfterMs: number | null;
  constructor(reason: string, message: string, options: { code?: ErrorCode; retryAfterMs?: number | null; cause?: unknown } = {}) {
    super(options.code ?? 'Transient', message, { cause: options.cause });
    this.reason = reason;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}
