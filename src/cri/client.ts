// The CRI v1 client: the only module that speaks gRPC. Runtime and image services over the
// runtime's unix socket (containerd, CRI-O), typed with the generated CRI messages.
// Every call takes an optional AbortSignal and carries a deadline (runtimeRequestTimeout unless
// the call says otherwise); gRPC failures become KubeletErrors (NotFound, Transient, Internal).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { KubeletError, invalidInput, notFound, transient } from '../common/errors.ts';
import type {
  AuthConfig,
  Container,
  ContainerStats,
  ContainerStatsFilter,
  FilesystemUsage,
  PodSandboxStats,
  PodSandboxStatsFilter,
  ContainerConfig,
  ContainerFilter,
  ContainerStatus,
  Image,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatus,
  RuntimeStatus,
  StatusResponse,
  VersionResponse,
} from './types.ts';

/** Where scripts/cri-generate.sh puts the CRI definition fetched from k8s.io/cri-api. */
export const CRI_PROTO_PATH = fileURLToPath(new URL('../../build/cri/api.proto', import.meta.url));

/** The runtime service operations the kubelet uses (upstream's RuntimeService, narrowed). */
export interface RuntimeService {
  version(signal?: AbortSignal): Promise<VersionResponse>;
  status(signal?: AbortSignal): Promise<RuntimeStatus>;
  /** Creates and starts a sandbox; resolves to its id. */
  runPodSandbox(config: PodSandboxConfig, runtimeHandler: string, signal?: AbortSignal): Promise<string>;
  /** Stops every container of the sandbox and its network; idempotent. */
  stopPodSandbox(podSandboxId: string, signal?: AbortSignal): Promise<void>;
  removePodSandbox(podSandboxId: string, signal?: AbortSignal): Promise<void>;
  podSandboxStatus(podSandboxId: string, signal?: AbortSignal): Promise<PodSandboxStatus>;
  listPodSandbox(filter?: PodSandboxFilter, signal?: AbortSignal): Promise<PodSandbox[]>;
  createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig, signal?: AbortSignal): Promise<string>;
  startContainer(containerId: string, signal?: AbortSignal): Promise<void>;
  /** Sends SIGTERM (or the image's stop signal), then SIGKILL after `timeoutSeconds`. */
  stopContainer(containerId: string, timeoutSeconds: number, signal?: AbortSignal): Promise<void>;
  removeContainer(containerId: string, signal?: AbortSignal): Promise<void>;
  listContainers(filter?: ContainerFilter, signal?: AbortSignal): Promise<Container[]>;
  containerStatus(containerId: string, signal?: AbortSignal): Promise<ContainerStatus>;
  execSync(containerId: string, cmd: string[], timeoutSeconds: number, signal?: AbortSignal): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }>;
  reopenContainerLog(containerId: string, signal?: AbortSignal): Promise<void>;
  /**
   * Streaming: the runtime prepares an exec / attach / port-forward session and answers with
   * the URL of its streaming server (one use, short-lived) that the kubelet proxies to.
   */
  exec(req: { containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }, signal?: AbortSignal): Promise<string>;
  attach(req: { containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }, signal?: AbortSignal): Promise<string>;
  portForward(podSandboxId: string, ports: number[], signal?: AbortSignal): Promise<string>;
  listContainerStats(filter?: ContainerStatsFilter, signal?: AbortSignal): Promise<ContainerStats[]>;
  listPodSandboxStats(filter?: PodSandboxStatsFilter, signal?: AbortSignal): Promise<PodSandboxStats[]>;
}

/** The image service operations the kubelet uses. */
export interface ImageService {
  /** Pulls an image; resolves to the image reference the runtime stored. No deadline by default. */
  pullImage(image: string, auth: AuthConfig | undefined, sandboxConfig: PodSandboxConfig | undefined, signal?: AbortSignal): Promise<string>;
  /** Resolves to the image, or null when the runtime does not have it. */
  imageStatus(image: string, signal?: AbortSignal): Promise<Image | null>;
  listImages(signal?: AbortSignal): Promise<Image[]>;
  removeImage(image: string, signal?: AbortSignal): Promise<void>;
  /** Usage of the filesystems holding images (the image filesystem and, when split, the container one). */
  imageFsInfo(signal?: AbortSignal): Promise<{ imageFilesystems: FilesystemUsage[]; containerFilesystems: FilesystemUsage[] }>;
}

/** Called after every CRI operation, for metrics and timing. `error` is set when it failed. */
export type OperationObserver = (operation: string, durationMs: number, error: unknown) => void;

export interface CriClientOptions {
  runtimeEndpoint: string; // e.g. unix:///run/containerd/containerd.sock
  imageEndpoint?: string; // defaults to runtimeEndpoint
  requestTimeoutMs: number; // runtimeRequestTimeout, upstream default 2 min
  onOperation?: OperationObserver;
}

type UnaryCallback<Res> = (err: grpc.ServiceError | null, res?: Res) => void;
type UnaryMethod = (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions, cb: UnaryCallback<unknown>) => grpc.ClientUnaryCall;

/** How the CRI definition is loaded (field names as in the .proto, int64 as numbers, enums as names): also for fakes of the runtime. */
export const CRI_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export function grpcTarget(endpoint: string): string {
  if (endpoint.startsWith('unix://')) return `unix://${endpoint.slice('unix://'.length)}`;
  if (endpoint.startsWith('/')) return `unix://${endpoint}`;
  throw invalidInput(`container runtime endpoint must be a unix socket (unix:///path), got "${endpoint}"`);
}

function mapGrpcError(operation: string, err: grpc.ServiceError): KubeletError {
  const msg = `CRI ${operation}: ${err.details || err.message}`;
  switch (err.code) {
    case grpc.status.NOT_FOUND:
      return notFound(msg, err);
    case grpc.status.UNAVAILABLE:
    case grpc.status.DEADLINE_EXCEEDED:
    case grpc.status.RESOURCE_EXHAUSTED:
    case grpc.status.ABORTED:
    case grpc.status.CANCELLED:
      return transient(msg, err);
    case grpc.status.INVALID_ARGUMENT:
      return invalidInput(msg, err);
    default:
      return new KubeletError('Internal', msg, { cause: err });
  }
}

export class CriClient implements RuntimeService, ImageService {
  private readonly runtime: grpc.Client;
  private readonly image: grpc.Client;
  private readonly opts: CriClientOptions;

  constructor(opts: CriClientOptions) {
    if (!existsSync(CRI_PROTO_PATH)) {
      throw new KubeletError('Internal', `the CRI definition is missing at ${CRI_PROTO_PATH}: run 'npm run cri:generate' (or 'npm run setup')`);
    }
    this.opts = opts;
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(CRI_PROTO_PATH, CRI_LOADER_OPTIONS)) as unknown as {
      runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor; ImageService: grpc.ServiceClientConstructor } };
    };
    const channelOptions = { 'grpc.max_receive_message_length': 16 * 1024 * 1024 };
    const credentials = grpc.credentials.createInsecure();
    this.runtime = new pkg.runtime.v1.RuntimeService(grpcTarget(opts.runtimeEndpoint), credentials, channelOptions);
    this.image = new pkg.runtime.v1.ImageService(grpcTarget(opts.imageEndpoint || opts.runtimeEndpoint), credentials, channelOptions);
  }

  close(): void {
    this.runtime.close();
    this.image.close();
  }

  /** One unary call with a deadline, cancelled when `signal` aborts. */
  private call<Res>(client: grpc.Client, method: string, req: object, signal: AbortSignal | undefined, timeoutMs: number | null = this.opts.requestTimeoutMs): Promise<Res> {
    const fn = (client as unknown as Record<string, UnaryMethod>)[method];
    const started = performance.now();
    return new Promise<Res>((resolve, reject) => {
      signal?.throwIfAborted();
      const options: grpc.CallOptions = timeoutMs === null ? {} : { deadline: Date.now() + timeoutMs };
      const onAbort = (): void => call.cancel();
      const call = fn.call(client, req, new grpc.Metadata(), options, (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        const error = err ? (signal?.aborted ? signal.reason : mapGrpcError(method, err)) : null;
        this.opts.onOperation?.(method, performance.now() - started, error);
        if (error) reject(error as Error);
        else resolve(res as Res);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  version(signal?: AbortSignal): Promise<VersionResponse> {
    return this.call(this.runtime, 'Version', { version: 'v1' }, signal);
  }
  async status(signal?: AbortSignal): Promise<RuntimeStatus> {
    const res = await this.call<{ status: RuntimeStatus }>(this.runtime, 'Status', { verbose: false }, signal);
    return res.status;
  }
  /** The whole CRI Status answer: conditions plus the runtime's handlers and their features (empty when the runtime does not report them). */
  statusResponse(signal?: AbortSignal): Promise<StatusResponse> {
    return this.call<StatusResponse>(this.runtime, 'Status', { verbose: false }, signal);
  }
  async runPodSandbox(config: PodSandboxConfig, runtimeHandler: string, signal?: AbortSignal): Promise<string> {
    const res = await this.call<{ pod_sandbox_id: string }>(this.runtime, 'RunPodSandbox', { config, runtime_handler: runtimeHandler }, signal);
    return res.pod_sandbox_id;
  }
  async stopPodSandbox(podSandboxId: string, signal?: AbortSignal): Promise<void> {
    await this.call(this.runtime, 'StopPodSandbox', { pod_sandbox_id: podSandboxId }, signal);
  }
  async removePodSandbox(podSandboxId: string, signal?: AbortSignal): Promise<void> {
    await this.call(this.runtime, 'RemovePodSandbox', { pod_sandbox_id: podSandboxId }, signal);
  }
  async podSandboxStatus(podSandboxId: string, signal?: AbortSignal): Promise<PodSandboxStatus> {
    const res = await this.call<{ status: PodSandboxStatus | null }>(this.runtime, 'PodSandboxStatus', { pod_sandbox_id: podSandboxId }, signal);
    if (!res.status) throw notFound(`CRI PodSandboxStatus: no status for sandbox ${podSandboxId}`);
    return res.status;
  }
  async listPodSandbox(filter?: PodSandboxFilter, signal?: AbortSignal): Promise<PodSandbox[]> {
    const res = await this.call<{ items: PodSandbox[] }>(this.runtime, 'ListPodSandbox', { filter }, signal);
    return res.items;
  }
  async createContainer(podSandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig, signal?: AbortSignal): Promise<string> {
    const res = await this.call<{ container_id: string }>(this.runtime, 'CreateContainer', { pod_sandbox_id: podSandboxId, config, sandbox_config: sandboxConfig }, signal);
    return res.container_id;
  }
  async startContainer(containerId: string, signal?: AbortSignal): Promise<void> {
    await this.call(this.runtime, 'StartContainer', { container_id: containerId }, signal);
  }
  async stopContainer(containerId: string, timeoutSeconds: number, signal?: AbortSignal): Promise<void> {
    // The runtime waits up to `timeoutSeconds` before SIGKILL: the deadline must cover that wait.
    await this.call(this.runtime, 'StopContainer', { container_id: containerId, timeout: timeoutSeconds }, signal, this.opts.requestTimeoutMs + timeoutSeconds * 1000);
  }
  async removeContainer(containerId: string, signal?: AbortSignal): Promise<void> {
    await this.call(this.runtime, 'RemoveContainer', { container_id: containerId }, signal);
  }
  async listContainers(filter?: ContainerFilter, signal?: AbortSignal): Promise<Container[]> {
    const res = await this.call<{ containers: Container[] }>(this.runtime, 'ListContainers', { filter }, signal);
    return res.containers;
  }
  async containerStatus(containerId: string, signal?: AbortSignal): Promise<ContainerStatus> {
    const res = await this.call<{ status: ContainerStatus | null }>(this.runtime, 'ContainerStatus', { container_id: containerId }, signal);
    if (!res.status) throw notFound(`CRI ContainerStatus: no status for container ${containerId}`);
    return res.status;
  }
  async execSync(containerId: string, cmd: string[], timeoutSeconds: number, signal?: AbortSignal): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const res = await this.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>(
      this.runtime, 'ExecSync', { container_id: containerId, cmd, timeout: timeoutSeconds }, signal,
      this.opts.requestTimeoutMs + timeoutSeconds * 1000,
    );
    return { stdout: res.stdout, stderr: res.stderr, exitCode: res.exit_code };
  }
  async reopenContainerLog(containerId: string, signal?: AbortSignal): Promise<void> {
    await this.call(this.runtime, 'ReopenContainerLog', { container_id: containerId }, signal);
  }
  async exec(req: { containerId: string; cmd: string[]; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }, signal?: AbortSignal): Promise<string> {
    const { containerId, ...rest } = req;
    const res = await this.call<{ url: string }>(this.runtime, 'Exec', { container_id: containerId, ...rest }, signal);
    return res.url;
  }
  async attach(req: { containerId: string; tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }, signal?: AbortSignal): Promise<string> {
    const { containerId, ...rest } = req;
    const res = await this.call<{ url: string }>(this.runtime, 'Attach', { container_id: containerId, ...rest }, signal);
    return res.url;
  }
  async portForward(podSandboxId: string, ports: number[], signal?: AbortSignal): Promise<string> {
    const res = await this.call<{ url: string }>(this.runtime, 'PortForward', { pod_sandbox_id: podSandboxId, port: ports }, signal);
    return res.url;
  }
  async listContainerStats(filter?: ContainerStatsFilter, signal?: AbortSignal): Promise<ContainerStats[]> {
    const res = await this.call<{ stats: ContainerStats[] }>(this.runtime, 'ListContainerStats', { filter }, signal);
    return res.stats;
  }
  async listPodSandboxStats(filter?: PodSandboxStatsFilter, signal?: AbortSignal): Promise<PodSandboxStats[]> {
    const res = await this.call<{ stats: PodSandboxStats[] }>(this.runtime, 'ListPodSandboxStats', { filter }, signal);
    return res.stats;
  }

  async pullImage(image: string, auth: AuthConfig | undefined, sandboxConfig: PodSandboxConfig | undefined, signal?: AbortSignal): Promise<string> {
    const res = await this.call<{ image_ref: string }>(this.image, 'PullImage', { image: { image }, auth, sandbox_config: sandboxConfig }, signal, null);
    return res.image_ref;
  }
  async imageStatus(image: string, signal?: AbortSignal): Promise<Image | null> {
    const res = await this.call<{ image: Image | null }>(this.image, 'ImageStatus', { image: { image } }, signal);
    return res.image && res.image.id ? res.image : null;
  }
  async listImages(signal?: AbortSignal): Promise<Image[]> {
    const res = await this.call<{ images: Image[] }>(this.image, 'ListImages', {}, signal);
    return res.images;
  }
  async removeImage(image: string, signal?: AbortSignal): Promise<void> {
    await this.call(this.image, 'RemoveImage', { image: { image } }, signal);
  }
  async imageFsInfo(signal?: AbortSignal): Promise<{ imageFilesystems: FilesystemUsage[]; containerFilesystems: FilesystemUsage[] }> {
    const res = await this.call<{ image_filesystems: FilesystemUsage[]; container_filesystems: FilesystemUsage[] }>(this.image, 'ImageFsInfo', {}, signal);
    return { imageFilesystems: res.image_filesystems, containerFilesystems: res.container_filesystems };
  }
}
