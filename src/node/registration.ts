// Registering the node with the API server (upstream Kubelet.registerWithAPIServer and
// tryRegisterWithAPIServer): create the Node; when it already exists (a restart, or another
// kubelet's leftover), read it and reconcile what the kubelet owns on it.
import { realClock, type Clock } from '../common/clock.ts';
import { errorMessage } from '../common/errors.ts';
import { isAlreadyExists, KubeApiError, type KubeClient } from '../kube/client.ts';
import { silentLogger, type Logger } from '../observability/logger.ts';
import { nodeStatusPatch, reconcileExistingNode } from './node-object.ts';
import type { Node } from './types.ts';

/** Upstream: the first attempt after 100 ms, then waits doubling up to 7 s (ms). */
export const REGISTER_INITIAL_DELAY_MS = 100;
export const REGISTER_MAX_DELAY_MS = 7_000;
/** Deadline of one registration call, ms (upstream's client timeout is longer; a try is cheap). */
const CALL_TIMEOUT_MS = 10_000;

export interface RegisterOptions {
  clock?: Clock;
  logger?: Logger;
}

/** The waits before each attempt: 100, 200, 400, ... 6400, 7000, 7000 ms (upstream's steps). */
export function registrationDelays(): () => number {
  let step = REGISTER_INITIAL_DELAY_MS;
  return () => {
    const wait = step;
    step = Math.min(step * 2, REGISTER_MAX_DELAY_MS);
    return wait;
  };
}

/**
 * One attempt: the registered Node, or undefined when this attempt failed (logged). A Forbidden
 * create still reads the node, as upstream with KubeletRegistrationGetOnExistsOnly off: a node
 * may be allowed to read but not to create itself.
 */
export async function tryRegisterNode(client: KubeClient, node: Node, signal: AbortSignal, logger: Logger = silentLogger): Promise<Node | undefined> {
  const name = node.metadata.name;
  const log = logger.child({ component: 'node-registration' });
  try {
    return await client.request<Node>('POST', '/api/v1/nodes', { body: node, signal, timeoutMs: CALL_TIMEOUT_MS });
  } catch (err) {
    if (signal.aborted) throw err;
    if (!isAlreadyExists(err) && !(err instanceof KubeApiError && err.status === 403)) {
      log.error({ node: name, err: errorMessage(err) }, 'unable to register node with API server');
      return undefined;
    }
  }
  let existing: Node;
  try {
    existing = await client.request<Node>('GET', `/api/v1/nodes/${encodeURIComponent(name)}`, { signal, timeoutMs: CALL_TIMEOUT_MS });
  } catch (err) {
    if (signal.aborted) throw err;
    log.error({ node: name, err: errorMessage(err) }, 'unable to register node with API server: error getting existing node');
    return undefined;
  }
  log.info({ node: name }, 'node was previously registered');
  const { node: reconciled, changed } = reconcileExistingNode(node, existing);
  if (!changed) return existing;
  try {
    return await client.request<Node>('PATCH', `/api/v1/nodes/${encodeURIComponent(name)}/status`, {
      body: nodeStatusPatch(existing, reconciled),
      contentType: 'application/strategic-merge-patch+json',
      signal,
      timeoutMs: CALL_TIMEOUT_MS,
    });
  } catch (err) {
    if (signal.aborted) throw err;
    log.error({ node: name, err: errorMessage(err) }, 'unable to reconcile node with API server: error updating node');
    return undefined;
  }
}

/**
 * Registers the node, retrying with upstream's backoff (100 ms doubling, capped at 7 s) until it
 * succeeds; resolves to the Node as the API server returned it. `node` is either the Node or a
 * function building it afresh for every attempt (upstream rebuilds initialNode each time, so a
 * retry carries a fresh status). Rejects only when `signal` aborts (with its reason) or when the
 * builder throws.
 */
export async function registerNode(client: KubeClient, node: Node | (() => Node | Promise<Node>), signal: AbortSignal, opts: RegisterOptions = {}): Promise<Node> {
  const clock = opts.clock ?? realClock;
  const logger = opts.logger ?? silentLogger;
  const nextDelay = registrationDelays();
  for (;;) {
    await clock.sleep(nextDelay(), signal);
    const candidate = typeof node === 'function' ? await node() : node;
    logger.info({ component: 'node-registration', node: candidate.metadata.name }, 'attempting to register node');
    const registered = await tryRegisterNode(client, candidate, signal, logger);
    if (registered) {
      logger.info({ component: 'node-registration', node: candidate.metadata.name }, 'successfully registered node');
      return registered;
    }
  }
}
