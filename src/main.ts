// Process entry: configuration, wiring, signals, exit code.
// Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 on a start-up error, 2 on bad flags/config.
// Stopping tskubelet leaves the pods running, as upstream: the next start adopts them.
import type { Server } from 'node:http';
import { CriClient } from './cri/client.ts';
import { realClock } from './common/clock.ts';
import { errorMessage, isAbort, isInvalidInput } from './common/errors.ts';
import { loadConfig } from './config/load.ts';
import { Kubelet } from './kubelet.ts';
import { createLogger, type Logger } from './observability/logger.ts';
import { FileSource } from './podconfig/file-source.ts';
import { PodConfig } from './podconfig/pod-config.ts';
import { connectToCluster } from './cluster.ts';
import { LoggingEventRecorder } from './kube/events.ts';
import { listen, type HealthCheck } from './server/http.ts';
import { startKubeletServer } from './server/start.ts';
import { configzView } from './config/configz.ts';
import { KubeletMetrics } from './metrics/kubelet-metrics.ts';
import { CriStatsProvider } from './stats/provider.ts';
import { ContainerLogManager } from './logs/rotation.ts';
import { parseQuantity } from './cm/quantity.ts';
import { describePodStatus } from './status/describe.ts';
import { ContainerManager } from './cm/container-manager.ts';
import { EvictionManager } from './eviction/manager.ts';
import { hasDedicatedImageFs } from './eviction/disk-info.ts';
import { readMachineInfo } from './node/machine.ts';
import { ImageGCManager } from './gc/image-gc.ts';
import { ContainerGC } from './gc/container-gc.ts';
import { watchRuntimeEvents } from './pleg/runtime-events.ts';
import { readFsInfo } from './stats/procfs.ts';

async function main(): Promise<number> {
  let loaded;
  try {
    loaded = await loadConfig(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`tskubelet: ${errorMessage(err)}\n`);
    return isInvalidInput(err) ? 2 : 1;
  }
  if ('help' in loaded) {
    process.stdout.write(loaded.help);
    return 0;
  }
  const { config } = loaded;
  if (config.cgroupDriver !== 'cgroupfs') {
    process.stderr.write(`tskubelet: --cgroup-driver=${config.cgroupDriver} is not supported yet; use cgroupfs\n`);
    return 2;
  }
  const logger = createLogger(config.verbosity);
  if (process.getuid?.() !== 0) logger.warn('tskubelet is not running as root: the runtime, cgroups and log folders will likely refuse it');

  const stop = new AbortController();
  const closers: (() => Promise<void> | void)[] = [];
  const shutdown = (why: string): void => {
    if (stop.signal.aborted) return;
    logger.info({ signal: why }, 'shutting down; pods keep running');
    stop.abort(new DOMException(why, 'AbortError'));
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));

  try {
    // The gauges read the last PLEG relist (only called by a scrape, after `kubelet` is set).
    const metrics: KubeletMetrics = new KubeletMetrics({
      nodeName: config.nodeName,
      runningPods: (): number => kubelet.pleg.runtimeCounts().runningPods,
      containersByState: (): Record<string, number> => kubelet.pleg.runtimeCounts().containersByState,
    });
    const cri = new CriClient({
      runtimeEndpoint: config.containerRuntimeEndpoint,
      imageEndpoint: config.imageServiceEndpoint,
      requestTimeoutMs: config.runtimeRequestTimeoutMs,
      onOperation: (method, ms, error) => metrics.observeRuntimeOperation(method, ms / 1000, error !== null && error !== undefined),
    });
    closers.push(() => cri.close());
    // Data flow: pod sources -> pod config (changes) -> kubelet (pod workers) -> runtime -> PLEG -> status.
    // (The callback runs only once the sources run, after `kubelet` is set.)
    const podConfig = new PodConfig({ logger, onChange: (change) => kubelet.applyPodChange(change) });
    const localRecorder = new LoggingEventRecorder({ logger });
    const cluster = config.kubeconfig
      ? await connectToCluster({ config, cri, clock: realClock, logger, localRecorder, signal: stop.signal, closers })
      : null;
    const stats = new CriStatsProvider({
      runtime: cri,
      nodeName: config.nodeName,
      rootDir: config.rootDir,
      podLogsDir: config.podLogsDir,
      cgroupRoot: config.cgroupRoot,
      clock: realClock,
      logger,
    });
    // Resource management: the QoS/pod cgroups and the eviction manager (the callbacks run once `kubelet` is set).
    const containerManager = new ContainerManager({
      config,
      machine: cluster?.machine ?? (await readMachineInfo(config.rootDir)),
      activePods: () => kubelet.activePods(),
      knownPods: () => kubelet.knownPodUIDs(),
      clock: realClock,
      logger,
    });
    const imageGC = new ImageGCManager({
      images: cri,
      runtime: cri,
      fsInfo: readFsInfo,
      policy: { highThresholdPercent: config.imageGCHighThresholdPercent, lowThresholdPercent: config.imageGCLowThresholdPercent, minAgeMs: config.imageMinimumGCAgeMs, maxAgeMs: config.imageMaximumGCAgeMs },
      sandboxImage: config.podInfraContainerImage,
      clock: realClock,
      logger,
    });
    const containerGC = new ContainerGC({
      runtime: cri,
      policy: { minAgeMs: config.minimumGCAgeMs, maxPerPodContainer: config.maxPerPodContainerCount, maxContainers: config.maxContainerCount },
      sourcesReady: () => podConfig.seenAllSources(),
      knownPods: () => kubelet.knownPodUIDs(),
      clock: realClock,
      logger,
    });
    const eviction = new EvictionManager({
      config,
      summary: (signal, { runtimeStats }) => stats.summaryMs(signal, { full: true, runtimeStats }),
      pods: { activePods: () => kubelet.activePods(), evictPod: (pod, opts, signal) => kubelet.evictPod(pod, opts, signal), podCleanedUp: (uid) => kubelet.podCleanedUp(uid) },
      dedicatedImageFs: (signal) => hasDedicatedImageFs(cri, config.rootDir, signal),
      reclaimer: {
        deleteAllUnusedContainers: async (signal) => void (await containerGC.deleteAllUnusedContainers(signal)),
        deleteUnusedImages: async (signal) => void (await imageGC.deleteUnusedImages(signal)),
      },
      recorder: cluster?.recorder ?? localRecorder,
      clock: realClock,
      logger,
      onConditionsChanged: () => cluster?.updateNodeStatus(),
    });
    const kubelet: Kubelet = new Kubelet({
      config,
      cri,
      clock: realClock,
      logger,
      recorder: cluster?.recorder ?? localRecorder,
      sourcesReady: () => podConfig.seenAllSources(),
      api: cluster?.api ?? null,
      metrics,
      podCgroups: containerManager,
      admitHandlers: [eviction],
    });
    kubelet.statusManager.onChange((pod, status) => {
      logger.info(describePodStatus(pod, status), 'pod status');
      cluster?.api.statusWriter.setPodStatus(pod, status);
    });
    await startServers(config, kubelet, logger, closers);
    if (config.enableServer) {
      closers.push(await startKubeletServer({
        config,
        client: cluster?.client ?? null,
        clock: realClock,
        logger,
        addresses: [kubelet.hostIP],
        healthChecks: kubeletHealthChecks(kubelet),
        pods: () => kubelet.statusManager.list(),
        configz: () => configzView(config),
        runtime: cri,
        metrics,
        stats,
      }));
    }
    await kubelet.waitForRuntime(stop.signal);
    closers.push(() => kubelet.podWorkers.stop());
    closers.push(() => kubelet.stop());
    if (config.staticPodPath) {
      podConfig.addSource('file', (onPods) => new FileSource({
        dir: config.staticPodPath,
        nodeName: config.nodeName,
        logger,
        clock: realClock,
        fileCheckFrequencyMs: config.fileCheckFrequencyMs,
        onPods,
      }));
    }
    await containerManager.start();
    const tasks = [kubelet.pleg.run(stop.signal), containerManager.run(stop.signal), eviction.run(stop.signal), imageGC.run(stop.signal), containerGC.run(stop.signal)];
    tasks.push(watchRuntimeEvents({ endpoint: config.containerRuntimeEndpoint, clock: realClock, logger, onContainerEvent: () => kubelet.pleg.relistSoon(stop.signal) }, stop.signal));
    const logMaxSize = parseQuantity(config.containerLogMaxSize);
    if (logMaxSize > 0) {
      const rotation = new ContainerLogManager({ runtime: cri, clock: realClock, logger, maxSizeBytes: logMaxSize, maxFiles: config.containerLogMaxFiles, podLogsDir: config.podLogsDir });
      tasks.push(rotation.run(stop.signal));
    }
    if (cluster) tasks.push(...cluster.start({ pleg: kubelet.pleg, podConfig, signal: stop.signal, pressure: () => eviction.pressure() }));
    if (!config.staticPodPath && !cluster) logger.warn('no pod source: neither --pod-manifest-path (staticPodPath) nor --kubeconfig is configured');
    tasks.push(podConfig.run(stop.signal));
    logger.info({ nodeName: config.nodeName, staticPodPath: config.staticPodPath, runtime: config.containerRuntimeEndpoint }, 'tskubelet started');
    const notActedOn = Object.keys(config.passThrough).filter((f) => f !== 'logging');
    if (notActedOn.length > 0) logger.warn({ fields: notActedOn }, 'KubeletConfiguration fields accepted (they are upstream\'s) but not acted upon by tskubelet');
    await Promise.all(tasks);
    return 0;
  } catch (err) {
    if (isAbort(err) && stop.signal.aborted) return 0;
    logger.fatal({ err: errorMessage(err) }, 'tskubelet failed');
    return 1;
  } finally {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'error while stopping');
      }
    }
  }
}

const kubeletHealthChecks = (kubelet: Kubelet): HealthCheck[] => [{ name: 'pleg', check: () => kubelet.pleg.healthy() }];

async function startServers(config: import('./config/types.ts').KubeletConfig, kubelet: Kubelet, logger: Logger, closers: (() => Promise<void> | void)[]): Promise<void> {
  const healthChecks = kubeletHealthChecks(kubelet);
  const closeServer = (s: Server) => () => new Promise<void>((resolve) => s.close(() => resolve()));
  if (config.healthzPort > 0) {
    const s = await listen({ logger, healthChecks, pods: null }, config.healthzBindAddress, config.healthzPort);
    closers.push(closeServer(s));
    logger.info({ address: `${config.healthzBindAddress}:${config.healthzPort}` }, 'healthz server listening');
  }
  if (config.readOnlyPort > 0) {
    const s = await listen({ logger, healthChecks, pods: () => kubelet.statusManager.list() }, config.address, config.readOnlyPort);
    closers.push(closeServer(s));
    logger.info({ address: `${config.address}:${config.readOnlyPort}` }, 'read-only server listening');
  }
}

process.exitCode = await main();
