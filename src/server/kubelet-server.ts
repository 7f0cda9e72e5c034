// The kubelet API: HTTPS on --address:--port (10250), what the API server calls for
// `kubectl logs / exec / attach / port-forward`, what metrics-server and Prometheus scrape
// (upstream pkg/kubelet/server/server.go). Every request is authenticated, then authorized
// (auth.ts) before anything else; 401 / 403 otherwise.
//   /healthz  /pods  /runningpods  /configz
//   /containerLogs/{ns}/{pod}/{container}                  (debugging handlers)
//   /exec|/attach/{ns}/{pod}[/{uid}]/{container}         (upgrade, proxied to the runtime)
//   /portForward/{ns}/{pod}[/{uid}]                       (upgrade, proxied to the runtime)
//   /run/{ns}/{pod}[/{uid}]/{container}?cmd=...           (POST, output in the body)
//   /metrics  /metrics/probes  /metrics/resource  /metrics/cadvisor  /stats/summary
// Errors: the status of an ApiError or a KubeletError (InvalidInput 400, NotFound 404), else 500
// with a generic body (the detail goes to the log). Nothing here logs a credential.
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeletConfig } from '../config/types.ts';
import type { RuntimeService } from '../cri/client.ts';
import { errorMessage, isInvalidInput, isNotFound } from '../common/errors.ts';
import type { Logger } from '../observability/logger.ts';
import type { PodWithStatus } from '../status/status-manager.ts';
import { LABEL_POD_UID } from '../kuberuntime/labels.ts';
import { parseLogOptions } from '../logs/options.ts';
import { readContainerLog } from '../logs/reader.ts';
import { TEXT_CONTENT_TYPE } from '../metrics/exposition.ts';
import { healthz, podList, send, type HealthCheck } from './http.ts';
import type { Authenticator, Authorizer } from './auth.ts';
import { requestAttributes } from './auth.ts';
import { proxyUpgrade, streamingTarget } from './streaming.ts';
import { ApiError, badRequest, findPod, logContainerId, notFoundError, portForwardPorts, runningContainerId, streamOptions } from './targets.ts';
import { runningPodList } from './running-pods.ts';

/** Concurrent /containerLogs streams; more get 429 (bounds the memory a flood of `logs -f` can take). */
export const MAX_LOG_STREAMS = 256;
/** Slowest acceptable request head, ms (slowloris). */
const HEADERS_TIMEOUT_MS = 15_000;

export interface MetricsSource {
  text(): Promise<string>;
  probesText(): Promise<string>;
}
export interface StatsSource {
  summary(signal: AbortSignal): Promise<unknown>;
  resourceMetrics(signal: AbortSignal): Promise<string>;
  cadvisorMetrics(signal: AbortSignal): Promise<string>;
}

export interface KubeletServerDeps {
  config: Pick<KubeletConfig, 'nodeName' | 'enableDebuggingHandlers' | 'podLogsDir' | 'streamingConnectionIdleTimeoutMs' | 'runtimeRequestTimeoutMs'>;
  logger: Logger;
  authenticator: Authenticator;
  authorizer: Authorizer;
  healthChecks: HealthCheck[];
  /** The pods this kubelet runs, with their statuses. */
  pods: () => PodWithStatus[];
  configz: () => unknown;
  runtime: Pick<RuntimeService, 'exec' | 'attach' | 'portForward' | 'containerStatus' | 'execSync' | 'listPodSandbox' | 'listContainers'>;
  metrics: MetricsSource;
  stats: StatsSource;
}

export interface TlsMaterial {
  cert: string;
  key: string;
  /** PEM bundle client certificates are verified against; '' = no client certificates asked. */
  clientCA: string;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

type Route =
  | { kind: 'healthz' | 'pods' | 'runningpods' | 'configz' | 'metrics' | 'metricsProbes' | 'metricsResource' | 'metricsCadvisor' | 'summary' }
  | { kind: 'logs'; namespace: string; pod: string; container: string }
  | ContainerRoute
  | { kind: 'portForward'; namespace: string; pod: string; uid?: string };

interface ContainerRoute {
  kind: 'exec' | 'attach' | 'run';
  namespace: string;
  pod: string;
  uid?: string;
  container: string;
}

const FIXED_ROUTES: Readonly<Record<string, Route['kind']>> = {
  '/healthz': 'healthz', '/pods': 'pods', '/runningpods': 'runningpods', '/configz': 'configz', '/metrics': 'metrics',
  '/metrics/probes': 'metricsProbes', '/metrics/resource': 'metricsResource', '/metrics/cadvisor': 'metricsCadvisor', '/stats/summary': 'summary',
};

/** The route of a path (pure); null when none. Throws 400 on a badly escaped component. */
export function route(pathname: string): Route | null {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  const fixed = FIXED_ROUTES[path];
  if (fixed) return { kind: fixed } as Route;
  const [, head, ...rest] = path.split('/');
  let parts: string[];
  try {
    parts = rest.map((p) => decodeURIComponent(p));
  } catch {
    throw badRequest('malformed path');
  }
  if (parts.some((p) => p === '')) return null;
  const [namespace, pod] = parts as [string, string];
  if (head === 'containerLogs' && parts.length === 3) return { kind: 'logs', namespace, pod, container: parts[2]! };
  if ((head === 'exec' || head === 'attach' || head === 'run') && (parts.length === 3 || parts.length === 4)) {
    return { kind: head, namespace, pod, uid: parts.length === 4 ? parts[2] : undefined, container: parts.at(-1)! };
  }
  if (head === 'portForward' && (parts.length === 2 || parts.length === 3)) return { kind: 'portForward', namespace, pod, uid: parts[2] };
  return null;
}

const DEBUGGING: ReadonlySet<Route['kind']> = new Set(['logs', 'exec', 'attach', 'run', 'portForward']);
const UPGRADES: ReadonlySet<Route['kind']> = new Set(['exec', 'attach', 'portForward']);

function statusOf(err: unknown): number {
  if (err instanceof ApiError) return err.status;
  if (isInvalidInput(err)) return 400;
  if (isNotFound(err)) return 404;
  return 500;
}

/** An HTTP response written straight to a socket (the upgrade path has no ServerResponse). */
function sendRaw(socket: Duplex, status: number, body: string): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error' }[status] ?? 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

const isWebSocket = (req: IncomingMessage): boolean => String(req.headers.upgrade ?? '').toLowerCase() === 'websocket';

export class KubeletServer {
  private readonly deps: KubeletServerDeps;
  private readonly log: Logger;
  private logStreams = 0;
  private server: Server | null = null;
  /** Upgraded connections: the server no longer tracks them, close() ends them. */
  private readonly streams = new Set<Duplex>();

  constructor(deps: KubeletServerDeps) {
    this.deps = deps;
    this.log = deps.logger.child({ component: 'server' });
  }

  /** Listens with TLS on host:port; resolves once listening. `setTls` swaps the certificate later (rotation). */
  async listen(host: string, port: number, tls: TlsMaterial): Promise<{ setTls(t: TlsMaterial): void }> {
    const options = (t: TlsMaterial): { cert: string; key: string; ca?: string; minVersion: 'TLSv1.2' | 'TLSv1.3'; requestCert: boolean; rejectUnauthorized: false } =>
      ({ cert: t.cert, key: t.key, ...(t.clientCA ? { ca: t.clientCA } : {}), minVersion: t.minVersion, requestCert: t.clientCA !== '', rejectUnauthorized: false });
    const server = createServer(options(tls), (req, res) => void this.handle(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => void this.handleUpgrade(req, socket, head));
    server.on('tlsClientError', () => {}); // a client that fails the handshake is not our error
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = 0; // log follows and streams last as long as the client wants
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return { setTls: (t) => server.setSecureContext(options(t)) };
  }

  /** Stops listening and ends every open connection, streams included. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const s of this.streams) s.destroy();
    await closed;
  }

  /** Authentication then authorization; null when the request may go on (the answer is otherwise given). */
  private async admit(req: IncomingMessage, path: string, signal: AbortSignal): Promise<{ status: number; message: string } | null> {
    const authn = await this.deps.authenticator.authenticate(req, signal);
    if (!authn.ok) return { status: 401, message: authn.message };
    const attrs = requestAttributes(req.method ?? 'GET', path, this.deps.config.nodeName);
    const authz = await this.deps.authorizer.authorize(authn.user, attrs, signal);
    if (!authz.allowed) {
      this.log.info({ user: authn.user.name, path, verb: attrs[0]?.verb }, 'kubelet API request forbidden');
      return { status: 403, message: authz.message };
    }
    return null;
  }

  private routeFor(url: URL): Route {
    const r = route(url.pathname);
    if (!r || (DEBUGGING.has(r.kind) && !this.deps.config.enableDebuggingHandlers)) throw notFoundError('404 page not found');
    return r;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    try {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const denied = await this.admit(req, url.pathname, ac.signal);
      if (denied) return send(res, denied.status, 'text/plain; charset=utf-8', `${denied.message}\n`);
      const r = this.routeFor(url);
      if (UPGRADES.has(r.kind)) throw badRequest('Upgrade request required');
      const method = req.method ?? 'GET';
      if (r.kind === 'run' ? method !== 'POST' : method !== 'GET' && method !== 'HEAD') {
        return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      }
      await this.serve(r, url, res, ac.signal);
    } catch (err) {
      const status = statusOf(err);
      if (status === 500) this.log.error({ path: req.url?.split('?')[0], err: errorMessage(err) }, 'kubelet API request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(res, status, 'text/plain; charset=utf-8', `${status === 500 ? 'internal error' : errorMessage(err)}\n`);
    }
  }

  private async serve(r: Route, url: URL, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const json = (body: unknown): void => send(res, 200, 'application/json', JSON.stringify(body));
    const text = (body: string): void => send(res, 200, TEXT_CONTENT_TYPE, body);
    const { deps } = this;
    switch (r.kind) {
      case 'healthz': {
        const h = healthz(deps.healthChecks, url.searchParams.has('verbose'));
        return send(res, h.status, 'text/plain; charset=utf-8', h.body);
      }
      case 'pods':
        return json(podList(deps.pods()));
      case 'runningpods':
        return json(await runningPodList(deps.runtime, signal));
      case 'configz':
        return json(deps.configz());
      case 'metrics':
        return text(await deps.metrics.text());
      case 'metricsProbes':
        return text(await deps.metrics.probesText());
      case 'metricsResource':
        return text(await deps.stats.resourceMetrics(signal));
      case 'metricsCadvisor':
        return text(await deps.stats.cadvisorMetrics(signal));
      case 'summary':
        return json(await deps.stats.summary(signal));
      case 'logs':
        return this.containerLogs(r, url, res, signal);
      case 'run':
        return this.run(r, url, res, signal);
      default:
        throw badRequest('Upgrade request required');
    }
  }

  private async containerLogs(r: Extract<Route, { kind: 'logs' }>, url: URL, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const options = parseLogOptions(url.searchParams, Date.now());
    const target = findPod(this.deps.pods(), r.namespace, r.pod);
    const id = logContainerId(target, r.container, options.previous);
    const uid = target.pod.metadata?.uid ?? '';
    const status = await this.deps.runtime.containerStatus(id, signal);
    if (status.labels[LABEL_POD_UID] !== uid) throw notFoundError(`container ${JSON.stringify(r.container)} not found in pod ${JSON.stringify(r.pod)}`);
    if (this.logStreams >= MAX_LOG_STREAMS) throw new ApiError(429, 'too many log streams open on this node; try again later');
    this.logStreams++;
    try {
      // Headers go out with the first byte: an unreadable or unsafe file still gets its error status.
      res.setHeader('content-type', 'text/plain');
      res.setHeader('x-content-type-options', 'nosniff');
      await readContainerLog({
        path: status.log_path,
        allowedDir: this.deps.config.podLogsDir,
        options,
        out: res,
        signal,
        containerRunning: async () => (await this.deps.runtime.containerStatus(id, signal)).state === 'CONTAINER_RUNNING',
      });
      res.end();
    } finally {
      this.logStreams--;
    }
  }

  private async run(r: ContainerRoute, url: URL, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const command = (url.searchParams.get('cmd') ?? '').split(/\s+/).filter(Boolean);
    if (command.length === 0) throw badRequest('missing cmd parameter');
    const id = runningContainerId(findPod(this.deps.pods(), r.namespace, r.pod, r.uid), r.container);
    const out = await this.deps.runtime.execSync(id, command, Math.ceil(this.deps.config.runtimeRequestTimeoutMs / 1000), signal);
    res.writeHead(200, { 'content-type': 'text/plain', 'x-content-type-options': 'nosniff' });
    res.end(Buffer.concat([out.stdout, out.stderr]));
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const ac = new AbortController();
    this.streams.add(socket);
    socket.on('close', () => {
      this.streams.delete(socket);
      ac.abort();
    });
    socket.on('error', () => ac.abort());
    try {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const denied = await this.admit(req, url.pathname, ac.signal);
      if (denied) return sendRaw(socket, denied.status, `${denied.message}\n`);
      const r = this.routeFor(url);
      if (!UPGRADES.has(r.kind)) throw badRequest('this endpoint does not upgrade');
      const target = streamingTarget(await this.streamingUrl(r, url, isWebSocket(req), ac.signal));
      await proxyUpgrade(req, socket, head, target, this.deps.config.streamingConnectionIdleTimeoutMs);
    } catch (err) {
      const status = statusOf(err);
      if (status === 500) this.log.error({ path: req.url?.split('?')[0], err: errorMessage(err) }, 'kubelet API stream failed');
      sendRaw(socket, status, `${status === 500 ? `unable to start the stream: ${errorMessage(err)}` : errorMessage(err)}\n`);
    }
  }

  private async streamingUrl(r: Route, url: URL, webSocket: boolean, signal: AbortSignal): Promise<string> {
    const { runtime } = this.deps;
    if (r.kind === 'portForward') {
      const ports = portForwardPorts(url.searchParams, webSocket);
      const { pod } = findPod(this.deps.pods(), r.namespace, r.pod, r.uid);
      const sandboxes = await runtime.listPodSandbox({ label_selector: { [LABEL_POD_UID]: pod.metadata?.uid ?? '' }, state: { state: 'SANDBOX_READY' } }, signal);
      const sandbox = sandboxes[0];
      if (!sandbox) throw badRequest(`pod ${JSON.stringify(r.pod)} has no running sandbox`);
      return runtime.portForward(sandbox.id, ports, signal);
    }
    if (r.kind !== 'exec' && r.kind !== 'attach') throw badRequest('this endpoint does not upgrade');
    const opts = streamOptions(url.searchParams, r.kind === 'exec');
    const id = runningContainerId(findPod(this.deps.pods(), r.namespace, r.pod, r.uid), r.container);
    if (r.kind === 'exec') return runtime.exec({ containerId: id, cmd: opts.command, tty: opts.tty, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr }, signal);
    return runtime.attach({ containerId: id, tty: opts.tty, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr }, signal);
  }
}

