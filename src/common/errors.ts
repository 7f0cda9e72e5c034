// A small error taxonomy with stable codes. Callers test errors with the predicates below,
// never with `instanceof` chains or message matching. Every error keeps its cause.

/** Stable codes: what the caller can do about the error. */
export type ErrorCode =
  | 'NotFound' // the thing does not exist (a container, a file, a pod)
  | 'InvalidInput' // the input is malformed or fails validation: retrying will not help
  | 'Unsupported' // valid, but this node cannot do it
  | 'Transient' // may succeed on retry (runtime busy, connection reset, timeout)
  | 'Internal'; // a bug or an unexpected state

export class KubeletError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = `KubeletError(${code})`;
    this.code = code;
  }
}

export const notFound = (msg: string, cause?: unknown): KubeletError => new KubeletError('NotFound', msg, { cause });
export const invalidInput = (msg: string, cause?: unknown): KubeletError => new KubeletError('InvalidInput', msg, { cause });
export const unsupported = (msg: string, cause?: unknown): KubeletError => new KubeletError('Unsupported', msg, { cause });
export const transient = (msg: string, cause?: unknown): KubeletError => new KubeletError('Transient', msg, { cause });

const hasCode = (err: unknown, code: ErrorCode): boolean => err instanceof KubeletError && err.code === code;
export const isNotFound = (err: unknown): boolean => hasCode(err, 'NotFound');
export const isInvalidInput = (err: unknown): boolean => hasCode(err, 'InvalidInput');
export const isUnsupported = (err: unknown): boolean => hasCode(err, 'Unsupported');
export const isTransient = (err: unknown): boolean => hasCode(err, 'Transient');

/** True for the rejection an aborted AbortSignal produces: aborting is not an error. */
export function isAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}

/** The message of anything thrown, for logs and statuses. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
