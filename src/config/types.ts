// The kubelet's resolved settings: upstream KubeletConfiguration (kubelet.config.k8s.io/v1beta1)
// names in camelCase where the setting is a config-file field, upstream flag names otherwise.
// Durations are milliseconds (suffix `Ms`); the YAML and the flags spell them as Go durations.

export type CgroupDriver = 'cgroupfs' | 'systemd';
export const CGROUP_DRIVERS: readonly CgroupDriver[] = ['cgroupfs', 'systemd'];

export type AuthorizationMode = 'AlwaysAllow' | 'Webhook';
export const AUTHORIZATION_MODES: readonly AuthorizationMode[] = ['AlwaysAllow', 'Webhook'];
export type TlsVersion = 'VersionTLS12' | 'VersionTLS13';
export const TLS_VERSIONS: readonly TlsVersion[] = ['VersionTLS12', 'VersionTLS13'];

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
export const TAINT_EFFECTS: readonly TaintEffect[] = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** A node taint to register the node with (upstream v1.Taint without timeAdded). */
export interface Taint {
  readonly key: string;
  readonly value: string; // '' when absent
  readonly effect: TaintEffect;
}

export interface KubeletConfig {
  /** Directory (or file) of static pod manifests; '' = none. Flag --pod-manifest-path. */
  readonly staticPodPath: string;
  /** How often the static pod path is re-read. */
  readonly fileCheckFrequencyMs: number;
  /** Max period between pod syncs. */
  readonly syncFrequencyMs: number;
  /** CRI runtime endpoint, a unix:// URL (a bare absolute path is normalised to one). */
  readonly containerRuntimeEndpoint: string;
  /** CRI image endpoint; '' = use containerRuntimeEndpoint. */
  readonly imageServiceEndpoint: string;
  /** Timeout of every CRI call except long-running ones (pull, logs, exec). */
  readonly runtimeRequestTimeoutMs: number;
  /** Kubelet state directory. Flag only (--root-dir). */
  readonly rootDir: string;
  /** Container log directory (<dir>/<ns>_<pod>_<uid>/<container>/<n>.log); absolute. */
  readonly podLogsDir: string;
  /** Flag only (--hostname-override); '' = the host name. Resolved into nodeName. */
  readonly hostnameOverride: string;
  /** The node's name: hostnameOverride or os.hostname(), trimmed, lower-cased; a DNS-1123 subdomain. */
  readonly nodeName: string;
  /** Read-only HTTP port; 0 = off. */
  readonly readOnlyPort: number;
  /** Healthz port; 0 = off. */
  readonly healthzPort: number;
  readonly healthzBindAddress: string;
  /** Bind address of the kubelet server (port). */
  readonly address: string;
  readonly port: number;
  /** Serve the kubelet API (HTTPS on `port`). */
  readonly enableServer: boolean;
  /** Serve logs, exec, attach, port-forward and run (upstream's debugging handlers). */
  readonly enableDebuggingHandlers: boolean;
  /** The serving certificate and key; both '' = serverTLSBootstrap or a self-signed pair in certDir. */
  readonly tlsCertFile: string;
  readonly tlsPrivateKeyFile: string;
  readonly tlsMinVersion: TlsVersion;
  /** Request the serving certificate from the API server (signer kubernetes.io/kubelet-serving). */
  readonly serverTLSBootstrap: boolean;
  /** CA bundle that client certificates are verified against; '' = x509 authentication off. */
  readonly clientCAFile: string;
  /** Bearer tokens checked with the TokenReview API. */
  readonly authenticationWebhookEnabled: boolean;
  readonly authenticationWebhookCacheTTLMs: number;
  /** Anonymous requests (no credentials) pass as system:anonymous instead of getting 401. */
  readonly anonymousAuthEnabled: boolean;
  readonly authorizationMode: AuthorizationMode;
  readonly authorizationWebhookCacheAuthorizedTTLMs: number;
  readonly authorizationWebhookCacheUnauthorizedTTLMs: number;
  /** An exec/attach/port-forward connection idle this long is closed; 0 = never. */
  readonly streamingConnectionIdleTimeoutMs: number;
  readonly cgroupDriver: CgroupDriver;
  /** Root cgroup for pods; with cgroupsPerQOS an empty value resolves to '/'. */
  readonly cgroupRoot: string;
  readonly cgroupsPerQOS: boolean;
  /** klog verbosity: flag --v / -v, config logging.verbosity. */
  readonly verbosity: number;
  readonly maxPods: number;
  /** Max pids per pod; -1 = unlimited. */
  readonly podPidsLimit: number;
  /** Resources reserved for Kubernetes system daemons: resource name (cpu, memory, ephemeral-storage, pid) -> quantity. */
  readonly kubeReserved: Readonly<Record<string, string>>;
  /** Resources reserved for the OS's daemons, as kubeReserved. */
  readonly systemReserved: Readonly<Record<string, string>>;
  /**
   * Percentage of the higher QoS classes' requests kept from the lower ones' cgroups: resource
   * (only memory) -> 'N%' (0-100). Acted on only with the QOSReserved feature gate.
   */
  readonly qosReserved: Readonly<Record<string, string>>;
  /** Feature gate name -> enabled; gates left out take their defaults (features.ts). */
  readonly featureGates: Readonly<Record<string, boolean>>;
  /** Where node allocatable is enforced: ['pods'] (the kubepods cgroup limits) or ['none']. */
  readonly enforceNodeAllocatable: readonly string[];
  /** Hard eviction thresholds: signal (memory.available, nodefs.available, ...) -> quantity or percentage. */
  readonly evictionHard: Readonly<Record<string, string>>;
  /** Soft eviction thresholds, each with a grace period in evictionSoftGracePeriod. */
  readonly evictionSoft: Readonly<Record<string, string>>;
  /** Signal -> Go duration a soft threshold must hold before pods are evicted. */
  readonly evictionSoftGracePeriod: Readonly<Record<string, string>>;
  /** Signal -> quantity or percentage reclaimed beyond the threshold once an eviction starts. */
  readonly evictionMinimumReclaim: Readonly<Record<string, string>>;
  /** How long a pressure condition stays True after its threshold was last met. */
  readonly evictionPressureTransitionPeriodMs: number;
  /** Grace period (s) of pods evicted for a soft threshold, capped by the pod's own; 0 = stop at once. */
  readonly evictionMaxPodGracePeriod: number;
  /** Fill the evictionHard signals the configuration leaves out with their defaults. */
  readonly mergeDefaultEvictionSettings: boolean;
  /** Image filesystem usage (percent) at or above which image GC runs; 100 disables it. */
  readonly imageGCHighThresholdPercent: number;
  /** Image filesystem usage (percent) image GC frees down to. */
  readonly imageGCLowThresholdPercent: number;
  /** An unused image is not garbage collected before this long after the kubelet first saw it. */
  readonly imageMinimumGCAgeMs: number;
  /**
   * An unused image not used for this long is garbage collected whatever the disk usage
   * (upstream imageMaximumGCAge); 0 disables it. Must exceed imageMinimumGCAgeMs when set.
   */
  readonly imageMaximumGCAgeMs: number;
  /** Flag only (--minimum-container-ttl-duration): a dead container is not garbage collected before this age. */
  readonly minimumGCAgeMs: number;
  /** Flag only (--maximum-dead-containers-per-container): dead instances kept per pod and container name; < 0 = no limit. */
  readonly maxPerPodContainerCount: number;
  /** Flag only (--maximum-dead-containers): dead containers kept on the node in total; < 0 = no limit. */
  readonly maxContainerCount: number;
  readonly clusterDNS: readonly string[];
  readonly clusterDomain: string;
  /** Resolver file for pods with DNSPolicy Default/ClusterFirst; '' = none. */
  readonly resolvConf: string;
  readonly serializeImagePulls: boolean;
  /** Sandbox (pause) image. Flag only (--pod-infra-container-image). */
  readonly podInfraContainerImage: string;
  /** Rotate a container log above this size: a resource quantity ('10Mi'). */
  readonly containerLogMaxSize: string;
  readonly containerLogMaxFiles: number;
  /** Flag only: path of the kubeconfig; '' = standalone (no API server). */
  readonly kubeconfig: string;
  /** Flag only: bootstrap kubeconfig for TLS bootstrapping; '' = none. */
  readonly bootstrapKubeconfig: string;
  /** Flag only: directory of the kubelet's TLS certificates. */
  readonly certDir: string;
  /** Flag only: node IP(s), comma-separated, at most one per family; '' = detect. */
  readonly nodeIP: string;
  /** Flag only (--node-labels): labels to register the node with. */
  readonly nodeLabels: Readonly<Record<string, string>>;
  readonly registerNode: boolean;
  readonly registerWithTaints: readonly Taint[];
  /** Sysctls (names, or prefixes ending in '*') pods may set beyond the safe ones; each must be namespaced. */
  readonly allowedUnsafeSysctls: readonly string[];
  /**
   * Valid upstream KubeletConfiguration fields tskubelet accepts but does not act on, as
   * written in the file (relative paths resolved), for /configz. Includes `logging` without
   * its verbosity (that lives in `verbosity`).
   */
  readonly passThrough: Readonly<Record<string, unknown>>;
}

/** Keys of KubeletConfig that a user sets directly (by file and/or flag). */
export type SettingKey = Exclude<keyof KubeletConfig, 'nodeName' | 'passThrough'>;

/** Settings from one source (file or flags): only the keys that source set. */
export type ConfigValues = Partial<Pick<KubeletConfig, SettingKey>>;

/** Upstream defaults (v1beta1 defaulting and flag defaults), except the pause image. */
export const KUBELET_DEFAULTS: Readonly<Pick<KubeletConfig, SettingKey>> = Object.freeze({
  staticPodPath: '',
  fileCheckFrequencyMs: 20_000,
  syncFrequencyMs: 60_000,
  containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
  imageServiceEndpoint: '',
  runtimeRequestTimeoutMs: 120_000,
  rootDir: '/var/lib/kubelet',
  podLogsDir: '/var/log/pods',
  hostnameOverride: '',
  readOnlyPort: 0,
  healthzPort: 10248,
  healthzBindAddress: '127.0.0.1',
  address: '0.0.0.0',
  port: 10250,
  enableServer: true,
  enableDebuggingHandlers: true,
  tlsCertFile: '',
  tlsPrivateKeyFile: '',
  tlsMinVersion: 'VersionTLS12',
  serverTLSBootstrap: false,
  clientCAFile: '',
  // The v1beta1 KubeletConfiguration defaults (secure), also without a config file; upstream's
  // flag defaults alone would be anonymous + AlwaysAllow.
  authenticationWebhookEnabled: true,
  authenticationWebhookCacheTTLMs: 120_000,
  anonymousAuthEnabled: false,
  authorizationMode: 'Webhook',
  authorizationWebhookCacheAuthorizedTTLMs: 300_000,
  authorizationWebhookCacheUnauthorizedTTLMs: 30_000,
  streamingConnectionIdleTimeoutMs: 4 * 3_600_000,
  cgroupDriver: 'cgroupfs',
  cgroupRoot: '/',
  cgroupsPerQOS: true,
  verbosity: 0,
  maxPods: 110,
  podPidsLimit: -1,
  kubeReserved: Object.freeze({}),
  systemReserved: Object.freeze({}),
  qosReserved: Object.freeze({}),
  featureGates: Object.freeze({}),
  enforceNodeAllocatable: Object.freeze(['pods']),
  // Upstream DefaultEvictionHard (Linux).
  evictionHard: Object.freeze({ 'memory.available': '100Mi', 'nodefs.available': '10%', 'nodefs.inodesFree': '5%', 'imagefs.available': '15%' }),
  evictionSoft: Object.freeze({}),
  evictionSoftGracePeriod: Object.freeze({}),
  evictionMinimumReclaim: Object.freeze({}),
  evictionPressureTransitionPeriodMs: 5 * 60_000,
  evictionMaxPodGracePeriod: 0,
  mergeDefaultEvictionSettings: false,
  imageGCHighThresholdPercent: 85,
  imageGCLowThresholdPercent: 80,
  imageMinimumGCAgeMs: 2 * 60_000,
  imageMaximumGCAgeMs: 0,
  // Upstream's (deprecated) container GC flag defaults.
  minimumGCAgeMs: 0,
  maxPerPodContainerCount: 1,
  maxContainerCount: -1,
  clusterDNS: Object.freeze([]),
  clusterDomain: '',
  resolvConf: '/etc/resolv.conf',
  serializeImagePulls: true,
  // This project's locally served pause image (upstream: registry.k8s.io/pause:3.10).
  podInfraContainerImage: '127.0.0.1:5000/pause:3.10',
  containerLogMaxSize: '10Mi',
  containerLogMaxFiles: 5,
  kubeconfig: '',
  bootstrapKubeconfig: '',
  certDir: '/var/lib/kubelet/pki',
  nodeIP: '',
  nodeLabels: Object.freeze({}),
  registerNode: true,
  registerWithTaints: Object.freeze([]),
  allowedUnsafeSysctls: Object.freeze([]),
});
