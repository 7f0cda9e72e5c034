// The one table of tskubelet settings: for each KubeletConfig key, its KubeletConfiguration
// field and/or upstream flag, its value kind (how each source parses it) and the rule the
// merged value must satisfy. flags.ts, file.ts and validate.ts are driven by this table.

import { AUTHORIZATION_MODES, CGROUP_DRIVERS, TLS_VERSIONS } from './types.ts';
import type { SettingKey } from './types.ts';
import { parseThresholdStatement, SIGNALS } from '../eviction/thresholds.ts';
import {
  isAllowedNodeLabelKey,
  isCleanAbsolutePath,
  isDns1123Subdomain,
  isIPAddress,
  isLabelValue,
  isNodeIPList,
  isNonNegativeQuantity,
  isQualifiedName,
  parseGoDuration,
} from './values.ts';
import { allowlistEntryProblem } from '../lifecycle/sysctl.ts';
import { qosReservedProblem } from '../cm/qos-reserved.ts';
import { FEATURE_GATES } from './features.ts';

/** How a source turns raw input into a value; the rule then checks the merged value. */
export type ValueKind = 'string' | 'bool' | 'int' | 'duration' | 'enum' | 'stringList' | 'labels' | 'taints' | 'map' | 'thresholdMap' | 'boolMap';

/** A constraint on a merged value, with the phrase used in every message about it. */
export interface Rule {
  readonly expect: string; // completes "must be ..."
  readonly test: (value: unknown) => boolean;
}

export interface Setting {
  readonly kind: ValueKind;
  /** KubeletConfiguration field ('logging.verbosity' for nested); absent = flag only. */
  readonly field?: string;
  /** Upstream flag name without dashes; absent = config file only. */
  readonly flag?: string;
  /** One-line description for usage(). */
  readonly help: string;
  readonly rule?: Rule;
  /** Allowed values for kind 'enum'. */
  readonly values?: readonly string[];
  /** A path that, in the config file, is relative to the file's directory (upstream). */
  readonly pathRef?: true;
}

const INT32_MAX = 2_147_483_647;

const isString = (v: unknown): v is string => typeof v === 'string';
const intIn = (min: number, max: number, expect: string): Rule => ({
  expect,
  test: (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max,
});
const positiveDuration: Rule = {
  expect: 'a duration greater than 0 such as "20s" or "1m30s"',
  test: (v) => typeof v === 'number' && v > 0,
};
const nonNegativeDuration: Rule = {
  expect: 'a duration of at least 0 such as "0s" or "2m"',
  test: (v) => typeof v === 'number' && v >= 0,
};
const ipAddress: Rule = { expect: 'an IP address', test: (v) => isString(v) && isIPAddress(v) };
const runtimeEndpoint = (allowEmpty: boolean): Rule => ({
  expect: `${allowEmpty ? "'' or " : ''}a unix socket URL such as "unix:///run/containerd/containerd.sock"`,
  test: (v) => isString(v) && ((allowEmpty && v === '') || /^unix:\/\/\/./.test(v)),
});

const isStringMap = (v: unknown): v is Record<string, string> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(isString);
const isSignalName = (k: string): boolean => (SIGNALS as readonly string[]).includes(k);
const parses = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};
/** Resources that can be reserved (upstream: cpu, memory, ephemeral-storage, pid). */
const RESERVABLE = ['cpu', 'memory', 'ephemeral-storage', 'pid'];
const reservedList: Rule = {
  expect: 'a map of cpu, memory, ephemeral-storage or pid to non-negative quantities such as "100m" or "1Gi"',
  test: (v) => isStringMap(v) && Object.entries(v).every(([k, q]) => RESERVABLE.includes(k) && isNonNegativeQuantity(q)),
};
const thresholdMap: Rule = {
  expect: 'a map of eviction signals (memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree, pid.available, ...) to a positive quantity or a percentage',
  test: (v) => isStringMap(v) && Object.entries(v).every(([k, q]) => parses(() => parseThresholdStatement(k, q))),
};

/** Every user-settable KubeletConfig key. Keyed by SettingKey, so a missing key fails typecheck. */
export const SETTINGS: { readonly [K in SettingKey]: Setting } = {
  staticPodPath: {
    kind: 'string', field: 'staticPodPath', flag: 'pod-manifest-path', pathRef: true,
    help: 'Path to the directory (or file) of static pod manifests; empty disables static pods.',
  },
  fileCheckFrequencyMs: {
    kind: 'duration', field: 'fileCheckFrequency', flag: 'file-check-frequency', rule: positiveDuration,
    help: 'Duration between checks of the static pod path for new data.',
  },
  syncFrequencyMs: {
    kind: 'duration', field: 'syncFrequency', flag: 'sync-frequency', rule: positiveDuration,
    help: 'Max period between synchronizing running containers and config.',
  },
  containerRuntimeEndpoint: {
    kind: 'string', field: 'containerRuntimeEndpoint', flag: 'container-runtime-endpoint', rule: runtimeEndpoint(false),
    help: 'The endpoint of the CRI container runtime service (unix socket URL).',
  },
  imageServiceEndpoint: {
    kind: 'string', field: 'imageServiceEndpoint', flag: 'image-service-endpoint', rule: runtimeEndpoint(true),
    help: 'The endpoint of the CRI image service; empty uses --container-runtime-endpoint.',
  },
  runtimeRequestTimeoutMs: {
    kind: 'duration', field: 'runtimeRequestTimeout', flag: 'runtime-request-timeout', rule: positiveDuration,
    help: 'Timeout of all runtime requests except long-running ones (pull, logs, exec, attach).',
  },
  rootDir: {
    kind: 'string', flag: 'root-dir',
    rule: { expect: 'a non-empty path', test: (v) => isString(v) && v !== '' },
    help: 'Directory path for managing kubelet files (volume mounts, etc).',
  },
  podLogsDir: {
    kind: 'string', field: 'podLogsDir', flag: 'pod-logs-dir', pathRef: true,
    rule: { expect: 'an absolute, normalized path', test: (v) => isString(v) && isCleanAbsolutePath(v) },
    help: 'Directory of container logs (tskubelet extension flag; upstream has only the podLogsDir config field).',
  },
  hostnameOverride: {
    kind: 'string', flag: 'hostname-override',
    help: 'If non-empty, use this string as the node name instead of the actual hostname.',
  },
  readOnlyPort: {
    kind: 'int', field: 'readOnlyPort', flag: 'read-only-port', rule: intIn(0, 65535, 'an integer between 0 and 65535'),
    help: 'The read-only port for the kubelet to serve on with no authentication (0 = disable).',
  },
  healthzPort: {
    kind: 'int', field: 'healthzPort', flag: 'healthz-port', rule: intIn(0, 65535, 'an integer between 0 and 65535'),
    help: 'The port of the localhost healthz endpoint (0 = disable).',
  },
  healthzBindAddress: {
    kind: 'string', field: 'healthzBindAddress', flag: 'healthz-bind-address', rule: ipAddress,
    help: 'The IP address for the healthz server to serve on.',
  },
  address: {
    kind: 'string', field: 'address', flag: 'address', rule: ipAddress,
    help: 'The IP address for the kubelet to serve on (0.0.0.0 or :: for all interfaces).',
  },
  port: {
    kind: 'int', field: 'port', flag: 'port', rule: intIn(1, 65535, 'an integer between 1 and 65535'),
    help: 'The port for the kubelet to serve on.',
  },
  enableServer: {
    kind: 'bool', field: 'enableServer', flag: 'enable-server',
    help: "Enable the kubelet's HTTPS server.",
  },
  enableDebuggingHandlers: {
    kind: 'bool', field: 'enableDebuggingHandlers', flag: 'enable-debugging-handlers',
    help: 'Enables server endpoints for log collection and local running of containers and commands.',
  },
  tlsCertFile: {
    kind: 'string', field: 'tlsCertFile', flag: 'tls-cert-file', pathRef: true,
    help: 'File containing the x509 serving certificate (empty: a self-signed one in --cert-dir, or serverTLSBootstrap).',
  },
  tlsPrivateKeyFile: {
    kind: 'string', field: 'tlsPrivateKeyFile', flag: 'tls-private-key-file', pathRef: true,
    help: 'File containing the x509 private key matching --tls-cert-file.',
  },
  tlsMinVersion: {
    kind: 'enum', field: 'tlsMinVersion', flag: 'tls-min-version', values: TLS_VERSIONS,
    help: 'Minimum TLS version supported (TLS 1.0 and 1.1 are refused by tskubelet).',
  },
  serverTLSBootstrap: {
    kind: 'bool', field: 'serverTLSBootstrap',
    help: 'Request the serving certificate from the API server (a kubernetes.io/kubelet-serving CSR).',
  },
  clientCAFile: {
    kind: 'string', field: 'authentication.x509.clientCAFile', flag: 'client-ca-file', pathRef: true,
    help: 'Authenticate requests presenting a client certificate signed by one of these CAs.',
  },
  authenticationWebhookEnabled: {
    kind: 'bool', field: 'authentication.webhook.enabled', flag: 'authentication-token-webhook',
    help: 'Use the TokenReview API to authenticate bearer tokens.',
  },
  authenticationWebhookCacheTTLMs: {
    kind: 'duration', field: 'authentication.webhook.cacheTTL', flag: 'authentication-token-webhook-cache-ttl', rule: nonNegativeDuration,
    help: 'How long to cache responses from the webhook token authenticator.',
  },
  anonymousAuthEnabled: {
    kind: 'bool', field: 'authentication.anonymous.enabled', flag: 'anonymous-auth',
    help: 'Let requests without credentials through as system:anonymous (then authorized like any user).',
  },
  authorizationMode: {
    kind: 'enum', field: 'authorization.mode', flag: 'authorization-mode', values: AUTHORIZATION_MODES,
    help: 'Authorization mode for the kubelet server: AlwaysAllow or Webhook (SubjectAccessReview).',
  },
  authorizationWebhookCacheAuthorizedTTLMs: {
    kind: 'duration', field: 'authorization.webhook.cacheAuthorizedTTL', flag: 'authorization-webhook-cache-authorized-ttl', rule: nonNegativeDuration,
    help: "How long to cache 'authorized' responses from the webhook authorizer.",
  },
  authorizationWebhookCacheUnauthorizedTTLMs: {
    kind: 'duration', field: 'authorization.webhook.cacheUnauthorizedTTL', flag: 'authorization-webhook-cache-unauthorized-ttl', rule: nonNegativeDuration,
    help: "How long to cache 'unauthorized' responses from the webhook authorizer.",
  },
  streamingConnectionIdleTimeoutMs: {
    kind: 'duration', field: 'streamingConnectionIdleTimeout', flag: 'streaming-connection-idle-timeout', rule: nonNegativeDuration,
    help: 'Maximum time a streaming connection can be idle before it is closed (0 = never).',
  },
  cgroupDriver: {
    kind: 'enum', field: 'cgroupDriver', flag: 'cgroup-driver', values: CGROUP_DRIVERS,
    help: 'Driver the kubelet uses to manipulate cgroups on the host: cgroupfs or systemd.',
  },
  cgroupRoot: {
    kind: 'string', field: 'cgroupRoot', flag: 'cgroup-root',
    rule: { expect: "'' or an absolute cgroup path", test: (v) => isString(v) && (v === '' || v.startsWith('/')) },
    help: 'Optional root cgroup to use for pods.',
  },
  cgroupsPerQOS: {
    kind: 'bool', field: 'cgroupsPerQOS', flag: 'cgroups-per-qos',
    help: 'Enable creation of QoS cgroup hierarchy; if true, top level QoS and pod cgroups are created.',
  },
  verbosity: {
    kind: 'int', field: 'logging.verbosity', flag: 'v', rule: intIn(0, INT32_MAX, 'a non-negative integer'),
    help: 'Number for the log level verbosity.',
  },
  maxPods: {
    kind: 'int', field: 'maxPods', flag: 'max-pods', rule: intIn(1, INT32_MAX, 'a positive integer'),
    help: 'Number of pods that can run on this kubelet.',
  },
  podPidsLimit: {
    kind: 'int', field: 'podPidsLimit', flag: 'pod-max-pids',
    rule: intIn(-1, Number.MAX_SAFE_INTEGER, 'an integer, -1 (unlimited) or more'),
    help: 'Maximum number of pids in any pod (-1 = unlimited).',
  },
  kubeReserved: {
    kind: 'map', field: 'kubeReserved', flag: 'kube-reserved', rule: reservedList,
    help: 'Resources reserved for Kubernetes system components, e.g. cpu=200m,memory=500Mi: taken out of node allocatable.',
  },
  systemReserved: {
    kind: 'map', field: 'systemReserved', flag: 'system-reserved', rule: reservedList,
    help: 'Resources reserved for non-Kubernetes system daemons, e.g. cpu=200m,memory=500Mi: taken out of node allocatable.',
  },
  qosReserved: {
    kind: 'map', field: 'qosReserved', flag: 'qos-reserved',
    rule: {
      expect: 'a map of memory (the only resource that can be reserved) to a percentage between 0% and 100% such as "50%"',
      test: (v) => isStringMap(v) && qosReservedProblem(v) === null,
    },
    help: 'Percentage of the pods\' memory requests reserved from lower QoS classes, e.g. memory=50% (needs the QOSReserved feature gate).',
  },
  featureGates: {
    kind: 'boolMap', field: 'featureGates', flag: 'feature-gates',
    rule: {
      expect: 'a map of feature gate names to true or false',
      test: (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((b) => typeof b === 'boolean'),
    },
    help: `Feature gates to turn on or off (A=true,B=false); an unrecognized gate stops start-up. Options are: ${Object.entries(FEATURE_GATES).map(([name, f]) => `${name}=true|false (${f.preRelease} - default=${f.default})`).join(', ')}.`,
  },
  enforceNodeAllocatable: {
    kind: 'stringList', field: 'enforceNodeAllocatable', flag: 'enforce-node-allocatable',
    rule: {
      expect: "'pods' (the kubepods cgroup is limited to node allocatable) or 'none' (tskubelet does not enforce kube-reserved or system-reserved cgroups)",
      test: (v) => Array.isArray(v) && (v.every((x) => x === 'pods') || (v.length === 1 && v[0] === 'none')),
    },
    help: "Where node allocatable is enforced: 'pods' or 'none'.",
  },
  evictionHard: {
    kind: 'thresholdMap', field: 'evictionHard', flag: 'eviction-hard', rule: thresholdMap,
    help: 'Hard eviction thresholds, e.g. memory.available<1Gi: met, pods are evicted at once.',
  },
  evictionSoft: {
    kind: 'thresholdMap', field: 'evictionSoft', flag: 'eviction-soft', rule: thresholdMap,
    help: 'Soft eviction thresholds, e.g. memory.available<1.5Gi: met for their grace period, pods are evicted.',
  },
  evictionSoftGracePeriod: {
    kind: 'map', field: 'evictionSoftGracePeriod', flag: 'eviction-soft-grace-period',
    rule: {
      expect: 'a map of eviction signals to durations such as "1m30s"',
      test: (v) => isStringMap(v) && Object.entries(v).every(([k, d]) => isSignalName(k) && (parseGoDuration(d) ?? -1) >= 0),
    },
    help: 'Grace periods of the soft eviction thresholds, e.g. memory.available=1m30s.',
  },
  evictionMinimumReclaim: {
    kind: 'map', field: 'evictionMinimumReclaim', flag: 'eviction-minimum-reclaim',
    rule: {
      expect: 'a map of eviction signals to a non-negative quantity or a positive percentage',
      test: (v) => isStringMap(v) && Object.entries(v).every(([k, q]) => isSignalName(k) && (q.endsWith('%') ? Number(q.slice(0, -1)) > 0 : isNonNegativeQuantity(q))),
    },
    help: 'Minimum amount reclaimed beyond a threshold once an eviction starts, e.g. memory.available=0Mi,nodefs.available=500Mi.',
  },
  evictionPressureTransitionPeriodMs: {
    kind: 'duration', field: 'evictionPressureTransitionPeriod', flag: 'eviction-pressure-transition-period', rule: nonNegativeDuration,
    help: 'How long a node pressure condition stays true after its threshold was last met.',
  },
  evictionMaxPodGracePeriod: {
    kind: 'int', field: 'evictionMaxPodGracePeriod', flag: 'eviction-max-pod-grace-period', rule: intIn(-INT32_MAX - 1, INT32_MAX, 'an integer'),
    help: "Maximum grace period (s) of pods evicted for a soft threshold (capped by the pod's own).",
  },
  mergeDefaultEvictionSettings: {
    kind: 'bool', field: 'mergeDefaultEvictionSettings',
    help: 'Fill the evictionHard signals the configuration leaves out with their defaults.',
  },
  imageGCHighThresholdPercent: {
    kind: 'int', field: 'imageGCHighThresholdPercent', flag: 'image-gc-high-threshold', rule: intIn(0, 100, 'an integer between 0 and 100'),
    help: 'The percent of disk usage after which image garbage collection is always run (100 disables it).',
  },
  imageGCLowThresholdPercent: {
    kind: 'int', field: 'imageGCLowThresholdPercent', flag: 'image-gc-low-threshold', rule: intIn(0, 100, 'an integer between 0 and 100'),
    help: 'The percent of disk usage before which image garbage collection is never run; GC frees down to it.',
  },
  imageMinimumGCAgeMs: {
    kind: 'duration', field: 'imageMinimumGCAge', flag: 'minimum-image-ttl-duration', rule: nonNegativeDuration,
    help: 'Minimum age of an unused image before it is garbage collected.',
  },
  imageMaximumGCAgeMs: {
    kind: 'duration', field: 'imageMaximumGCAge', rule: nonNegativeDuration,
    help: 'Unused images not used for this long are garbage collected whatever the disk usage; 0 disables it.',
  },
  minimumGCAgeMs: {
    kind: 'duration', flag: 'minimum-container-ttl-duration', rule: nonNegativeDuration,
    help: 'Minimum age of a finished container before it is garbage collected (deprecated upstream).',
  },
  maxPerPodContainerCount: {
    kind: 'int', flag: 'maximum-dead-containers-per-container', rule: intIn(-INT32_MAX - 1, INT32_MAX, 'an integer'),
    help: 'Maximum number of old instances to keep per container; negative: no limit (deprecated upstream).',
  },
  maxContainerCount: {
    kind: 'int', flag: 'maximum-dead-containers', rule: intIn(-INT32_MAX - 1, INT32_MAX, 'an integer'),
    help: 'Maximum number of old container instances to keep on the node in total; negative: no limit (deprecated upstream).',
  },
  clusterDNS: {
    kind: 'stringList', field: 'clusterDNS', flag: 'cluster-dns',
    rule: { expect: 'a list of IP addresses', test: (v) => Array.isArray(v) && v.every((s) => isString(s) && isIPAddress(s)) },
    help: 'Comma-separated list of DNS server IP addresses for pods with dnsPolicy=ClusterFirst.',
  },
  clusterDomain: {
    kind: 'string', field: 'clusterDomain', flag: 'cluster-domain',
    rule: { expect: "'' or a DNS-1123 subdomain", test: (v) => isString(v) && (v === '' || isDns1123Subdomain(v)) },
    help: 'Domain for this cluster; containers search it in addition to the host search domains.',
  },
  resolvConf: {
    kind: 'string', field: 'resolvConf', flag: 'resolv-conf', pathRef: true,
    help: 'Resolver configuration file used as the basis for container DNS resolution (empty = none).',
  },
  serializeImagePulls: {
    kind: 'bool', field: 'serializeImagePulls', flag: 'serialize-image-pulls',
    help: 'Pull images one at a time.',
  },
  podInfraContainerImage: {
    kind: 'string', flag: 'pod-infra-container-image',
    rule: { expect: 'a non-empty image reference', test: (v) => isString(v) && v !== '' },
    help: 'The image whose network/ipc namespaces containers in each pod will use (sandbox image).',
  },
  containerLogMaxSize: {
    kind: 'string', field: 'containerLogMaxSize', flag: 'container-log-max-size',
    rule: { expect: 'a non-negative quantity such as "10Mi"', test: (v) => isString(v) && isNonNegativeQuantity(v) },
    help: 'Maximum size (quantity, e.g. 10Mi) of a container log file before it is rotated.',
  },
  containerLogMaxFiles: {
    kind: 'int', field: 'containerLogMaxFiles', flag: 'container-log-max-files',
    rule: intIn(2, INT32_MAX, 'an integer of at least 2'),
    help: 'Maximum number of container log files that can be present for a container.',
  },
  kubeconfig: {
    kind: 'string', flag: 'kubeconfig',
    help: 'Path to a kubeconfig file for connecting to the API server (empty = standalone mode).',
  },
  bootstrapKubeconfig: {
    kind: 'string', flag: 'bootstrap-kubeconfig',
    help: 'Path to a kubeconfig file used to get a client certificate for the kubelet.',
  },
  certDir: {
    kind: 'string', flag: 'cert-dir',
    help: 'The directory where the TLS certs are located.',
  },
  nodeIP: {
    kind: 'string', flag: 'node-ip',
    rule: { expect: "'' or one IP address, or two of different families, comma-separated", test: (v) => isString(v) && isNodeIPList(v) },
    help: 'IP address (or comma-separated dual-stack IP addresses) of the node.',
  },
  nodeLabels: {
    kind: 'labels', flag: 'node-labels',
    rule: {
      expect: 'key=value labels with valid keys and values (kubernetes.io/ and k8s.io/ keys only from the kubelet-allowed set)',
      test: (v) => typeof v === 'object' && v !== null && Object.entries(v).every(
        ([k, val]) => isQualifiedName(k) && isString(val) && isLabelValue(val) && isAllowedNodeLabelKey(k)),
    },
    help: 'Labels to add when registering the node: comma-separated key=value pairs.',
  },
  registerNode: {
    kind: 'bool', field: 'registerNode', flag: 'register-node',
    help: 'Register the node with the API server.',
  },
  registerWithTaints: {
    kind: 'taints', field: 'registerWithTaints', flag: 'register-with-taints',
    rule: {
      expect: 'taints key=value:effect with a valid key and value and effect NoSchedule, PreferNoSchedule or NoExecute',
      test: (v) => Array.isArray(v) && v.every(
        (t: unknown) => typeof t === 'object' && t !== null && 'key' in t && 'value' in t &&
          isString(t.key) && isQualifiedName(t.key) && isString(t.value) && isLabelValue(t.value)),
    },
    help: 'Taints to register the node with: comma-separated key=value:Effect.',
  },
  allowedUnsafeSysctls: {
    kind: 'stringList', field: 'allowedUnsafeSysctls', flag: 'allowed-unsafe-sysctls',
    rule: {
      expect: "a list of namespaced sysctl names or patterns ending in '*' (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*)",
      test: (v) => Array.isArray(v) && v.every((s) => isString(s) && allowlistEntryProblem(s) === null),
    },
    help: "Comma-separated unsafe sysctls or patterns (ending in '*') pods may use; each must be namespaced.",
  },
};

/** Kind phrases for type errors of settings without a rule (completes "must be ..."). */
const KIND_EXPECT: Readonly<Record<ValueKind, string>> = {
  string: 'a string',
  bool: 'a boolean',
  int: 'an integer',
  duration: 'a duration such as "20s" or "1m30s"',
  enum: 'one of',
  stringList: 'a list of strings',
  labels: 'comma-separated key=value pairs',
  taints: 'taints key=value:Effect with Effect NoSchedule, PreferNoSchedule or NoExecute',
  map: 'a mapping of strings',
  thresholdMap: 'a mapping of strings',
  boolMap: 'a mapping of names to booleans',
};

/** The phrase completing "must be ..." for a setting, used in type and rule errors alike. */
export function expectOf(s: Setting): string {
  if (s.kind === 'enum') return `one of ${(s.values ?? []).map((v) => `"${v}"`).join(', ')}`;
  return s.rule?.expect ?? KIND_EXPECT[s.kind];
}

/** How a value appears after "got" in messages. */
export const shown = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];
