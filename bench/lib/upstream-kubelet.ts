// The two agents of the side-by-side benchmark as processes: the KubeletConfiguration both read,
// each one's command line, the upstream kubelet's binary (scripts/upstream-kubelet.sh), and the
// host state the upstream kubelet changes and the bench puts back.
//
// What it takes to run the upstream kubelet v1.34 on these machines (found by running it here):
// - no systemd: cgroupDriver cgroupfs (containerd 1.6 has no RuntimeConfig RPC to ask, so the
//   kubelet takes the config's driver; it logs "RuntimeConfig ... Unimplemented" once);
// - a negative oom_score_adj is refused here (containerd runs with restrict_oom_score_adj): the
//   kubelet's own -999 (--oom-score-adj) only fails with a log line, oomScoreAdj 0 avoids it; the
//   pods' negative values (-998 sandbox, -997 Guaranteed) are clamped by containerd;
// - failSwapOn false (the machine has no swap; harmless either way);
// - hybrid cgroups (v1 controllers + cgroup2 at /sys/fs/cgroup/unified): runs as cgroup v1 (only
//   a deprecation warning in 1.34; failCgroupV1 defaults to false);
// - evictionHard relaxed (memory.available 1Mi, the file systems 1%): the small machine does not
//   evict; kubeReserved/systemReserved unset; localStorageCapacityIsolation stays on (rootfs
//   stats work here; the first image GC logs "invalid capacity 0 on image filesystem" once,
//   before cadvisor has stats).
// What it changes on the host, and how the bench undoes it (HostState):
// - protectKernelDefaults false makes it SET vm.overcommit_memory=1, kernel.panic=10,
//   kernel.panic_on_oops=1 (and checks others): the bench restores the values it found;
// - cgroupsPerQOS: it writes cpu.shares, memory and pids limits of /kubepods and its besteffort
//   and burstable children (besteffort cpu.shares=2): restored; children it created are removed;
// - the device manager's socket folder is fixed at /var/lib/kubelet/device-plugins whatever
//   --root-dir says: removed when the bench's run created it;
// - its --root-dir becomes a shared bind mount of itself: unmounted with the temp folder;
// - makeIPTablesUtilChains false: no KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY chains are left.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PAUSE_IMAGE } from './manifests.ts';
import { RUNTIME_ENDPOINT } from './runtime.ts';

/** The cluster CA (scripts/cluster/lib.sh PKI_DIR): client certificates of the API server. */
export const CLUSTER_CA_FILE = '/var/lib/tskubelet-cluster/pki/ca.crt';

/** What differs per run in the shared configuration. */
export interface AgentConfigInput {
  podLogsDir: string;
  healthzPort: number;
  port: number;
  maxPods: number;
}

/**
 * The KubeletConfiguration both agents read (tskubelet accepts the upstream fields it does not
 * act on and keeps them for /configz). Only podLogsDir and the ports differ between the runs.
 */
export function kubeletConfigYaml(c: AgentConfigInput): string {
  return [
    'apiVersion: kubelet.config.k8s.io/v1beta1',
    'kind: KubeletConfiguration',
    `containerRuntimeEndpoint: ${RUNTIME_ENDPOINT}`,
    'cgroupDriver: cgroupfs',
    'cgroupsPerQOS: true',
    'failSwapOn: false',
    'oomScoreAdj: 0',
    'authentication:',
    '  anonymous: {enabled: false}',
    '  webhook: {enabled: true}',
    `  x509: {clientCAFile: ${CLUSTER_CA_FILE}}`,
    'authorization: {mode: Webhook}',
    'rotateCertificates: true',
    'serverTLSBootstrap: false',
    'resolvConf: /etc/resolv.conf',
    'evictionHard: {memory.available: "1Mi", nodefs.available: "1%", nodefs.inodesFree: "1%", imagefs.available: "1%"}',
    'protectKernelDefaults: false',
    'makeIPTablesUtilChains: false',
    `maxPods: ${c.maxPods}`,
    'address: 0.0.0.0',
    `port: ${c.port}`,
    'readOnlyPort: 0',
    'healthzBindAddress: 127.0.0.1',
    `healthzPort: ${c.healthzPort}`,
    `podLogsDir: ${c.podLogsDir}`,
    '',
  ].join('\n');
}

/** Where each run keeps its files (a temp folder per run). */
export interface AgentDirs {
  config: string;
  kubeconfig: string;
  certDir: string;
  rootDir: string;
}

/**
 * The command-line flags of either agent: TLS bootstrap with the cluster's bootstrap kubeconfig,
 * its own kubeconfig, cert dir and root dir, its node name and a label to find leftovers by.
 * The upstream kubelet also gets --pod-infra-container-image (in 1.34 it only keeps the image from
 * image GC; tskubelet has no such flag and no image GC).
 */
export function agentArgs(agent: 'upstream' | 'tskubelet', d: AgentDirs, bootstrapKubeconfig: string, nodeName: string, label: string, verbosity: number): string[] {
  const args = [
    '--config', d.config,
    '--bootstrap-kubeconfig', bootstrapKubeconfig, '--kubeconfig', d.kubeconfig, '--cert-dir', d.certDir,
    '--root-dir', d.rootDir, '--hostname-override', nodeName, '--node-labels', label, `--v=${verbosity}`,
  ];
  if (agent === 'upstream') args.push('--pod-infra-container-image', PAUSE_IMAGE);
  return args;
}

/**
 * The upstream kubelet's binary: `scripts/upstream-kubelet.sh path`; when it is not built yet,
 * builds it first (`scripts/upstream-kubelet.sh build`, minutes, its progress on our stderr).
 * Throws with the script's message when the build fails.
 */
export function upstreamKubeletBinary(root: string, progress: (msg: string) => void): string {
  const script = join(root, 'scripts/upstream-kubelet.sh');
  const path = (): ReturnType<typeof spawnSync> => spawnSync('bash', [script, 'path'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  let r = path();
  if (r.status === 3) {
    progress('the upstream kubelet is not built yet: building it (once per machine; bash scripts/upstream-kubelet.sh build)');
    const b = spawnSync('bash', [script, 'build'], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (b.status !== 0) throw new Error(`building the upstream kubelet failed (bash scripts/upstream-kubelet.sh build exited ${b.status ?? b.signal})`);
    r = path();
  }
  if (r.status !== 0) throw new Error(`bash scripts/upstream-kubelet.sh path failed: ${String(r.stderr).trim()}`);
  return String(r.stdout).trim();
}

/** `kubelet --version` ("Kubernetes v1.34.2" → "kubelet v1.34.2"). */
export function upstreamVersion(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().replace(/^Kubernetes /, 'kubelet ');
  } catch {
    return 'kubelet (unknown version)';
  }
}

// --- host state ---------------------------------------------------------------------------------

/** The sysctls a kubelet with protectKernelDefaults false sets (pkg/kubelet/cm setupKernelTunables). */
const KERNEL_TUNABLES = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'];
/** The QoS cgroups the kubelet configures (cgroupsPerQOS, cgroupfs driver, cgroupRoot /). */
const QOS_CGROUPS = ['kubepods', 'kubepods/besteffort', 'kubepods/burstable'];
/** Per cgroup v1 controller, the files the kubelet writes on those cgroups. */
const V1_FILES: Record<string, string[]> = {
  cpu: ['cpu.shares', 'cpu.cfs_quota_us', 'cpu.cfs_period_us'],
  memory: ['memory.limit_in_bytes'],
  pids: ['pids.max'],
  cpuset: ['cpuset.cpus', 'cpuset.mems'],
  hugetlb: [],
};
/** The cgroup2 equivalents (a unified-only machine). */
const V2_FILES = ['cpu.weight', 'cpu.max', 'memory.max', 'pids.max', 'cpuset.cpus', 'cpuset.mems'];
const CGROUP_FS = '/sys/fs/cgroup';
const DEVICE_PLUGINS_DIR = '/var/lib/kubelet/device-plugins';

/** What was there before the upstream kubelet ran; JSON, so a killed bench's next run can restore it. */
export interface HostState {
  sysctls: Record<string, string>;
  /** cgroup file path → its content. */
  cgroupFiles: Record<string, string>;
  /** The QoS cgroup folders that existed (every hierarchy). */
  cgroupDirs: string[];
  /** The pod cgroups (pod<uid> under a QoS cgroup) that existed. */
  podCgroups: string[];
  devicePluginsExisted: boolean;
  kubeletDirExisted: boolean;
}

function readTrim(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** The folders of the QoS cgroups in every hierarchy this machine has (whether they exist or not). */
function qosCgroupDirs(): string[] {
  if (existsSync(join(CGROUP_FS, 'cgroup.controllers'))) return QOS_CGROUPS.map((c) => join(CGROUP_FS, c));
  const hierarchies = readdirSync(CGROUP_FS).filter((h) => !h.includes(','));
  return hierarchies.flatMap((h) => QOS_CGROUPS.map((c) => join(CGROUP_FS, h, c)));
}

/** The pod<uid> cgroup folders under the QoS cgroups, every hierarchy. */
function podCgroupDirs(): string[] {
  const out: string[] = [];
  for (const d of qosCgroupDirs()) {
    try {
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory() && e.name.startsWith('pod')) out.push(join(d, e.name));
    } catch {
      // no such cgroup
    }
  }
  return out;
}

function cgroupFilesOf(dir: string): string[] {
  if (existsSync(join(CGROUP_FS, 'cgroup.controllers'))) return V2_FILES.map((f) => join(dir, f));
  const controller = dir.slice(CGROUP_FS.length + 1).split('/')[0] ?? '';
  return (V1_FILES[controller] ?? []).map((f) => join(dir, f));
}

/** Reads the host state the upstream kubelet changes. */
export function snapshotHostState(): HostState {
  const sysctls: Record<string, string> = {};
  for (const s of KERNEL_TUNABLES) {
    const v = readTrim(`/proc/sys/${s}`);
    if (v !== undefined) sysctls[s] = v;
  }
  const cgroupDirs = qosCgroupDirs().filter((d) => existsSync(d));
  const cgroupFiles: Record<string, string> = {};
  for (const d of cgroupDirs) {
    for (const f of cgroupFilesOf(d)) {
      const v = readTrim(f);
      if (v !== undefined) cgroupFiles[f] = v;
    }
  }
  return { sysctls, cgroupFiles, cgroupDirs, podCgroups: podCgroupDirs(), devicePluginsExisted: existsSync(DEVICE_PLUGINS_DIR), kubeletDirExisted: existsSync('/var/lib/kubelet') };
}

/**
 * Puts back what `before` recorded: sysctls and cgroup values that differ now are written back
 * (parents before children), QoS cgroup folders that did not exist are removed when empty
 * (children first), so are pod cgroups it left, the device-plugins folder goes when it was not there. Call only once no
 * kubelet runs and its pods are gone. Never throws; returns what it could not undo, and what it
 * did, for the report.
 */
export function restoreHostState(before: HostState): { restored: string[]; problems: string[] } {
  const restored: string[] = [];
  const problems: string[] = [];
  const put = (path: string, value: string, what: string): void => {
    const now = readTrim(path);
    if (now === undefined || now === value) return;
    try {
      writeFileSync(path, value);
      restored.push(`${what} ${now} → ${value}`);
    } catch (err) {
      problems.push(`${what}: could not write ${value} back (${err instanceof Error ? err.message : String(err)})`);
    }
  };
  for (const [s, v] of Object.entries(before.sysctls)) put(`/proc/sys/${s}`, v, s.replace(/\//g, '.'));
  const files = Object.keys(before.cgroupFiles).sort((a, b) => a.split('/').length - b.split('/').length);
  for (const f of files) put(f, before.cgroupFiles[f] as string, f.slice(CGROUP_FS.length + 1));
  const hadPods = new Set(before.podCgroups);
  const podsLeft = podCgroupDirs().filter((d) => !hadPods.has(d));
  let podsRemoved = 0;
  for (const d of podsLeft) {
    try {
      rmdirSync(d);
      podsRemoved++;
    } catch (err) {
      problems.push(`pod cgroup ${d}: not removed (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (podsRemoved > 0) restored.push(`removed ${podsRemoved} pod cgroup folder(s) the kubelet left`);
  const existed = new Set(before.cgroupDirs);
  const created = qosCgroupDirs().filter((d) => !existed.has(d) && existsSync(d)).sort((a, b) => b.length - a.length);
  for (const d of created) {
    try {
      rmdirSync(d);
      restored.push(`removed the cgroup ${d.slice(CGROUP_FS.length + 1)}`);
    } catch (err) {
      problems.push(`cgroup ${d}: not removed (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (!before.devicePluginsExisted && existsSync(DEVICE_PLUGINS_DIR)) {
    rmSync(DEVICE_PLUGINS_DIR, { recursive: true, force: true });
    restored.push(`removed ${DEVICE_PLUGINS_DIR}`);
    try {
      if (!before.kubeletDirExisted && readdirSync('/var/lib/kubelet').length === 0) rmdirSync('/var/lib/kubelet');
    } catch {
      // not empty or gone: leave it
    }
  }
  return { restored, problems };
}

/** Writes the snapshot to `file` before the upstream kubelet starts (see restorePendingHostState). */
export function saveHostState(file: string, s: HostState): void {
  writeFileSync(file, JSON.stringify(s, null, 1) + '\n');
}

/**
 * When `file` exists, a bench run was killed while the upstream kubelet had changed the host:
 * restores from it and removes it. Returns what was done (empty when there was nothing).
 */
export function restorePendingHostState(file: string): { restored: string[]; problems: string[] } | null {
  if (!existsSync(file)) return null;
  let s: HostState;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as HostState;
  } catch (err) {
    unlinkSync(file);
    return { restored: [], problems: [`unreadable ${file}: ${err instanceof Error ? err.message : String(err)}`] };
  }
  const r = restoreHostState(s);
  unlinkSync(file);
  return r;
}
