// What the container runtime says it can do (CRI Status: runtime_handlers with their features,
// and runtime-wide features), as upstream keeps it in its runtime state (updateRuntimeUp,
// every 5 s) for user namespaces (HandlerSupportsUserNamespaces) and for the
// supplementalGroupsPolicy admission check (node.status.features). A runtime that reports no
// handlers (containerd 1.6) supports neither.
import type { StatusResponse } from '../cri/types.ts';
import type { Clock } from '../common/clock.ts';
import { errorMessage, unsupported } from '../common/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { Pod } from '../kube/types.ts';
import { NODE_USER_NAMESPACE, type UserNamespace } from './security-context.ts';

export interface RuntimeHandlerInfo {
  name: string;
  userNamespaces: boolean;
  recursiveReadOnlyMounts: boolean;
}

export interface RuntimeFeatureInfo {
  /** The handlers the runtime reported; empty when it reports none (CRI before v1.30). */
  handlers: RuntimeHandlerInfo[];
  /** The runtime honours supplementalGroupsPolicy (Strict). */
  supplementalGroupsPolicy: boolean;
}

/** Before the first answer: nothing is supported. */
export const NO_RUNTIME_FEATURES: RuntimeFeatureInfo = Object.freeze({ handlers: [], supplementalGroupsPolicy: false });

/** The features in a CRI Status answer. Pure. */
export function runtimeFeaturesFrom(res: Pick<StatusResponse, 'runtime_handlers' | 'features'>): RuntimeFeatureInfo {
  return {
    handlers: (res.runtime_handlers ?? []).map((h) => ({
      name: h.name,
      userNamespaces: h.features?.user_namespaces === true,
      recursiveReadOnlyMounts: h.features?.recursive_read_only_mounts === true,
    })),
    supplementalGroupsPolicy: res.features?.supplemental_groups_policy === true,
  };
}

/**
 * The user namespace a pod's sandbox and containers get (upstream
 * GetOrCreateUserNamespaceMappings): the node's unless hostUsers is false. hostUsers false is
 * refused (never run in the node's user namespace instead): with upstream's message when the
 * runtime handler does not support user namespaces; and as unsupported by tskubelet (which has
 * no ID-range allocator yet) when it does. Throws; pure.
 */
export function userNamespaceFor(pod: Pod, runtimeHandler: string, features: RuntimeFeatureInfo): UserNamespace {
  if (pod.spec?.hostUsers !== false) return NODE_USER_NAMESPACE;
  const handler = features.handlers.find((h) => h.name === runtimeHandler);
  if (features.handlers.length > 0 && !handler) throw unsupported(`the handler ${JSON.stringify(runtimeHandler)} is not known`);
  if (!handler?.userNamespaces) throw unsupported(`RuntimeClass handler ${JSON.stringify(runtimeHandler)} does not support user namespaces`);
  throw unsupported('pods with hostUsers: false (user namespaces) are not supported by tskubelet yet');
}

export interface RuntimeFeaturesDeps {
  /** CRI Status (CriClient.statusResponse). */
  status: (signal?: AbortSignal) => Promise<Pick<StatusResponse, 'runtime_handlers' | 'features'>>;
  clock: Clock;
  logger: Logger;
}

/** How long a Status answer is reused by get(), ms (upstream refreshes its runtime state every 5 s; features rarely change). */
export const RUNTIME_FEATURES_MAX_AGE_MS = 60_000;

/** The last known runtime features; refreshed on demand. */
export class RuntimeFeatures {
  private readonly deps: RuntimeFeaturesDeps;
  private info: RuntimeFeatureInfo = NO_RUNTIME_FEATURES;
  private fetchedAt: number | null = null;

  constructor(deps: RuntimeFeaturesDeps) {
    this.deps = deps;
  }

  /** The last answer (NO_RUNTIME_FEATURES before the first). Never blocks. */
  current(): RuntimeFeatureInfo {
    return this.info;
  }

  /** Asks the runtime; on failure keeps the last answer (logged) and resolves to it. Rejects only when `signal` aborts. */
  async refresh(signal?: AbortSignal): Promise<RuntimeFeatureInfo> {
    try {
      this.info = runtimeFeaturesFrom(await this.deps.status(signal));
      this.fetchedAt = this.deps.clock.now();
    } catch (err) {
      signal?.throwIfAborted();
      this.deps.logger.warn({ err: errorMessage(err) }, 'could not read the runtime features (CRI Status)');
    }
    return this.info;
  }

  /** The features, asking the runtime again when the last answer is older than RUNTIME_FEATURES_MAX_AGE_MS. */
  async get(signal?: AbortSignal): Promise<RuntimeFeatureInfo> {
    if (this.fetchedAt !== null && this.deps.clock.now() - this.fetchedAt < RUNTIME_FEATURES_MAX_AGE_MS) return this.info;
    return this.refresh(signal);
  }
}
