// The node's heartbeat Lease (upstream component-helpers lease.controller with the kubelet's
// SetNodeOwnerFunc): coordination.k8s.io/v1 Lease `<node>` in kube-node-lease, holder = the node,
// 40 s duration, renewed every 10 s (a quarter of it, 4 % jitter) with a PUT of the last copy
// (optimistic concurrency by resourceVersion; on a conflict, read it again). The node lifecycle
// controller counts a node as alive while this lease is renewed.
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort, isNotFound } from '../common/errors.ts';
import { isConflict, type KubeClient } from '../kube/client.ts';
import type { Logger } from '../observability/logger.ts';
import type { Lease, Node } from './types.ts';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
/** Upstream nodeLeaseDurationSeconds default. */
export const NODE_LEASE_DURATION_SECONDS = 40;
/** Upstream nodeLeaseRenewIntervalFraction: renew every quarter of the duration (10 s). */
export const NODE_LEASE_RENEW_INTERVAL_FRACTION = 0.25;
/** Upstream maxUpdateRetries: immediate PUT tries per renewal. */
export const LEASE_MAX_UPDATE_RETRIES = 5;
/** Upstream backoffEnsureLease: waits start at 200 ms (100 ms doubled before the first wait) and double up to 7 s. */
export const LEASE_BACKOFF_INITIAL_MS = 100;
export const LEASE_BACKOFF_MAX_MS = 7_000;
/** wait.JitterUntil factor of the renew loop. */
const RENEW_JITTER = 0.04;
/** Upstream's heartbeat client timeout (ms). */
const HEARTBEAT_TIMEOUT_MS = 10_000;

/** metav1.MicroTime text: RFC 3339 with microseconds, UTC ('2024-05-01T10:00:00.123000Z'). */
export function formatMicroTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The waits of backoffEnsureLease after each failed try: 200, 400, ... 6400, 7000, 7000 ms. */
export function leaseBackoffDelays(): () => number {
  let sleep = LEASE_BACKOFF_INITIAL_MS;
  return () => {
    sleep = Math.min(2 * sleep, LEASE_BACKOFF_MAX_MS);
    return sleep;
  };
}

export interface NodeLeaseControllerDeps {
  client: KubeClient;
  nodeName: string;
  clock: Clock;
  logger: Logger;
  leaseDurationSeconds?: number;
  /** Default leaseDuration × 0.25. */
  renewIntervalMs?: number;
  /** Called when a second try of one renewal fails (upstream onRepeatedHeartbeatFailure). */
  onRepeatedHeartbeatFailure?: () => void;
  /** [0, 1) random source for the jitter; default Math.random. */
  random?: () => number;
}

export interface NodeLease {
  run(signal: AbortSignal): Promise<void>;
}

export class NodeLeaseController implements NodeLease {
  private readonly deps: NodeLeaseControllerDeps;
  private readonly log: Logger;
  private readonly durationSeconds: number;
  private readonly renewIntervalMs: number;
  private readonly random: () => number;
  /** The lease as last written or read: the base of the next renewal (saves a GET). */
  private latest: Lease | undefined;

  constructor(deps: NodeLeaseControllerDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'node-lease' });
    this.durationSeconds = deps.leaseDurationSeconds ?? NODE_LEASE_DURATION_SECONDS;
    this.renewIntervalMs = deps.renewIntervalMs ?? this.durationSeconds * 1000 * NODE_LEASE_RENEW_INTERVAL_FRACTION;
    this.random = deps.random ?? Math.random;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${NODE_LEASE_NAMESPACE}/leases`;
  }

  /** The last lease the API server returned; undefined before the first success. */
  lastLease(): Lease | undefined {
    return this.latest;
  }

  /**
   * Creates or renews the lease now, then every renew interval (sliding: counted from the end of a
   * renewal), until the signal aborts. Resolves on abort; never rejects otherwise.
   */
  async run(signal: AbortSignal): Promise<void> {
    try {
      while (!signal.aborted) {
        await this.sync(signal);
        await this.deps.clock.sleep(this.renewIntervalMs * (1 + this.random() * RENEW_JITTER), signal);
      }
    } catch (err) {
      if (isAbort(err) && signal.aborted) return;
      throw err;
    }
  }

  /** One renewal (upstream controller.sync). Rejects only when the signal aborts. */
  async sync(signal: AbortSignal): Promise<void> {
    if (this.latest) {
      try {
        await this.retryUpdateLease(this.latest, signal);
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        this.log.info({ err: errorMessage(err) }, 'failed to update lease using latest lease, fallback to ensure lease');
      }
    }
    const { lease, created } = await this.backoffEnsureLease(signal);
    this.latest = lease;
    if (!created && lease) {
      try {
        await this.retryUpdateLease(lease, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        this.log.error({ err: errorMessage(err), intervalMs: this.renewIntervalMs }, 'will retry updating lease');
      }
    }
  }

  /** Reads the lease, creating it when absent; retries with backoff until it succeeds. */
  private async backoffEnsureLease(signal: AbortSignal): Promise<{ lease: Lease | undefined; created: boolean }> {
    const nextDelay = leaseBackoffDelays();
    for (;;) {
      try {
        return await this.ensureLease(signal);
      } catch (err) {
        if (signal.aborted) throw err;
        const wait = nextDelay();
        this.log.error({ err: errorMessage(err), intervalMs: wait }, 'failed to ensure lease exists, will retry');
        await this.deps.clock.sleep(wait, signal);
      }
    }
  }

  /** The lease and whether this call created it; lease undefined when it could not be prepared (no Node yet). */
  private async ensureLease(signal: AbortSignal): Promise<{ lease: Lease | undefined; created: boolean }> {
    try {
      const lease = await this.deps.client.request<Lease>('GET', `${this.path}/${encodeURIComponent(this.deps.nodeName)}`, { signal, timeoutMs: HEARTBEAT_TIMEOUT_MS });
      return { lease, created: false };
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    let fresh: Lease;
    try {
      fresh = await this.newLease(undefined, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      // Upstream: a lease that cannot be prepared (its owner, the Node, cannot be read yet) is not
      // created this time; the next renewal tries again.
      return { lease: undefined, created: false };
    }
    const lease = await this.deps.client.request<Lease>('POST', this.path, { body: fresh, signal, timeoutMs: HEARTBEAT_TIMEOUT_MS });
    return { lease, created: true };
  }

  /** PUTs the renewed lease up to 5 times; on a conflict, reads it again first. */
  private async retryUpdateLease(base: Lease | undefined, signal: AbortSignal): Promise<void> {
    for (let i = 0; i < LEASE_MAX_UPDATE_RETRIES; i++) {
      if (!base) break;
      let toUpdate: Lease | undefined;
      try {
        toUpdate = await this.newLease(base, signal);
      } catch (err) {
        if (signal.aborted) throw err;
        this.log.error({ err: errorMessage(err) }, 'failed to prepare lease');
      }
      if (toUpdate) {
        try {
          this.latest = await this.deps.client.request<Lease>('PUT', `${this.path}/${encodeURIComponent(this.deps.nodeName)}`, { body: toUpdate, signal, timeoutMs: HEARTBEAT_TIMEOUT_MS });
          return;
        } catch (err) {
          if (signal.aborted) throw err;
          this.log.error({ err: errorMessage(err) }, 'failed to update lease');
          if (isConflict(err)) {
            base = (await this.backoffEnsureLease(signal)).lease;
            continue;
          }
        }
      }
      if (i > 0) this.deps.onRepeatedHeartbeatFailure?.();
    }
    throw new Error(`failed ${LEASE_MAX_UPDATE_RETRIES} attempts to update lease`);
  }

  /**
   * A new lease, or a copy of `base`, with duration and renewTime = now, and the Node as owner
   * (read once: upstream SetNodeOwnerFunc sets it whenever the lease has no owner yet; it fails
   * while the Node cannot be read).
   */
  private async newLease(base: Lease | undefined, signal: AbortSignal): Promise<Lease> {
    const lease: Lease = base
      ? structuredClone(base)
      : { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.deps.nodeName, namespace: NODE_LEASE_NAMESPACE }, spec: { holderIdentity: this.deps.nodeName } };
    lease.spec = { ...(lease.spec ?? {}), leaseDurationSeconds: this.durationSeconds, renewTime: formatMicroTime(this.deps.clock.now()) };
    if (!lease.metadata.ownerReferences?.length) {
      const node = await this.deps.client.request<Node>('GET', `/api/v1/nodes/${encodeURIComponent(this.deps.nodeName)}`, { signal, timeoutMs: HEARTBEAT_TIMEOUT_MS });
      lease.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: this.deps.nodeName, uid: node.metadata.uid ?? '' }];
    }
    return lease;
  }
}
