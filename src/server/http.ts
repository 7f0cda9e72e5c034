// The unauthenticated HTTP endpoints: /healthz on the healthz port (127.0.0.1:10248) and, when
// --read-only-port is set, the legacy read-only server with /healthz and /pods (upstream
// pkg/kubelet/server). Both answer GET only; anything else is 404 or 405. Neither ever exposes
// a secret: /pods returns the specs as the sources gave them and the generated statuses.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { http } from '../common/node-http.ts';
import type { PodList } from '../kube/types.ts';
import type { PodWithStatus } from '../status/status-manager.ts';
import type { Logger } from '../observability/logger.ts';

export interface HealthCheck {
  name: string;
  check(): { ok: boolean; message: string };
}

export interface HttpServerDeps {
  logger: Logger;
  healthChecks: HealthCheck[];
  /** The pods to list on /pods (null: the endpoint is not served). */
  pods: (() => PodWithStatus[]) | null;
}

/** /healthz body as upstream's healthz package writes it: "ok", or the failing checks. */
export function healthz(checks: HealthCheck[], verbose: boolean): { status: number; body: string } {
  const results = checks.map((c) => ({ name: c.name, ...c.check() }));
  const failed = results.filter((r) => !r.ok);
  if (failed.length === 0 && !verbose) return { status: 200, body: 'ok' };
  const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.message}`));
  if (failed.length === 0) return { status: 200, body: `${lines.join('\n')}\nhealthz check passed\n` };
  return { status: 500, body: `${lines.join('\n')}\nhealthz check failed\n` };
}

export function podList(pods: PodWithStatus[]): PodList {
  return { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: pods.map(({ pod, status }) => ({ ...pod, status })) };
}

/** A whole response with its length; `nosniff` so that no browser reads it as something else. */
export function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff' });
  res.end(body);
}

export function handle(deps: HttpServerDeps, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path !== '/healthz' && !(path === '/pods' && deps.pods)) return send(res, 404, 'text/plain; charset=utf-8', '404 page not found\n');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  if (path === '/healthz') {
    const r = healthz(deps.healthChecks, url.searchParams.has('verbose'));
    return send(res, r.status, 'text/plain; charset=utf-8', r.body);
  }
  return send(res, 200, 'application/json', JSON.stringify(podList(deps.pods!())));
}

/** Starts an HTTP server on host:port; resolves once it listens. Close it with server.close(). */
export async function listen(deps: HttpServerDeps, host: string, port: number): Promise<Server> {
  const server = http.createServer((req, res) => {
    try {
      handle(deps, req, res);
    } catch (err) {
      deps.logger.error({ component: 'server', err: String(err) }, 'request failed');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
