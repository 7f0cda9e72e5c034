// Authentication and authorization of the kubelet API (upstream pkg/kubelet/server/auth.go and
// the kubelet's authenticator/authorizer built from KubeletConfiguration.authentication and
// .authorization):
// - authentication, first match wins: a client certificate verified against the client CA
//   (user = CN, groups = O); a bearer token checked with the TokenReview API (results cached
//   for cacheTTL, keyed by the token's SHA-256, never the token); anonymous (system:anonymous)
//   only when enabled. Otherwise 401.
// - authorization: the attributes upstream derives from the request (resource nodes, name = this
//   node, subresource by path, verb from the method), checked with SubjectAccessReview (allowed
//   and denied answers cached for their TTLs) or AlwaysAllow. Denied: 403.
// The caches are bounded, so a flood of distinct tokens cannot grow memory without bound.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../common/clock.ts';
import { errorMessage } from '../common/errors.ts';
import type { KubeClient } from '../kube/client.ts';

export interface UserInfo {
  readonly name: string;
  readonly uid?: string;
  readonly groups: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

/** The authorizer.Attributes of a kubelet API request (the namespace and API group are always ''). */
export interface RequestAttributes {
  readonly verb: string;
  readonly resource: 'nodes';
  readonly subresource: string;
  readonly name: string;
}

export type AuthnResult = { ok: true; user: UserInfo } | { ok: false; status: 401; message: string };
export type AuthzResult = { allowed: true } | { allowed: false; message: string };

export interface Authenticator {
  authenticate(req: IncomingMessage, signal?: AbortSignal): Promise<AuthnResult>;
}
export interface Authorizer {
  authorize(user: UserInfo, attrs: readonly RequestAttributes[], signal?: AbortSignal): Promise<AuthzResult>;
}

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
/** Paths whose every request runs something in a container: they need `create`, even a GET upgrade. */
const STREAMING_PATHS = ['/exec', '/attach', '/portForward', '/run'];

/** upstream isSubpath: `path` is `prefix` or below it. */
export function isSubpath(path: string, prefix: string): boolean {
  const p = prefix.replace(/\/$/, '');
  return path === p || (path.startsWith(p) && path[p.length] === '/');
}

const METHOD_VERBS: Readonly<Record<string, string>> = { POST: 'create', GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };

/**
 * The attributes upstream checks for a request, most specific first (the fine-grained
 * subresource of KubeletFineGrainedAuthz, then the coarse one); allowed when any is. Pure.
 */
export function requestAttributes(method: string, path: string, nodeName: string): RequestAttributes[] {
  const verb = STREAMING_PATHS.some((p) => isSubpath(path, p)) ? 'create' : (METHOD_VERBS[method] ?? '');
  const subresources: string[] = [];
  if (isSubpath(path, '/pods') || isSubpath(path, '/runningpods')) subresources.push('pods');
  else if (isSubpath(path, '/healthz')) subresources.push('healthz');
  else if (isSubpath(path, '/configz')) subresources.push('configz');
  if (isSubpath(path, '/stats')) subresources.push('stats');
  else if (isSubpath(path, '/metrics')) subresources.push('metrics');
  else if (isSubpath(path, '/logs')) subresources.push('log');
  else if (isSubpath(path, '/checkpoint')) subresources.push('checkpoint');
  else subresources.push('proxy');
  return subresources.map((subresource) => ({ verb, resource: 'nodes', subresource, name: nodeName }));
}

/** upstream's 403 text. */
export function forbiddenMessage(user: UserInfo, attrs: readonly RequestAttributes[]): string {
  const a = attrs[0];
  return `Forbidden (user=${user.name}, verb=${a?.verb ?? ''}, resource=nodes, subresource(s)=[${attrs.map((x) => x.subresource).join(' ')}])`;
}

/** A small TTL cache with a size bound (oldest entries go first). */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expiresMs: number }>();
  private readonly maxEntries: number;
  private readonly clock: Clock;
  constructor(clock: Clock, maxEntries = 4096) {
    this.clock = clock;
    this.maxEntries = maxEntries;
  }
  get(key: string): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresMs <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return e.value;
  }
  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0) return;
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expiresMs: this.clock.now() + ttlMs });
  }
  get size(): number {
    return this.entries.size;
  }
}

/** The user of a verified client certificate, or null when none was presented. Throws nothing. */
export function certificateUser(socket: TLSSocket): { user: UserInfo } | { error: string } | null {
  const cert = socket.getPeerCertificate?.();
  if (!cert || Object.keys(cert).length === 0) return null;
  if (!socket.authorized) return { error: `x509: ${String(socket.authorizationError ?? 'certificate not trusted')}` };
  if (cert.ext_key_usage && !cert.ext_key_usage.includes(OID_CLIENT_AUTH)) return { error: 'x509: certificate specifies an incompatible key usage' };
  const cn = cert.subject?.CN;
  const o = cert.subject?.O;
  const name = Array.isArray(cn) ? (cn[0] ?? '') : (cn ?? '');
  if (!name) return { error: 'x509: the certificate has no common name' };
  return { user: { name, groups: o === undefined ? [] : Array.isArray(o) ? o : [o] } };
}

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  error?: string;
}

export interface KubeletAuthenticatorOptions {
  clientCAConfigured: boolean;
  /** null: bearer tokens are not accepted (webhook off, or no API server). */
  tokenReview: { client: KubeClient; cacheTtlMs: number } | null;
  anonymous: boolean;
  clock: Clock;
}

const UNAUTHORIZED: AuthnResult = { ok: false, status: 401, message: 'Unauthorized' };

export class KubeletAuthenticator implements Authenticator {
  private readonly opts: KubeletAuthenticatorOptions;
  private readonly tokens: TtlCache<UserInfo | null>;
  constructor(opts: KubeletAuthenticatorOptions) {
    this.opts = opts;
    this.tokens = new TtlCache(opts.clock);
  }

  async authenticate(req: IncomingMessage, signal?: AbortSignal): Promise<AuthnResult> {
    if (this.opts.clientCAConfigured) {
      const fromCert = certificateUser(req.socket as TLSSocket);
      if (fromCert && 'user' in fromCert) return { ok: true, user: fromCert.user };
      if (fromCert) return UNAUTHORIZED;
    }
    const header = req.headers.authorization;
    const bearer = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] : undefined;
    if (bearer !== undefined) {
      if (!this.opts.tokenReview) return UNAUTHORIZED;
      const user = await this.reviewToken(bearer, signal);
      return user ? { ok: true, user } : UNAUTHORIZED;
    }
    if (this.opts.anonymous) return { ok: true, user: { name: 'system:anonymous', groups: ['system:unauthenticated'] } };
    return UNAUTHORIZED;
  }

  private async reviewToken(token: string, signal?: AbortSignal): Promise<UserInfo | null> {
    const key = createHash('sha256').update(token).digest('base64');
    const cached = this.tokens.get(key);
    if (cached !== undefined) return cached;
    const review = this.opts.tokenReview!;
    let status: TokenReviewStatus | undefined;
    try {
      const res = await review.client.request<{ status?: TokenReviewStatus }>('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } },
        signal,
        timeoutMs: 10_000,
      });
      status = res.status;
    } catch (err) {
      // Not cached: an API outage must not lock callers out for the TTL.
      throw new Error(`token review failed: ${errorMessage(err)}`, { cause: err });
    }
    const u = status?.user;
    const user = status?.authenticated && u?.username ? { name: u.username, uid: u.uid, groups: u.groups ?? [], extra: u.extra } : null;
    this.tokens.set(key, user, review.cacheTtlMs);
    return user;
  }
}

export interface WebhookAuthorizerOptions {
  client: KubeClient;
  authorizedTtlMs: number;
  unauthorizedTtlMs: number;
  clock: Clock;
}

/** Authorization through SubjectAccessReview (upstream Webhook mode). */
export class WebhookAuthorizer implements Authorizer {
  private readonly opts: WebhookAuthorizerOptions;
  private readonly cache: TtlCache<boolean>;
  constructor(opts: WebhookAuthorizerOptions) {
    this.opts = opts;
    this.cache = new TtlCache(opts.clock);
  }

  async authorize(user: UserInfo, attrs: readonly RequestAttributes[], signal?: AbortSignal): Promise<AuthzResult> {
    for (const a of attrs) {
      if (await this.allowed(user, a, signal)) return { allowed: true };
    }
    return { allowed: false, message: forbiddenMessage(user, attrs) };
  }

  private async allowed(user: UserInfo, a: RequestAttributes, signal?: AbortSignal): Promise<boolean> {
    const spec = {
      user: user.name,
      uid: user.uid,
      groups: user.groups,
      extra: user.extra,
      resourceAttributes: { namespace: '', verb: a.verb, group: '', version: 'v1', resource: a.resource, subresource: a.subresource, name: a.name },
    };
    const key = JSON.stringify(spec);
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const res = await this.opts.client.request<{ status?: { allowed?: boolean; denied?: boolean } }>('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec },
      signal,
      timeoutMs: 10_000,
    });
    const allowed = res.status?.allowed === true;
    this.cache.set(key, allowed, allowed ? this.opts.authorizedTtlMs : this.opts.unauthorizedTtlMs);
    return allowed;
  }
}

export const alwaysAllow: Authorizer = { authorize: () => Promise.resolve({ allowed: true }) };
/** Webhook mode without an API server: nothing can be authorized. */
export const alwaysDeny: Authorizer = { authorize: (user, attrs) => Promise.resolve({ allowed: false, message: forbiddenMessage(user, attrs) }) };
