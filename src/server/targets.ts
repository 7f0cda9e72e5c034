// Which pod, container and runtime object a kubelet API request is about, decided from the pods
// this kubelet runs and their generated statuses (pure): upstream's findContainer and
// validateContainerLogStatus, with their messages. Errors are ApiErrors carrying the HTTP status.
import type { ContainerStatus, Pod, PodStatus } from '../kube/types.ts';
import type { PodWithStatus } from '../status/status-manager.ts';
import { runtimeContainerID } from '../status/container-id.ts';

/** An error answered with its HTTP status and message as the body. */
export class ApiError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}
export const badRequest = (message: string): ApiError => new ApiError(400, message);
export const notFoundError = (message: string): ApiError => new ApiError(404, message);


/** The pod `namespace/name` (and `uid` when the path has one), or 404 "pod does not exist". */
export function findPod(pods: readonly PodWithStatus[], namespace: string, name: string, uid?: string): PodWithStatus {
  const found = pods.find(({ pod }) => pod.metadata?.namespace === namespace && pod.metadata?.name === name && (uid === undefined || pod.metadata?.uid === uid));
  if (!found) throw notFoundError(`pod ${JSON.stringify(`${namespace}/${name}`)} does not exist`);
  return found;
}

function allStatuses(status: PodStatus): ContainerStatus[] {
  return [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? []), ...(status.ephemeralContainerStatuses ?? [])];
}

function specHasContainer(pod: Pod, name: string): boolean {
  const s = pod.spec;
  return [...(s?.initContainers ?? []), ...(s?.containers ?? []), ...(s?.ephemeralContainers ?? [])].some((c) => c.name === name);
}

/** The ID of the running container `name` of the pod, for exec and attach. */
export function runningContainerId({ pod, status }: PodWithStatus, name: string): string {
  const podName = pod.metadata?.name ?? '';
  if (!specHasContainer(pod, name)) throw notFoundError(`container not found (${JSON.stringify(name)})`);
  const cs = allStatuses(status).find((c) => c.name === name);
  const id = runtimeContainerID(cs?.containerID);
  if (!cs?.state?.running || !id) throw badRequest(`container ${JSON.stringify(name)} in pod ${JSON.stringify(podName)} is not running`);
  return id;
}

/**
 * The container whose log `kubectl logs` reads: the current instance (running or terminated),
 * else the last terminated one; with `previous`, the last terminated one only (upstream
 * validateContainerLogStatus, same messages, answered 400).
 */
export function logContainerId({ pod, status }: PodWithStatus, name: string, previous: boolean): string {
  const podName = pod.metadata?.name ?? '';
  if (!specHasContainer(pod, name)) throw notFoundError(`container ${JSON.stringify(name)} not found in pod ${JSON.stringify(podName)}`);
  const cs = allStatuses(status).find((c) => c.name === name);
  const where = `container ${JSON.stringify(name)} in pod ${JSON.stringify(podName)}`;
  const last = runtimeContainerID(cs?.lastState?.terminated?.containerID);
  if (previous) {
    if (!last) throw badRequest(`previous terminated ${where} not found`);
    return last;
  }
  const state = cs?.state;
  if (state?.running && cs?.containerID) return runtimeContainerID(cs.containerID);
  if (state?.terminated) {
    const id = runtimeContainerID(state.terminated.containerID) || last;
    if (!id) throw badRequest(`${where} is terminated`);
    return id;
  }
  if (cs?.lastState?.terminated) {
    if (!last) throw badRequest(`${where} is terminated`);
    return last;
  }
  const reason = state?.waiting?.reason;
  if (reason === 'ErrImagePull') throw badRequest(`${where} is waiting to start: image can't be pulled`);
  if (reason === 'ImagePullBackOff') throw badRequest(`${where} is waiting to start: trying and failing to pull image`);
  if (reason) throw badRequest(`${where} is waiting to start: ${reason}`);
  throw badRequest(`${where} is waiting to start - no logs yet`);
}

/** A query flag as upstream's remotecommand reads it: exactly "1" (plus "true", which kubectl never sends). */
const flag = (q: URLSearchParams, name: string): boolean => q.get(name) === '1' || q.get(name) === 'true';

export interface StreamOptions {
  command: string[];
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

/** exec/attach options from the query (upstream remotecommand.NewOptions). 400 when none of the streams is asked for. */
export function streamOptions(q: URLSearchParams, needCommand: boolean): StreamOptions {
  const tty = flag(q, 'tty');
  const opts = { command: q.getAll('command'), tty, stdin: flag(q, 'input'), stdout: flag(q, 'output'), stderr: flag(q, 'error') && !tty };
  if (!opts.stdin && !opts.stdout && !opts.stderr) throw badRequest('you must specify at least 1 of stdin, stdout, stderr');
  if (needCommand && opts.command.length === 0) throw badRequest('you must specify a command');
  return opts;
}

/** Port-forward ports: required for WebSocket clients (query `port`), unused by SPDY ones (upstream NewV4Options). */
export function portForwardPorts(q: URLSearchParams, webSocket: boolean): number[] {
  if (!webSocket) return [];
  const raw = q.getAll('port').flatMap((p) => p.split(','));
  if (raw.length === 0) throw badRequest('query parameter "port" is required');
  return raw.map((p) => {
    if (!/^\d{1,5}$/.test(p)) throw badRequest(`unable to parse ${JSON.stringify(p)} as a port`);
    const n = Number(p);
    if (n < 1 || n > 65535) throw badRequest(`port ${JSON.stringify(p)} must be > 0 and < 65536`);
    return n;
  });
}
