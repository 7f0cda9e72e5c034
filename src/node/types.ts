// The Node and Lease objects as they travel on the wire (JSON), with times as the API's strings:
// metav1.Time is RFC 3339 in seconds ('2024-05-01T10:00:00Z'), metav1.MicroTime has
// microseconds ('2024-05-01T10:00:00.123456Z'). Only the fields the kubelet reads or writes are
// named; the rest of an object read from the API server is kept as it came (index signatures), so
// a node read, changed and patched loses nothing. (@kubernetes/client-node's models type times as
// Date, which is not what the API server sends.)

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface NodeCondition {
  type: string;
  status: ConditionStatus;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export interface NodeAddress {
  type: 'InternalIP' | 'ExternalIP' | 'Hostname' | 'InternalDNS' | 'ExternalDNS';
  address: string;
}

export interface NodeSystemInfo {
  machineID: string;
  systemUUID: string;
  bootID: string;
  kernelVersion: string;
  osImage: string;
  containerRuntimeVersion: string;
  kubeletVersion: string;
  kubeProxyVersion?: string;
  operatingSystem: string;
  architecture: string;
  [field: string]: unknown;
}

/** Resource name -> quantity text ('4', '16314812Ki', '110'). */
export type ResourceQuantities = Record<string, string>;

export interface NodeStatus {
  capacity?: ResourceQuantities;
  allocatable?: ResourceQuantities;
  conditions?: NodeCondition[];
  addresses?: NodeAddress[];
  /** Note the capital P: upstream DaemonEndpoint's JSON name is `Port`. */
  daemonEndpoints?: { kubeletEndpoint?: { Port: number } };
  nodeInfo?: NodeSystemInfo;
  [field: string]: unknown;
}

export interface NodeTaint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  timeAdded?: string;
}

export interface ObjectMetaWire {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [field: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface Node {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMetaWire;
  spec?: { taints?: NodeTaint[]; unschedulable?: boolean; podCIDR?: string; podCIDRs?: string[]; providerID?: string; [field: string]: unknown };
  status?: NodeStatus;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMetaWire;
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    /** metav1.MicroTime */
    renewTime?: string;
    acquireTime?: string;
    leaseTransitions?: number;
    [field: string]: unknown;
  };
}
