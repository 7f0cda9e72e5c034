// The Node object this kubelet registers and the status it reports: pure functions over plain
// data, as upstream pkg/kubelet/kubelet_node_status.go (initialNode, updateNode,
// nodeStatusHasChanged, the registration reconcilers) and pkg/kubelet/nodestatus/setters.go
// (MachineInfo, VersionInfo, DaemonEndpoints, GoRuntime, the pressure and Ready conditions).
// The I/O (machine facts, runtime health, the API calls) lives in machine.ts, registration.ts,
// status-updater.ts; everything here takes the clock's time as an argument.
import type { Taint } from '../config/types.ts';
import type { MachineInfo } from './machine.ts';
import { formatQuantity, quantitiesEqual } from './quantity.ts';
import { DEFAULT_ALLOCATABLE_SETTINGS, nodeAllocatableReservation, type AllocatableSettings } from '../cm/allocatable.ts';
import { formatQuantityNanos, parseQuantityNanos } from '../cm/quantity.ts';
import type { Node, NodeAddress, NodeCondition, NodeStatus, NodeTaint, ResourceQuantities } from './types.ts';
import { compareText } from '../common/compare.ts';

/**
 * The version this kubelet reports (nodeInfo.kubeletVersion). tskubelet follows the kubelet of
 * Kubernetes v1.34.2 (its CRI API is k8s.io/cri-api v0.34.2, its test control plane is v1.34.2),
 * so the control plane's version-skew logic must see 1.34.2; the semver build metadata
 * `+tskubelet` (ignored by version comparisons, shown by `kubectl get nodes`) says which kubelet
 * it is. Upstream's own builds carry git metadata the same way.
 */
export const KUBELET_VERSION = 'v1.34.2+tskubelet';

// Well-known labels (k8s.io/api/core/v1 well_known_labels.go, k8s.io/kubelet/pkg/apis).
export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const LABEL_OS_STABLE = 'kubernetes.io/os';
export const LABEL_ARCH_STABLE = 'kubernetes.io/arch';
export const LABEL_OS_BETA = 'beta.kubernetes.io/os';
export const LABEL_ARCH_BETA = 'beta.kubernetes.io/arch';
/** Labels the kubelet owns and re-asserts on an existing node at registration (updateDefaultLabels). */
const DEFAULT_LABELS = [
  LABEL_HOSTNAME,
  'topology.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'failure-domain.beta.kubernetes.io/region',
  'node.kubernetes.io/instance-type',
  'beta.kubernetes.io/instance-type',
  LABEL_OS_STABLE,
  LABEL_ARCH_STABLE,
  'node.kubernetes.io/windows-build',
  LABEL_OS_BETA,
  LABEL_ARCH_BETA,
];

/** Upstream's default (enableControllerAttachDetach=true): the attach/detach controller owns attachments. */
export const ANNOTATION_CONTROLLER_MANAGED_ATTACH = 'volumes.kubernetes.io/controller-managed-attach-detach';
export const TAINT_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';

/**
 * Node allocatable = capacity − kubeReserved − systemReserved − hard eviction thresholds
 * (upstream GetNodeAllocatableReservation, src/cm/allocatable.ts). Without settings, upstream's
 * defaults: nothing reserved, memory.available<100Mi and nodefs.available<10%.
 */

export const NODE_READY = 'Ready';
export const NODE_MEMORY_PRESSURE = 'MemoryPressure';
export const NODE_DISK_PRESSURE = 'DiskPressure';
export const NODE_PID_PRESSURE = 'PIDPressure';

/** What the registered Node is built from (the kubelet's configuration). */
export interface NodeParams {
  readonly nodeName: string;
  /** The kubernetes.io/hostname label and the Hostname address (upstream kl.hostname). */
  readonly hostname: string;
  /** --node-labels; they override the default labels, as upstream. */
  readonly nodeLabels: Readonly<Record<string, string>>;
  readonly registerWithTaints: readonly Taint[];
  /** Upstream registerSchedulable (--register-schedulable, deprecated); default true. */
  readonly registerSchedulable?: boolean;
}

/** What a status computation needs; all of it is read by the caller. */
export interface NodeStatusInputs {
  /** The clock's time, ms since the epoch. */
  readonly nowMs: number;
  readonly machine: MachineInfo;
  readonly maxPods: number;
  /** The kubelet's port (daemonEndpoints.kubeletEndpoint.Port). */
  readonly kubeletPort: number;
  /** Addresses in upstream order: InternalIP(s), then Hostname. */
  readonly addresses: readonly NodeAddress[];
  /** The runtime's type (CRI runtime_name, e.g. 'containerd') and version ('' when the version call failed: 'Unknown'). */
  readonly runtime: { readonly type: string; readonly version: string };
  /**
   * Why the node is not ready, in upstream's order (runtime errors incl. PLEG, network errors, ...);
   * empty when ready. Missing capacities are added here.
   */
  readonly readyErrors: readonly string[];
  /** The eviction manager's pressure conditions; absent ones are false. */
  readonly pressure?: { readonly memory?: boolean; readonly disk?: boolean; readonly pid?: boolean };
  /** kubeReserved, systemReserved and the hard eviction thresholds; default: upstream's defaults. */
  readonly allocatable?: AllocatableSettings;
}

/** metav1.Time text: RFC 3339 in whole seconds, UTC. */
export function formatTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * upstream utilerrors.NewAggregate(...).Error(): one message as is, several as "[a, b]",
 * duplicates dropped; '' for none.
 */
export function aggregateErrors(messages: readonly string[]): string {
  const unique = [...new Set(messages.filter((m) => m !== ''))];
  if (unique.length <= 1) return unique[0] ?? '';
  return `[${unique.join(', ')}]`;
}

const isHugePages = (name: string): boolean => name.startsWith('hugepages-');

/** upstream v1helper.IsExtendedResourceName: a domain-prefixed name outside kubernetes.io. */
export function isExtendedResourceName(name: string): boolean {
  if (!name.includes('/') || name.includes('kubernetes.io/') || name.startsWith('requests.')) return false;
  const [prefix, short] = name.split('/', 2) as [string, string];
  return /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(`requests.${prefix}`) && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(short) && short.length <= 63;
}

/** hugepages-<size> for a page size in KiB: 2048 -> 'hugepages-2Mi'. */
export const hugePageResourceName = (pageSizeKiB: number): string => `hugepages-${formatQuantity(BigInt(pageSizeKiB) * 1024n, 'BinarySI')}`;

/** Resources that decide readiness (upstream ReadyCondition with LocalStorageCapacityIsolation on). */
const REQUIRED_CAPACITIES = ['cpu', 'memory', 'pods', 'ephemeral-storage'];

/** Capacity and allocatable (upstream MachineInfo setter), over the node's existing lists. */
function setMachineInfo(status: NodeStatus, inputs: NodeStatusInputs): void {
  const { machine } = inputs;
  const capacity: ResourceQuantities = { ...(status.capacity ?? {}) };
  capacity.cpu = formatQuantity(machine.numCores, 'DecimalSI');
  capacity.memory = formatQuantity(machine.memoryCapacityBytes, 'BinarySI');
  for (const hp of machine.hugePages) {
    capacity[hugePageResourceName(hp.pageSizeKiB)] = formatQuantity(BigInt(hp.pageSizeKiB) * 1024n * BigInt(hp.numPages), 'BinarySI');
  }
  capacity.pods = formatQuantity(inputs.maxPods, 'DecimalSI');
  if (machine.ephemeralStorageCapacityBytes !== undefined) capacity['ephemeral-storage'] = formatQuantity(machine.ephemeralStorageCapacityBytes, 'BinarySI');
  status.capacity = capacity;

  const allocatable: ResourceQuantities = { ...(status.allocatable ?? {}) };
  for (const name of Object.keys(allocatable)) if (!(name in capacity) && isExtendedResourceName(name)) delete allocatable[name];
  const nanos = (text: string | undefined): bigint => {
    try {
      return text === undefined ? 0n : parseQuantityNanos(text);
    } catch {
      return 0n;
    }
  };
  const capacityNanos = new Map(Object.entries(capacity).map(([name, text]) => [name, nanos(text)]));
  const reservation = nodeAllocatableReservation(capacityNanos, inputs.allocatable ?? DEFAULT_ALLOCATABLE_SETTINGS);
  const format = (name: string): 'DecimalSI' | 'BinarySI' => (name === 'cpu' || name === 'pods' || name === 'pid' ? 'DecimalSI' : 'BinarySI');
  for (const [name, text] of Object.entries(capacity)) {
    const reserved = reservation.get(name);
    if (reserved === undefined) {
      allocatable[name] = text;
      continue;
    }
    const value = nanos(text) - reserved;
    allocatable[name] = formatQuantityNanos(value < 0n ? 0n : value, format(name));
  }
  // Huge pages are carved out of memory.
  let memory = nanos(allocatable.memory);
  for (const [name, text] of Object.entries(capacity)) if (isHugePages(name)) memory -= nanos(text);
  if ('memory' in allocatable) allocatable.memory = formatQuantityNanos(memory < 0n ? 0n : memory, 'BinarySI');
  status.allocatable = allocatable;
}

/**
 * One pressure condition (upstream Memory/Disk/PIDPressureCondition): the heartbeat is always
 * now; status, reason, message and lastTransitionTime change only on a transition. A new
 * condition starts Unknown, so it transitions at once.
 */
function setPressureCondition(conditions: NodeCondition[], type: string, underPressure: boolean, now: string, texts: { trueReason: string; trueMessage: string; falseReason: string; falseMessage: string }): void {
  let c = conditions.find((x) => x.type === type);
  if (!c) {
    c = { type, status: 'Unknown' };
    conditions.push(c);
  }
  c.lastHeartbeatTime = now;
  if (underPressure && c.status !== 'True') Object.assign(c, { status: 'True', reason: texts.trueReason, message: texts.trueMessage, lastTransitionTime: now });
  else if (!underPressure && c.status !== 'False') Object.assign(c, { status: 'False', reason: texts.falseReason, message: texts.falseMessage, lastTransitionTime: now });
}

/** upstream ReadyCondition: replaced whole each time; lastTransitionTime kept while the status holds. */
function setReadyCondition(status: NodeStatus, conditions: NodeCondition[], readyErrors: readonly string[], now: string): void {
  const missing = REQUIRED_CAPACITIES.filter((r) => status.capacity?.[r] === undefined);
  const errors = [...readyErrors];
  if (missing.length > 0) errors.push(`missing node capacity for resources: ${missing.join(', ')}`);
  const message = aggregateErrors(errors);
  const next: NodeCondition = message
    ? { type: NODE_READY, status: 'False', reason: 'KubeletNotReady', message, lastHeartbeatTime: now }
    : { type: NODE_READY, status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now };
  const i = conditions.findIndex((c) => c.type === NODE_READY);
  if (i < 0) {
    conditions.push({ ...next, lastTransitionTime: now });
    return;
  }
  const prev = conditions[i]!;
  conditions[i] = { ...next, lastTransitionTime: prev.status === next.status ? prev.lastTransitionTime : now };
}

/**
 * The node with every kubelet-owned status field set from `inputs` (upstream setNodeStatus with
 * the default setters). Returns a copy; fields the kubelet does not own (other conditions,
 * images, volumes, extended resources) are kept.
 */
export function setNodeStatus(node: Node, inputs: NodeStatusInputs): Node {
  const out = structuredClone(node);
  const status: NodeStatus = out.status ?? {};
  out.status = status;
  const now = formatTime(inputs.nowMs);
  status.addresses = inputs.addresses.map((a) => ({ ...a }));
  setMachineInfo(status, inputs);
  const { machine } = inputs;
  status.nodeInfo = {
    ...(status.nodeInfo ?? {}),
    machineID: machine.machineID,
    systemUUID: machine.systemUUID,
    bootID: machine.bootID,
    kernelVersion: machine.kernelVersion,
    osImage: machine.osImage,
    containerRuntimeVersion: `${inputs.runtime.type}://${inputs.runtime.version || 'Unknown'}`,
    kubeletVersion: KUBELET_VERSION,
    // DisableNodeKubeProxyVersion is on by default: the deprecated field is cleared.
    kubeProxyVersion: '',
    operatingSystem: machine.operatingSystem,
    architecture: machine.architecture,
  };
  status.daemonEndpoints = { kubeletEndpoint: { Port: inputs.kubeletPort } };
  const conditions = (status.conditions ?? []).map((c) => ({ ...c }));
  const p = inputs.pressure ?? {};
  setPressureCondition(conditions, NODE_MEMORY_PRESSURE, p.memory ?? false, now, {
    trueReason: 'KubeletHasInsufficientMemory',
    trueMessage: 'kubelet has insufficient memory available',
    falseReason: 'KubeletHasSufficientMemory',
    falseMessage: 'kubelet has sufficient memory available',
  });
  setPressureCondition(conditions, NODE_DISK_PRESSURE, p.disk ?? false, now, {
    trueReason: 'KubeletHasDiskPressure',
    trueMessage: 'kubelet has disk pressure',
    falseReason: 'KubeletHasNoDiskPressure',
    falseMessage: 'kubelet has no disk pressure',
  });
  setPressureCondition(conditions, NODE_PID_PRESSURE, p.pid ?? false, now, {
    trueReason: 'KubeletHasInsufficientPID',
    trueMessage: 'kubelet has insufficient PID available',
    falseReason: 'KubeletHasSufficientPID',
    falseMessage: 'kubelet has sufficient PID available',
  });
  // Ready comes last in a new list (upstream: an old skew issue, #16961).
  setReadyCondition(status, conditions, inputs.readyErrors, now);
  status.conditions = conditions;
  return out;
}

/** The status alone, computed over the previous one (undefined for a new node). */
export function nodeStatus(previous: NodeStatus | undefined, inputs: NodeStatusInputs, nodeName = ''): NodeStatus {
  return setNodeStatus({ metadata: { name: nodeName }, status: previous ?? {} }, inputs).status!;
}

const toNodeTaint = (t: Taint): NodeTaint => (t.value ? { key: t.key, value: t.value, effect: t.effect } : { key: t.key, effect: t.effect });

/**
 * The Node to register (upstream initialNode): default labels then --node-labels over them,
 * --register-with-taints (plus node.kubernetes.io/unschedulable when registering unschedulable),
 * the controller-managed attach/detach annotation, and the full status.
 *
 * No node.kubernetes.io/not-ready taint here, as upstream: the API server's TaintNodesByCondition
 * admission plugin adds it to every new Node, and the node lifecycle controller removes it once
 * Ready is True.
 */
export function buildNode(params: NodeParams, inputs: NodeStatusInputs): Node {
  const { machine } = inputs;
  const labels: Record<string, string> = {
    [LABEL_HOSTNAME]: params.hostname,
    [LABEL_OS_STABLE]: machine.operatingSystem,
    [LABEL_ARCH_STABLE]: machine.architecture,
    [LABEL_OS_BETA]: machine.operatingSystem,
    [LABEL_ARCH_BETA]: machine.architecture,
    ...params.nodeLabels,
  };
  const unschedulable = params.registerSchedulable === false;
  const taints = params.registerWithTaints.map(toNodeTaint);
  if (unschedulable && !taints.some((t) => t.key === TAINT_UNSCHEDULABLE && t.effect === 'NoSchedule')) taints.push({ key: TAINT_UNSCHEDULABLE, effect: 'NoSchedule' });
  const spec: NonNullable<Node['spec']> = {};
  if (unschedulable) spec.unschedulable = true;
  if (taints.length > 0) spec.taints = taints;
  const node: Node = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: params.nodeName, labels, annotations: { [ANNOTATION_CONTROLLER_MANAGED_ATTACH]: 'true' } },
    spec,
  };
  return setNodeStatus(node, inputs);
}

// ---- change detection (upstream nodeStatusHasChanged, with Semantic.DeepEqual's leniency) ----

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Go's zero values: a field the server omitted equals '', 0, false, an empty list or map. */
function isZero(v: unknown): boolean {
  if (v === undefined || v === null || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  return isPlainObject(v) && Object.values(v).every(isZero);
}

/** Deep equality where absent equals the zero value and quantity maps compare by value. */
export function semanticEqual(a: unknown, b: unknown, quantityMap = false): boolean {
  if (isZero(a) && isZero(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => semanticEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      if (quantityMap) {
        if (!quantitiesEqual(a[k] as string | undefined, b[k] as string | undefined)) return false;
      } else if (!semanticEqual(a[k], b[k], k === 'capacity' || k === 'allocatable')) return false;
    }
    return true;
  }
  return a === b;
}

/** True when any condition changed other than by its heartbeat (upstream nodeConditionsHaveChanged). */
export function nodeConditionsHaveChanged(original: readonly NodeCondition[] = [], current: readonly NodeCondition[] = []): boolean {
  if (original.length !== current.length) return true;
  const strip = (cs: readonly NodeCondition[]): NodeCondition[] => [...cs].sort((x, y) => compareText(x.type, y.type)).map((c) => ({ ...c, lastHeartbeatTime: undefined }));
  const a = strip(original);
  const b = strip(current);
  return a.some((c, i) => !semanticEqual(c, b[i]));
}

/** True when the status changed other than by heartbeat times (upstream nodeStatusHasChanged). */
export function nodeStatusHasChanged(original: NodeStatus | undefined, current: NodeStatus | undefined): boolean {
  if (!original && !current) return false;
  if (!original || !current) return true;
  if (nodeConditionsHaveChanged(original.conditions, current.conditions)) return true;
  const { conditions: _a, ...restA } = original;
  const { conditions: _b, ...restB } = current;
  return !semanticEqual(restA, restB);
}

/**
 * One periodic recomputation (upstream updateNode): the node read from the API server with the
 * kubelet's status set, the os/arch labels restored if someone removed them, and whether that
 * changed anything besides heartbeats.
 */
export function updateNode(original: Node, inputs: NodeStatusInputs): { node: Node; changed: boolean } {
  const node = setNodeStatus(original, inputs);
  let labelsRestored = false;
  const labels = (node.metadata.labels ??= {});
  for (const [key, value] of [[LABEL_OS_STABLE, inputs.machine.operatingSystem], [LABEL_ARCH_STABLE, inputs.machine.architecture]] as const) {
    if (labels[key] !== value) {
      labels[key] = value;
      labelsRestored = true;
    }
  }
  return { node, changed: labelsRestored || nodeStatusHasChanged(original.status, node.status) };
}

/**
 * What registration changes on a Node that already exists (upstream tryRegisterWithAPIServer's
 * reconcilers): the attach/detach annotation, the default labels (hostname, os, arch, ...; a
 * default label set to '' is removed), capacity/allocatable when absent, extended resources
 * zeroed (no device plugin has registered with this kubelet yet: upstream resets them when the
 * device manager has no checkpoint, which is always the case here), and huge page sizes added,
 * updated or removed. Taints and --node-labels other than the defaults are not touched, as upstream.
 */
export function reconcileExistingNode(initial: Node, existing: Node): { node: Node; changed: boolean } {
  const node = structuredClone(existing);
  let changed = false;
  // controller-managed attach-detach annotation
  const want = initial.metadata.annotations?.[ANNOTATION_CONTROLLER_MANAGED_ATTACH];
  const have = node.metadata.annotations?.[ANNOTATION_CONTROLLER_MANAGED_ATTACH];
  if (want !== have) {
    if (want === undefined) delete node.metadata.annotations![ANNOTATION_CONTROLLER_MANAGED_ATTACH];
    else (node.metadata.annotations ??= {})[ANNOTATION_CONTROLLER_MANAGED_ATTACH] = want;
    changed = true;
  }
  // default labels
  const labels = (node.metadata.labels ??= {});
  for (const key of DEFAULT_LABELS) {
    const value = initial.metadata.labels?.[key];
    if (value === undefined) continue;
    if (labels[key] !== value) {
      labels[key] = value;
      changed = true;
    }
    if (labels[key] === '') delete labels[key];
  }
  // default resources
  const status = (node.status ??= {});
  if (!status.capacity) {
    status.capacity = { ...(initial.status?.capacity ?? {}) };
    if (initial.status?.capacity) changed = true;
  }
  if (!status.allocatable) {
    status.allocatable = { ...(initial.status?.allocatable ?? {}) };
    if (initial.status?.allocatable) changed = true;
  }
  // extended resources
  for (const name of Object.keys(status.capacity)) {
    if (!isExtendedResourceName(name)) continue;
    status.capacity[name] = '0';
    status.allocatable[name] = '0';
    changed = true;
  }
  // huge pages
  const initialCapacity = initial.status?.capacity ?? {};
  const initialAllocatable = initial.status?.allocatable ?? {};
  for (const name of Object.keys(initialCapacity).filter(isHugePages)) {
    const supported = name in status.capacity;
    if (!supported || !quantitiesEqual(status.capacity[name], initialCapacity[name])) {
      status.capacity[name] = initialCapacity[name]!;
      changed = true;
    }
    if (!supported || !quantitiesEqual(status.allocatable[name] ?? '0', initialAllocatable[name] ?? '0')) {
      status.allocatable[name] = initialAllocatable[name] ?? '0';
      changed = true;
    }
  }
  for (const name of Object.keys(status.capacity).filter(isHugePages)) {
    if (name in initialCapacity) continue;
    delete status.capacity[name];
    delete status.allocatable[name];
    changed = true;
  }
  return { node, changed };
}

// ---- the patch (upstream nodeutil.PatchNodeStatus: a strategic merge patch of metadata and status) ----

/** Exact deep equality of JSON values, ignoring key order and keys whose value is undefined. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return a === b;
}

/** A JSON merge of b over a: changed keys, null for removed keys; undefined when equal. */
function diffValue(a: unknown, b: unknown): unknown {
  if (b === undefined) return a === undefined ? undefined : null;
  if (isPlainObject(a) && isPlainObject(b)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(b)) {
      const d = diffValue(a[k], b[k]);
      if (d !== undefined) out[k] = d;
    }
    for (const k of Object.keys(a)) if (!(k in b) && a[k] !== undefined) out[k] = null;
    return Object.keys(out).length > 0 ? out : undefined;
  }
  return jsonEqual(a, b) ? undefined : b;
}

/**
 * The strategic merge patch (Content-Type application/strategic-merge-patch+json) that turns
 * `original` into `modified`, for PATCH /api/v1/nodes/<name>/status: metadata labels and
 * annotations, and the status. Conditions merge by type (only changed ones are sent, a removed one
 * gets `$patch: delete`); addresses are replaced whole (upstream fixupPatchForNodeStatusAddresses:
 * the API's merge key for them is wrong); maps send changed keys and null for removed ones.
 * Spec is never patched. Returns {} when nothing differs.
 */
export function nodeStatusPatch(original: Node, modified: Node): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {};
  for (const key of ['labels', 'annotations'] as const) {
    const d = diffValue(original.metadata[key] ?? {}, modified.metadata[key] ?? {});
    if (d !== undefined) meta[key] = d;
  }
  if (Object.keys(meta).length > 0) patch.metadata = meta;

  const a: NodeStatus = original.status ?? {};
  const b: NodeStatus = modified.status ?? {};
  const status: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (key === 'conditions') {
      const before = new Map((a.conditions ?? []).map((c) => [c.type, c]));
      const after = b.conditions ?? [];
      const list: unknown[] = after.filter((c) => !jsonEqual(c, before.get(c.type)));
      const kept = new Set(after.map((c) => c.type));
      for (const type of before.keys()) if (!kept.has(type)) list.push({ type, $patch: 'delete' });
      if (list.length > 0) status.conditions = list;
    } else if (key === 'addresses') {
      if (!semanticEqual(a.addresses, b.addresses)) status.addresses = [...(b.addresses ?? []), { $patch: 'replace' }];
    } else {
      const d = diffValue(a[key], b[key]);
      if (d !== undefined) status[key] = d;
    }
  }
  if (Object.keys(status).length > 0) patch.status = status;
  return patch;
}
