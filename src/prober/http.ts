// HTTP GET for probes and lifecycle hooks (upstream pkg/probe/http): the request built from an
// httpGet action (scheme, host or pod IP, port by number or name, path, headers, the kube-probe
// User-Agent, Accept */*), redirects followed only to the same host (at most 10), TLS without
// verification, no keep-alive, a body read of at most 10 KiB.
import * as https from 'node:https';
import { http } from '../common/node-http.ts';
import type { Container } from '../kube/types.ts';
import { dialErrorText, isDialError, joinHostPort, resolveContainerPort, userAgent } from './net.ts';
import type { ProbeOutcome } from './results.ts';

export type HttpGetAction = NonNullable<NonNullable<Container['livenessProbe']>['httpGet']>;

/** Response bodies are read up to this many bytes (upstream maxRespBodyLength, 10 KiB). */
export const MAX_RESPONSE_BODY_BYTES = 10 * 1024;
/** Redirects followed at most (Go's http.Client default, kept by upstream's redirect checker). */
const MAX_REDIRECTS = 10;

export interface HttpGetRequest {
  url: URL;
  /** Header name/value pairs in order; a name may repeat. */
  headers: [string, string][];
}

export interface HttpGetResponse {
  statusCode: number;
  body: string;
  /** The URL that answered (after the redirects that were followed). */
  url: URL;
}

/** An HTTP GET that got no response; `message` reads as Go's url.Error (`Get "<url>": ...`). */
export class HttpGetError extends Error {
  readonly tlsGotHttp: boolean;
  constructor(message: string, opts: { cause?: unknown; tlsGotHttp?: boolean } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'HttpGetError';
    this.tlsGotHttp = opts.tlsGotHttp ?? false;
  }
}

/**
 * The request of an httpGet action (upstream NewRequestForHTTPGetAction): host defaults to the
 * pod IP, scheme to http; User-Agent and Accept are added unless set (an empty Accept removes it).
 * Throws InvalidInput for a port that cannot be resolved.
 */
export function buildHttpGetRequest(action: HttpGetAction, container: Container, podIP: string, purpose: 'probe' | 'lifecycle'): HttpGetRequest {
  const scheme = (action.scheme || 'HTTP').toLowerCase();
  const host = action.host || podIP;
  const port = resolveContainerPort(action.port, container);
  let path = action.path ?? '';
  if (path !== '' && !path.startsWith('/')) path = `/${path}`;
  const url = new URL(`${scheme}://${joinHostPort(host, port)}${path || '/'}`);
  const headers: [string, string][] = (action.httpHeaders ?? []).map((h) => [h.name, h.value]);
  const has = (name: string): boolean => headers.some(([n]) => n.toLowerCase() === name);
  if (!has('user-agent')) headers.push(['User-Agent', userAgent(purpose)]);
  if (!has('accept')) headers.push(['Accept', '*/*']);
  else if (headers.filter(([n]) => n.toLowerCase() === 'accept').every(([, v]) => v === '')) {
    return { url, headers: headers.filter(([n]) => n.toLowerCase() !== 'accept') };
  }
  return { url, headers };
}

const isRedirect = (code: number): boolean => code === 301 || code === 302 || code === 303 || code === 307 || code === 308;

function nodeHeaders(headers: [string, string][], dropHost: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of headers) {
    if (dropHost && name.toLowerCase() === 'host') continue;
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/** One GET without following redirects; resolves with the status, the Location and the first 10 KiB of the body. */
function getOnce(url: URL, headers: Record<string, string | string[]>, signal: AbortSignal): Promise<{ statusCode: number; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = { method: 'GET', headers, agent: false, signal };
    if (url.protocol === 'https:') options.rejectUnauthorized = false;
    const req = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (): void => {
        res.destroy();
        resolve({ statusCode: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BODY_BYTES).toString('utf8') });
      };
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_RESPONSE_BODY_BYTES) done(); // upstream: a longer body is truncated, not an error
      });
      res.on('end', done);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function describeError(url: URL, err: unknown, timedOut: boolean): HttpGetError {
  const hostPort = url.host;
  if (timedOut) return new HttpGetError(`Get "${url.href}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`, { cause: err });
  const e = err as NodeJS.ErrnoException;
  const tlsGotHttp = url.protocol === 'https:' && (e?.code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(e?.message ?? ''));
  if (tlsGotHttp) return new HttpGetError(`Get "${url.href}": http: server gave HTTP response to HTTPS client`, { cause: err, tlsGotHttp });
  if (isDialError(err)) return new HttpGetError(`Get "${url.href}": ${dialErrorText(hostPort, err)}`, { cause: err });
  return new HttpGetError(`Get "${url.href}": ${e instanceof Error ? e.message : String(err)}`, { cause: err });
}

/**
 * GET with upstream's redirect rules: a redirect to the same host name is followed (at most 10),
 * a redirect elsewhere ends the request with the redirect response itself. `timeoutMs` bounds
 * the whole exchange (null: no limit). Rejects with HttpGetError when no response came, or with
 * the signal's reason when `signal` aborts.
 */
export async function httpGet(req: HttpGetRequest, opts: { timeoutMs: number | null; signal?: AbortSignal }): Promise<HttpGetResponse> {
  const timeout = opts.timeoutMs === null ? null : AbortSignal.timeout(Math.max(1, opts.timeoutMs));
  const signals = [opts.signal, timeout].filter((s): s is AbortSignal => !!s);
  const signal = AbortSignal.any(signals);
  const first = req.url;
  let url = first;
  for (let requests = 1; ; requests++) {
    let res;
    try {
      res = await getOnce(url, nodeHeaders(req.headers, url !== first), signal);
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      throw describeError(url, err, !!timeout?.aborted);
    }
    if (!isRedirect(res.statusCode) || !res.location) return { statusCode: res.statusCode, body: res.body, url };
    let next: URL;
    try {
      next = new URL(res.location, url);
    } catch (err) {
      throw new HttpGetError(`Get "${url.href}": failed to parse Location header ${JSON.stringify(res.location)}`, { cause: err });
    }
    if (next.hostname !== first.hostname) return { statusCode: res.statusCode, body: res.body, url }; // upstream: http.ErrUseLastResponse
    if (requests >= MAX_REDIRECTS) throw new HttpGetError(`Get "${next.href}": stopped after ${MAX_REDIRECTS} redirects`);
    url = next;
  }
}

/**
 * An HTTP probe (upstream DoHTTPProbe): 200-299 succeeds, 300-399 (a redirect not followed)
 * succeeds with a warning, anything else fails with the status code; no response fails with
 * the error. Never rejects except when `signal` aborts.
 */
export async function httpProbe(req: HttpGetRequest, timeoutMs: number, signal?: AbortSignal): Promise<ProbeOutcome> {
  let res: HttpGetResponse;
  try {
    res = await httpGet(req, { timeoutMs, signal });
  } catch (err) {
    if (signal?.aborted) throw err;
    return { result: 'failure', output: err instanceof Error ? err.message : String(err) };
  }
  if (res.statusCode >= 200 && res.statusCode < 400) {
    if (res.statusCode >= 300) return { result: 'warning', output: `Probe terminated redirects, Response body: ${res.body}` };
    return { result: 'success', output: res.body };
  }
  // Upstream keeps the body out of the user-facing message (kubernetes#99425).
  return { result: 'failure', output: `HTTP probe failed with statuscode: ${res.statusCode}` };
}
