// A periodic loop (upstream wait.Until) for the kubelet's housekeeping: garbage collection, log
// rotation.
import type { Clock } from './clock.ts';
import { isAbort } from './errors.ts';

/**
 * Runs `fn` now and then again `periodMs` after each run ends, until the signal aborts; resolves
 * then. A run that rejects (other than by the abort) is handed to `onError` and the loop goes on.
 * Rejects only if the clock's sleep fails for another reason than the abort.
 */
export async function runEvery(clock: Clock, periodMs: number, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<unknown>, onError: (err: unknown) => void): Promise<void> {
  while (!signal.aborted) {
    try {
      await fn(signal);
    } catch (err) {
      if (!(isAbort(err) && signal.aborted)) onError(err);
    }
    try {
      await clock.sleep(periodMs, signal);
    } catch (err) {
      if (isAbort(err) && signal.aborted) return;
      throw err;
    }
  }
}
