// The node status loop (upstream Kubelet.syncNodeStatus / updateNodeStatus / tryUpdateNodeStatus):
// register the node first (when --register-node), then every nodeStatusUpdateFrequency (10 s,
// 4 % jitter) recompute the status over the Node as the API server has it, and patch
// nodes/<name>/status only when something other than heartbeat times changed, or when
// nodeStatusReportFrequency (5 min, shifted by a random ±50 % after a change so that nodes do not
// report in step) has passed since the last post. Each update is tried up to 5 times at once.
import type { Clock } from '../common/clock.ts';
import { errorMessage, isAbort } from '../common/errors.ts';
import type { KubeletConfig } from '../config/types.ts';
import type { KubeClient } from '../kube/client.ts';
import type { Logger } from '../observability/logger.ts';
import { nodeAddresses } from './address.ts';
import type { MachineInfo } from './machine.ts';
import type { AllocatableSettings } from '../cm/allocatable.ts';
import { buildNode, nodeStatusPatch, updateNode, type NodeStatusInputs } from './node-object.ts';
import { registerNode } from './registration.ts';
import type { RuntimeHealth } from './runtime-health.ts';
import type { Node, NodeAddress } from './types.ts';

/** Upstream nodeStatusUpdateFrequency default: how often the status is recomputed (ms). */
export const NODE_STATUS_UPDATE_FREQUENCY_MS = 10_000;
/** Upstream nodeStatusReportFrequency default: an unchanged status is still posted this often (ms). */
export const NODE_STATUS_REPORT_FREQUENCY_MS = 5 * 60_000;
/** Upstream nodeStatusUpdateRetry: immediate tries per update. */
export const NODE_STATUS_UPDATE_RETRY = 5;
/** Upstream wait.JitterUntil factor for the status loop. */
const UPDATE_JITTER = 0.04;
/** Upstream's heartbeat client timeout = nodeStatusUpdateFrequency (ms). */
const HEARTBEAT_TIMEOUT_MS = 10_000;
/** Deadline of the CRI Version call made for nodeInfo, ms. */
const RUNTIME_VERSION_TIMEOUT_MS = 4_000;

/**
 * The random shift of the report period after a change or the first post (upstream
 * calculateDelay): reportFrequency × (rand − 0.5), i.e. within ±2.5 min; 0 after a periodic post.
 */
export function reportDelayAfterPost(changed: boolean, firstPost: boolean, reportFrequencyMs: number, random: () => number): number {
  return changed || firstPost ? reportFrequencyMs * (-0.5 + random()) : 0;
}

/**
 * Upstream's posting rule: post when the status changed (other than heartbeat times), or when
 * nothing was posted yet, or when reportFrequency + delay has passed since the last post.
 */
export function shouldPostNodeStatus(s: { changed: boolean; nowMs: number; lastReportMs: number | undefined; reportFrequencyMs: number; delayMs: number }): boolean {
  if (s.changed || s.lastReportMs === undefined) return true;
  return s.nowMs - s.lastReportMs >= s.reportFrequencyMs + s.delayMs;
}

export type NodeStatusConfig = Pick<KubeletConfig, 'nodeName' | 'nodeIP' | 'nodeLabels' | 'registerNode' | 'registerWithTaints' | 'maxPods' | 'port'>;

export interface NodeStatusUpdaterDeps {
  client: KubeClient;
  nodeName: string;
  clock: Clock;
  logger: Logger;
  machine: MachineInfo;
  config: NodeStatusConfig;
  /** The runtime's health for the Ready condition (e.g. RuntimeHealthTracker.check); must not reject. */
  runtimeHealth: () => Promise<RuntimeHealth>;
  /** The PLEG's health (GenericPleg.healthy). */
  plegHealth: () => { ok: boolean; message: string };
  /**
   * The runtime's type and version for nodeInfo.containerRuntimeVersion (CRI Version:
   * runtime_name, runtime_version). A rejection reports '<last type>://Unknown', as upstream.
   */
  runtimeVersion: (signal: AbortSignal) => Promise<{ type: string; version: string }>;
  /** The node's addresses; default nodeAddresses(config.nodeIP, nodeName), read at every update. */
  addresses?: () => NodeAddress[];
  /** Called when a second try of one update fails (upstream onRepeatedHeartbeatFailure). */
  onRepeatedHeartbeatFailure?: () => void;
  /** The eviction manager's pressure (MemoryPressure, DiskPressure, PIDPressure); absent: none. */
  pressure?: () => { memory: boolean; disk: boolean; pid: boolean };
  /** kubeReserved, systemReserved, evictionHard for allocatable; absent: upstream's defaults. */
  allocatable?: AllocatableSettings;
  /** Called with the Node after every successful post or registration. */
  onNodeUpdated?: (node: Node) => void;
  /** [0, 1) random source for jitter and the report delay; default Math.random. */
  random?: () => number;
  updateFrequencyMs?: number;
  reportFrequencyMs?: number;
}

export interface NodeStatusReporter {
  run(signal: AbortSignal): Promise<void>;
  whenRegistered(signal: AbortSignal): Promise<Node>;
  updateNow(): void;
  lastNode(): Node | undefined;
}

export class NodeStatusUpdater implements NodeStatusReporter {
  private readonly deps: NodeStatusUpdaterDeps;
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly updateFrequencyMs: number;
  private readonly reportFrequencyMs: number;
  private lastReportMs: number | undefined;
  private delayAfterChangeMs = 0;
  private runtimeType = 'containerd';
  private node: Node | undefined;
  private wake: (() => void) | undefined;
  private pendingNow = false;
  private readonly registered = Promise.withResolvers<Node>();

  constructor(deps: NodeStatusUpdaterDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'node-status' });
    this.random = deps.random ?? Math.random;
    this.updateFrequencyMs = deps.updateFrequencyMs ?? NODE_STATUS_UPDATE_FREQUENCY_MS;
    this.reportFrequencyMs = deps.reportFrequencyMs ?? NODE_STATUS_REPORT_FREQUENCY_MS;
  }

  /**
   * Resolves with the Node once it is registered (or, without --register-node, once its status
   * was first read or posted); rejects with the signal's reason if it aborts first. Use it to
   * start the lease controller: its Lease needs the Node's UID as owner, and upstream's
   * controller, started at once, waits a whole renew interval (10 s) when the Node is not there yet.
   */
  whenRegistered(signal: AbortSignal): Promise<Node> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    return new Promise<Node>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      void this.registered.promise.then((node) => {
        signal.removeEventListener('abort', onAbort);
        resolve(node);
      });
    });
  }

  /** The Node as last returned by the API server (after registration or a post); undefined before. */
  lastNode(): Node | undefined {
    return this.node;
  }

  /** Asks for an update at once (e.g. the runtime's health changed); the loop runs it next. */
  updateNow(): void {
    this.pendingNow = true;
    this.wake?.();
  }

  /**
   * Registers the node (when config.registerNode; retried until it succeeds), then updates the
   * status until the signal aborts. Resolves when the signal aborts; never rejects otherwise
   * (failures are logged and retried next period).
   */
  async run(signal: AbortSignal): Promise<void> {
    try {
      if (this.deps.config.registerNode) {
        const node = await registerNode(this.deps.client, async () => buildNode(this.nodeParams(), await this.statusInputs(signal)), signal, { clock: this.deps.clock, logger: this.deps.logger });
        this.remember(node);
        this.registered.resolve(node);
      }
      while (!signal.aborted) {
        this.pendingNow = false;
        await this.syncNodeStatus(signal);
        if (!this.pendingNow) await this.sleepUntilNextUpdate(signal);
      }
    } catch (err) {
      if (isAbort(err) && signal.aborted) return;
      throw err;
    }
  }

  /**
   * One update with upstream's 5 immediate tries; resolves false when all failed (logged).
   * Rejects only when the signal aborts.
   */
  async syncNodeStatus(signal: AbortSignal): Promise<boolean> {
    for (let i = 0; i < NODE_STATUS_UPDATE_RETRY; i++) {
      try {
        await this.tryUpdateNodeStatus(i, signal);
        return true;
      } catch (err) {
        if (signal.aborted) throw err;
        if (i > 0) this.deps.onRepeatedHeartbeatFailure?.();
        this.log.error({ node: this.deps.nodeName, err: errorMessage(err) }, 'error updating node status, will retry');
      }
    }
    this.log.error({ node: this.deps.nodeName }, 'unable to update node status: update node status exceeds retry count');
    return false;
  }

  private async tryUpdateNodeStatus(tryNumber: number, signal: AbortSignal): Promise<void> {
    const path = `/api/v1/nodes/${encodeURIComponent(this.deps.nodeName)}`;
    // The first try may be served from the API server's cache (upstream reads its informer);
    // retries read the latest copy.
    const original = await this.deps.client.request<Node>('GET', path, { query: tryNumber === 0 ? { resourceVersion: '0' } : undefined, signal, timeoutMs: HEARTBEAT_TIMEOUT_MS });
    const inputs = await this.statusInputs(signal);
    const { node, changed } = updateNode(original, inputs);
    const firstPost = this.lastReportMs === undefined;
    if (!shouldPostNodeStatus({ changed, nowMs: this.deps.clock.now(), lastReportMs: this.lastReportMs, reportFrequencyMs: this.reportFrequencyMs, delayMs: this.delayAfterChangeMs })) {
      this.node = original;
      this.registered.resolve(original);
      return;
    }
    this.delayAfterChangeMs = reportDelayAfterPost(changed, firstPost, this.reportFrequencyMs, this.random);
    const updated = await this.deps.client.request<Node>('PATCH', `${path}/status`, {
      body: nodeStatusPatch(original, node),
      contentType: 'application/strategic-merge-patch+json',
      signal,
      timeoutMs: HEARTBEAT_TIMEOUT_MS,
    });
    this.lastReportMs = this.deps.clock.now();
    this.remember(updated);
    this.registered.resolve(updated);
  }

  private remember(node: Node): void {
    this.node = node;
    this.deps.onNodeUpdated?.(node);
  }

  private nodeParams(): Parameters<typeof buildNode>[0] {
    const { config } = this.deps;
    return { nodeName: this.deps.nodeName, hostname: this.deps.nodeName, nodeLabels: config.nodeLabels, registerWithTaints: config.registerWithTaints };
  }

  /** Everything the status is computed from, read now. */
  private async statusInputs(signal: AbortSignal): Promise<NodeStatusInputs> {
    const [health, runtime] = await Promise.all([this.deps.runtimeHealth(), this.readRuntimeVersion(signal)]);
    const pleg = this.deps.plegHealth();
    const readyErrors: string[] = [];
    if (!health.ready) readyErrors.push(health.message || 'container runtime is down');
    if (!pleg.ok) readyErrors.push(`PLEG is not healthy: ${pleg.message}`);
    return {
      nowMs: this.deps.clock.now(),
      machine: this.deps.machine,
      maxPods: this.deps.config.maxPods,
      kubeletPort: this.deps.config.port,
      addresses: this.deps.addresses?.() ?? nodeAddresses(this.deps.config.nodeIP, this.deps.nodeName),
      runtime,
      readyErrors,
      ...(this.deps.pressure ? { pressure: this.deps.pressure() } : {}),
      ...(this.deps.allocatable ? { allocatable: this.deps.allocatable } : {}),
    };
  }

  private async readRuntimeVersion(signal: AbortSignal): Promise<{ type: string; version: string }> {
    try {
      const v = await this.deps.runtimeVersion(AbortSignal.any([signal, AbortSignal.timeout(RUNTIME_VERSION_TIMEOUT_MS)]));
      if (v.type) this.runtimeType = v.type;
      return { type: this.runtimeType, version: v.version };
    } catch (err) {
      if (signal.aborted) throw err;
      return { type: this.runtimeType, version: '' };
    }
  }

  /** Sleeps one update period with upstream's 4 % jitter, or until updateNow(). */
  private async sleepUntilNextUpdate(signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const both = AbortSignal.any([signal, stop.signal]);
    const woken = new Promise<void>((resolve) => {
      this.wake = () => {
        stop.abort();
        resolve();
      };
    });
    const period = this.updateFrequencyMs * (1 + this.random() * UPDATE_JITTER);
    try {
      await Promise.race([this.deps.clock.sleep(period, both), woken]);
    } catch (err) {
      if (!stop.signal.aborted || signal.aborted) throw err;
    } finally {
      this.wake = undefined;
    }
  }
}
