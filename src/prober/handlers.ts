// Lifecycle hooks, postStart and preStop (upstream pkg/kubelet/lifecycle/handlers.go): exec in
// the container (CRI ExecSync, no timeout of its own), HTTP GET (any response counts as done;
// HTTPS that meets a plain HTTP server is retried over HTTP with a LifecycleHTTPFallback event)
// and sleep. They share the request building and the exec runner with the probes.
import type { Clock } from '../common/clock.ts';
import { errorMessage } from '../common/errors.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod } from '../kube/types.ts';
import { execOutput, type ExecRunner } from './exec.ts';
import { buildHttpGetRequest, httpGet, HttpGetError } from './http.ts';
import type { LifecycleHandler } from './results.ts';

export interface HookTarget {
  pod: Pod;
  container: Container;
  containerId: string;
  /** The pod's IP (the host's for a host-network pod); '' when unknown. */
  podIP: string;
}

/** A hook that failed; the message is upstream's (it becomes the container's waiting message). */
export class LifecycleHookError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LifecycleHookError';
  }
}

export interface HandlerRunnerDeps {
  runtime: ExecRunner;
  clock: Clock;
  recorder: EventRecorder;
}

/** Upstream format.Pod: `<name>_<namespace>(<uid>)`. */
export const formatPod = (pod: Pod): string => `${pod.metadata?.name}_${pod.metadata?.namespace}(${pod.metadata?.uid})`;

export class HandlerRunner {
  private readonly deps: HandlerRunnerDeps;

  constructor(deps: HandlerRunnerDeps) {
    this.deps = deps;
  }

  /**
   * Runs one hook to its end. Resolves when it succeeded; rejects with a LifecycleHookError, or
   * with the signal's reason when `signal` aborts (the pod is terminating, the kubelet stops).
   */
  async run(target: HookTarget, handler: LifecycleHandler, signal: AbortSignal): Promise<void> {
    const { pod, container } = target;
    if (handler.exec) {
      const command = handler.exec.command ?? [];
      let detail: string;
      let output = '';
      try {
        const res = await this.deps.runtime.execSync(target.containerId, command, 0, signal);
        if (res.exitCode === 0) return;
        output = execOutput(res.stdout, res.stderr);
        detail = `command '${command.join(' ')}' exited with ${res.exitCode}: ${res.stderr.toString('utf8')}`;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        detail = errorMessage(err);
      }
      throw new LifecycleHookError(`Exec lifecycle hook ([${command.join(' ')}]) for Container ${JSON.stringify(container.name)} in Pod ${JSON.stringify(formatPod(pod))} failed - error: ${detail}, message: ${JSON.stringify(output)}`);
    }
    if (handler.httpGet) {
      try {
        await this.runHttp(target, handler.httpGet, signal);
        return;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        throw new LifecycleHookError(`HTTP lifecycle hook (${handler.httpGet.path ?? ''}) for Container ${JSON.stringify(container.name)} in Pod ${JSON.stringify(formatPod(pod))} failed - error: ${errorMessage(err)}`, { cause: err });
      }
    }
    if (handler.sleep) {
      const seconds = handler.sleep.seconds ?? 0;
      try {
        await this.deps.clock.sleep(seconds * 1000, signal);
        return;
      } catch {
        throw new LifecycleHookError(`Sleep lifecycle hook (${seconds}) for Container ${JSON.stringify(container.name)} in Pod ${JSON.stringify(formatPod(pod))} failed - error: container terminated before sleep hook finished`);
      }
    }
    throw new LifecycleHookError(`Cannot run handler: invalid handler: ${JSON.stringify(handler)}`);
  }

  private async runHttp(target: HookTarget, action: NonNullable<LifecycleHandler['httpGet']>, signal: AbortSignal): Promise<void> {
    if (!action.host && !target.podIP) throw new Error('failed to find networking container: the pod has no IP');
    const req = buildHttpGetRequest(action, target.container, target.podIP, 'lifecycle');
    try {
      await httpGet(req, { timeoutMs: null, signal }); // any response: the hook ran
    } catch (err) {
      if (!(err instanceof HttpGetError) || !err.tlsGotHttp) throw err;
      // An HTTPS hook answered by plain HTTP: retried over HTTP, without Authorization (upstream).
      const url = new URL(req.url.href);
      url.protocol = 'http:';
      await httpGet({ url, headers: req.headers.filter(([n]) => n.toLowerCase() !== 'authorization') }, { timeoutMs: null, signal });
      this.deps.recorder.event(target.pod, 'Warning', 'LifecycleHTTPFallback', `request to HTTPS lifecycle hook ${url.host} got HTTP response, retry with HTTP succeeded`);
    }
  }
}
