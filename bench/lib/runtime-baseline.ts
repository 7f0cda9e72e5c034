// The runtime-only baseline: the bench itself plays the kubelet's part for N pods at once,
// calling RunPodSandbox, CreateContainer and StartContainer directly over CRI with the configs
// tskubelet would send for the same manifests (built with tskubelet's own builders), and nothing
// else in between. Everything that is not a runtime call (parsing, folders, /etc/hosts, image
// reference) is prepared before the clock starts. What it measures is what the runtime alone
// takes under the same concurrency on this machine.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CriClient } from '../../src/cri/client.ts';
import type { ContainerConfig, PodSandboxConfig } from '../../src/cri/types.ts';
import { errorMessage } from '../../src/common/errors.ts';
import type { KubeletConfig } from '../../src/config/types.ts';
import { containerLinuxResources, podSandboxCgroupParent } from '../../src/cm/resources.ts';
import type { Pod } from '../../src/kube/types.ts';
import { buildContainerConfig, managedHostsFile } from '../../src/kuberuntime/container-config.ts';
import { podDnsSettings } from '../../src/kuberuntime/dns.ts';
import { expandContainerCommandAndArgs, makeEnvironment } from '../../src/kuberuntime/envvars.ts';
import { buildSandboxConfig, podHostname } from '../../src/kuberuntime/sandbox-config.ts';
import { containerSecurityContext, imageUser, NODE_USER_NAMESPACE } from '../../src/kuberuntime/security-context.ts';
import { containerLogRelativePath, podLogDirectory } from '../../src/logs/paths.ts';
import { nodeAddress } from '../../src/node/address.ts';
import { parseManifestFile } from '../../src/podconfig/manifest.ts';
import { containerVolumeMounts } from '../../src/volumes/volumes.ts';
import type { WallClock } from './host.ts';
import { BENCH_IMAGE, manifestFile, manifestText } from './manifests.ts';
import { readPodTimes } from './runtime.ts';

export interface BaselineDeps {
  cri: CriClient;
  /** The configuration tskubelet runs with (same flags), for the same sandbox and container configs. */
  config: KubeletConfig;
  /** Where the baseline's pod folders go (pod data and the manifest paths that make the UIDs). */
  workDir: string;
  clock: WallClock;
  runId: string;
}

/** One pod of the baseline; times are wall-clock ms, durations ms. */
export interface BaselinePodSample {
  name: string; // the runtime's pod name (<manifest name>-<node>)
  t0Ms: number; // just before RunPodSandbox
  sandboxMs: number; // RunPodSandbox
  createMs: number; // CreateContainer
  startMs: number; // StartContainer
  runtimeMs: number; // the three together
  sandboxCreatedMs: number; // runtime's created_at of the sandbox
  containerCreatedMs: number; // runtime's created_at of the container
  startedMs: number; // runtime's started_at of the container (NaN if it never started)
  error?: string;
}

interface Prepared {
  pod: Pod;
  name: string;
  sandboxConfig: PodSandboxConfig;
  containerConfig: ContainerConfig;
}

/**
 * Runs `count` pods at once straight on the runtime and measures each; the pods are left running
 * (the caller removes them, by the bench label). Throws when the image is missing or building a
 * config fails; a failing runtime call is recorded in the pod's sample instead.
 */
export async function runBaseline(deps: BaselineDeps, namePrefix: string, count: number, signal: AbortSignal): Promise<BaselinePodSample[]> {
  const { cri, clock } = deps;
  const image = await cri.imageStatus(BENCH_IMAGE, signal);
  if (!image) throw new Error(`the runtime does not have ${BENCH_IMAGE}: run npm run setup`);
  const hostResolvConf = deps.config.resolvConf ? await readFile(deps.config.resolvConf, 'utf8').catch(() => '') : '';
  const prepared: Prepared[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${namePrefix}${String(i).padStart(2, '0')}`;
    prepared.push(await prepare(deps, name, image.id, hostResolvConf));
  }
  signal.throwIfAborted();
  clock.calibrate();
  const samples = await Promise.all(prepared.map((p) => runOne(cri, clock, p, signal)));
  const times = await readPodTimes(cri, new Set(samples.map((s) => s.name)), signal);
  for (const s of samples) {
    const t = times.get(s.name);
    if (!t) continue;
    s.sandboxCreatedMs = t.sandboxCreatedMs;
    s.containerCreatedMs = t.containerCreatedMs;
    s.startedMs = t.startedMs;
  }
  return samples;
}

async function runOne(cri: CriClient, clock: WallClock, p: Prepared, signal: AbortSignal): Promise<BaselinePodSample> {
  const s: BaselinePodSample = {
    name: p.name, t0Ms: clock.now(), sandboxMs: Number.NaN, createMs: Number.NaN, startMs: Number.NaN, runtimeMs: Number.NaN,
    sandboxCreatedMs: Number.NaN, containerCreatedMs: Number.NaN, startedMs: Number.NaN,
  };
  try {
    let t = performance.now();
    const sandboxId = await cri.runPodSandbox(p.sandboxConfig, p.pod.spec?.runtimeClassName ?? '', signal);
    s.sandboxMs = performance.now() - t;
    t = performance.now();
    const containerId = await cri.createContainer(sandboxId, p.containerConfig, p.sandboxConfig, signal);
    s.createMs = performance.now() - t;
    t = performance.now();
    await cri.startContainer(containerId, signal);
    s.startMs = performance.now() - t;
    s.runtimeMs = s.sandboxMs + s.createMs + s.startMs;
  } catch (err) {
    signal.throwIfAborted();
    s.error = errorMessage(err);
  }
  return s;
}

/** The pod and both CRI configs as tskubelet's runtime manager builds them (attempt 0, first start). */
async function prepare(deps: BaselineDeps, manifestName: string, imageRef: string, hostResolvConf: string): Promise<Prepared> {
  const { config, workDir, runId } = deps;
  const file = join(workDir, 'manifests', manifestFile(manifestName));
  const parsed = parseManifestFile(file, manifestText(manifestName, runId), config.nodeName);
  const pod = parsed.pods[0];
  if (!pod || parsed.errors.length > 0) throw new Error(`baseline manifest does not parse: ${parsed.errors.join('; ')}`);
  const container = pod.spec?.containers[0];
  if (!container) throw new Error('baseline manifest has no container');
  const meta = pod.metadata ?? {};
  const uid = meta.uid ?? '';
  const podDir = join(workDir, 'pods', uid);
  const logDir = podLogDirectory(config.podLogsDir, meta.namespace ?? '', meta.name ?? '', uid);
  await mkdir(podDir, { recursive: true, mode: 0o750 });
  await mkdir(join(logDir, container.name), { recursive: true, mode: 0o755 });

  const dns = podDnsSettings(
    { namespace: meta.namespace ?? 'default', dnsPolicy: pod.spec?.dnsPolicy ?? 'ClusterFirst', hostNetwork: pod.spec?.hostNetwork ?? false, dnsConfig: pod.spec?.dnsConfig },
    { clusterDNS: [...config.clusterDNS], clusterDomain: config.clusterDomain, hostResolvConf },
  );
  const sandboxConfig = buildSandboxConfig(pod, {
    attempt: 0,
    nodeHostname: config.nodeName,
    logDirectory: logDir,
    cgroupParent: podSandboxCgroupParent(pod, { cgroupRoot: config.cgroupRoot, cgroupsPerQOS: config.cgroupsPerQOS }),
    dns,
  });

  // tskubelet writes /etc/hosts after the sandbox has its IP; here it is written beforehand
  // (without the IP line) so that no file I/O happens between the runtime calls.
  await writeFile(join(podDir, 'etc-hosts'), managedHostsFile(pod, [], podHostname(pod, config.nodeName), ''), { mode: 0o644 });
  const mounts = [...(await containerVolumeMounts(pod, container, podDir)), { container_path: '/etc/hosts', host_path: join(podDir, 'etc-hosts'), readonly: false }];
  let terminationMessageHostPath = '';
  if (container.terminationMessagePath) {
    const dir = join(podDir, 'containers', container.name);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    terminationMessageHostPath = join(dir, 'termination-log');
    await writeFile(terminationMessageHostPath, '', { mode: 0o666 });
    mounts.push({ container_path: container.terminationMessagePath, host_path: terminationMessageHostPath, readonly: false });
  }
  const env = makeEnvironment(container, pod, { podIPs: [], nodeName: config.nodeName, hostIP: nodeAddress(config.nodeIP) });
  const { command, args } = expandContainerCommandAndArgs(container, env);
  const containerConfig = buildContainerConfig(pod, container, {
    restartCount: 0,
    imageRef,
    envs: env.map((e) => ({ key: e.name, value: e.value })),
    command,
    args,
    mounts,
    logPath: containerLogRelativePath(container.name, 0),
    resources: containerLinuxResources(container, { cpuCFSQuota: true, cpuCFSQuotaPeriodUs: 100_000, podPidsLimit: config.podPidsLimit }),
    terminationMessageHostPath,
    isInit: false,
    // The busybox test image declares no user: it runs as root, as tskubelet resolves it.
    securityContext: containerSecurityContext(pod, container, { imageUser: imageUser(null), seccompProfileRoot: join(workDir, 'seccomp'), userns: NODE_USER_NAMESPACE }),
  });
  return { pod, name: meta.name ?? manifestName, sandboxConfig, containerConfig };
}

