// The API objects a pod's containers and volumes are built from: ConfigMaps, Secrets, Services
// (for the service environment variables) and service-account tokens (TokenRequest). Upstream
// spreads this over the configmap/secret managers (TTL-based cache manager), the service
// informer and the token manager (pkg/kubelet/token); here one small source does it.
//
// Caching, as upstream's TTL cache manager and token manager:
// - ConfigMaps, Secrets and Service lists are kept OBJECT_TTL_MS: a burst of pods referencing the
//   same object costs one GET (calls in flight are shared), and a periodic volume refresh costs
//   at most one GET per object per TTL. When a refresh fails and an older copy is known, the older
//   copy is returned (an API-server outage must not stop container restarts). A 404 is never
//   cached, so an object created after its pod is seen at the next retry.
// - Tokens are kept until 80% of their lifetime (minus up to 10 s of jitter) or 24 h, as upstream;
//   a failed refresh returns the cached token while it has not expired.
// The node's rights (Node authorizer) let it read only what pods bound to it reference.
// Never log an object's data or a token: errors name the object only.
import type { V1ConfigMap, V1Secret, V1Service } from '@kubernetes/client-node';
import type { Clock } from '../common/clock.ts';
import { errorMessage, transient } from '../common/errors.ts';
import { KubeApiError, type KubeClient } from './client.ts';

export type ConfigMap = V1ConfigMap;
export type Secret = V1Secret;
export type Service = V1Service;

export interface TokenRequestOptions {
  /** Empty: the API server's own audiences. */
  audiences: string[];
  expirationSeconds: number;
  /** The pod the token is bound to (it stops being valid when the pod is deleted). */
  boundPod: { name: string; uid: string };
}

export interface ServiceAccountToken {
  token: string;
  /** RFC 3339, as the API server wrote it. */
  expirationTimestamp: string;
}

/** What pods need from the API server, besides themselves. Every call may reject with a KubeApiError or a Transient error. */
export interface PodObjectSource {
  /** The ConfigMap, or null when it does not exist (404). */
  getConfigMap(namespace: string, name: string, signal: AbortSignal): Promise<ConfigMap | null>;
  /** The Secret (data base64 encoded, as the API serves it), or null when it does not exist. */
  getSecret(namespace: string, name: string, signal: AbortSignal): Promise<Secret | null>;
  /** The Services of a namespace. */
  listServices(namespace: string, signal: AbortSignal): Promise<Service[]>;
  /** A token of the service account, bound to the pod; cached until it is due for a refresh. */
  requestServiceAccountToken(namespace: string, serviceAccount: string, opts: TokenRequestOptions, signal: AbortSignal): Promise<ServiceAccountToken>;
  /** Drops what is cached for a pod that is gone (its tokens). Never throws. */
  forgetPod(podUID: string): void;
}

/** How long ConfigMaps, Secrets and Service lists are reused, ms (upstream's TTL manager uses 1 min, with a refetch per new pod; we have no per-pod invalidation, so shorter). */
export const OBJECT_TTL_MS = 10_000;
/** Cached objects not asked for during this long are dropped, ms (running pods ask every resync). */
const UNUSED_EVICT_MS = 15 * 60_000;
/** Upstream token manager: refresh any token older than this, ms. */
const TOKEN_MAX_TTL_MS = 24 * 3600_000;
/** Upstream token manager: refreshes are spread by up to this much, ms. */
const TOKEN_MAX_JITTER_MS = 10_000;

const NOT_FOUND = Symbol('not found');

/**
 * Upstream token manager requiresRefresh: a token is due when it is older than 24 h, or when less
 * than 20% of its lifetime (plus `jitterMs`) remains. Times in ms since the epoch.
 */
export function tokenRequiresRefresh(nowMs: number, expirationMs: number, expirationSeconds: number, jitterMs: number): boolean {
  const issuedAt = expirationMs - expirationSeconds * 1000;
  if (nowMs > issuedAt + TOKEN_MAX_TTL_MS - jitterMs) return true;
  return nowMs > expirationMs - Math.floor((expirationSeconds * 20) / 100) * 1000 - jitterMs;
}

/** Resolves like `p`, or rejects with the signal's reason when it aborts first (p keeps running for others). */
function withSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

interface Entry<T> {
  value: T;
  fetchedAt: number;
  usedAt: number;
}

/**
 * A TTL cache with shared calls in flight and stale copies on failure. `fetch` resolves to
 * NOT_FOUND for a 404: that result is returned but not kept (and drops an older copy).
 */
class TtlCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly inflight = new Map<string, Promise<T | typeof NOT_FOUND>>();
  private readonly clock: Clock;
  private readonly ttlMs: number;
  private lastSweep = 0;

  constructor(clock: Clock, ttlMs: number) {
    this.clock = clock;
    this.ttlMs = ttlMs;
  }

  async get(key: string, fetch: () => Promise<T | typeof NOT_FOUND>, signal: AbortSignal): Promise<T | typeof NOT_FOUND> {
    const now = this.clock.now();
    this.sweep(now);
    const entry = this.entries.get(key);
    if (entry && now - entry.fetchedAt < this.ttlMs) {
      entry.usedAt = now;
      return entry.value;
    }
    let call = this.inflight.get(key);
    if (!call) {
      call = this.refresh(key, fetch);
      this.inflight.set(key, call);
      const forget = (): void => {
        this.inflight.delete(key);
      };
      call.then(forget, forget);
    }
    return withSignal(call, signal);
  }

  private async refresh(key: string, fetch: () => Promise<T | typeof NOT_FOUND>): Promise<T | typeof NOT_FOUND> {
    let value: T | typeof NOT_FOUND;
    try {
      value = await fetch();
    } catch (err) {
      const stale = this.entries.get(key);
      if (stale) {
        stale.usedAt = this.clock.now();
        return stale.value; // upstream: a failed refresh keeps the cached object
      }
      throw err;
    }
    const now = this.clock.now();
    if (value === NOT_FOUND) this.entries.delete(key);
    else this.entries.set(key, { value, fetchedAt: now, usedAt: now });
    return value;
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.ttlMs) return;
    this.lastSweep = now;
    for (const [k, e] of this.entries) if (now - e.usedAt > UNUSED_EVICT_MS) this.entries.delete(k);
  }
}

interface CachedToken extends ServiceAccountToken {
  expirationMs: number;
  expirationSeconds: number;
  podUID: string;
}

interface TokenRequestResponse {
  spec?: { expirationSeconds?: number };
  status?: { token?: string; expirationTimestamp?: string };
}

export interface ApiPodObjectSourceDeps {
  client: KubeClient;
  clock: Clock;
  /** ConfigMap/Secret/Service cache lifetime, ms (default OBJECT_TTL_MS). */
  ttlMs?: number;
  /** Random numbers in [0, 1) for the token refresh jitter (tests pass a fixed one). */
  random?: () => number;
}

const seg = (s: string): string => encodeURIComponent(s);
const isApiNotFound = (err: unknown): boolean => err instanceof KubeApiError && err.status === 404;

/** PodObjectSource over the API server, with the caches described at the top of this file. */
export class ApiPodObjectSource implements PodObjectSource {
  private readonly deps: ApiPodObjectSourceDeps;
  private readonly configMaps: TtlCache<ConfigMap>;
  private readonly secrets: TtlCache<Secret>;
  private readonly services: TtlCache<Service[]>;
  private readonly tokens = new Map<string, CachedToken>();
  private readonly tokensInflight = new Map<string, Promise<CachedToken>>();

  constructor(deps: ApiPodObjectSourceDeps) {
    this.deps = deps;
    const ttl = deps.ttlMs ?? OBJECT_TTL_MS;
    this.configMaps = new TtlCache(deps.clock, ttl);
    this.secrets = new TtlCache(deps.clock, ttl);
    this.services = new TtlCache(deps.clock, ttl);
  }

  /** GET of one object; NOT_FOUND on 404. Not tied to a caller's signal: the call is shared (the client's own timeout bounds it). */
  private async getObject<T>(path: string): Promise<T | typeof NOT_FOUND> {
    try {
      return await this.deps.client.request<T>('GET', path);
    } catch (err) {
      if (isApiNotFound(err)) return NOT_FOUND;
      throw err;
    }
  }

  async getConfigMap(namespace: string, name: string, signal: AbortSignal): Promise<ConfigMap | null> {
    const v = await this.configMaps.get(`${namespace}/${name}`, () => this.getObject<ConfigMap>(`/api/v1/namespaces/${seg(namespace)}/configmaps/${seg(name)}`), signal);
    return v === NOT_FOUND ? null : v;
  }

  async getSecret(namespace: string, name: string, signal: AbortSignal): Promise<Secret | null> {
    const v = await this.secrets.get(`${namespace}/${name}`, () => this.getObject<Secret>(`/api/v1/namespaces/${seg(namespace)}/secrets/${seg(name)}`), signal);
    return v === NOT_FOUND ? null : v;
  }

  async listServices(namespace: string, signal: AbortSignal): Promise<Service[]> {
    const v = await this.services.get(
      namespace,
      async () => (await this.deps.client.request<{ items?: Service[] }>('GET', `/api/v1/namespaces/${seg(namespace)}/services`)).items ?? [],
      signal,
    );
    return v === NOT_FOUND ? [] : v;
  }

  async requestServiceAccountToken(namespace: string, serviceAccount: string, opts: TokenRequestOptions, signal: AbortSignal): Promise<ServiceAccountToken> {
    const key = JSON.stringify([namespace, serviceAccount, opts.audiences, opts.expirationSeconds, opts.boundPod.name, opts.boundPod.uid]);
    const now = this.deps.clock.now();
    const cached = this.tokens.get(key);
    const jitter = (this.deps.random ?? Math.random)() * TOKEN_MAX_JITTER_MS;
    if (cached && !tokenRequiresRefresh(now, cached.expirationMs, cached.expirationSeconds, jitter)) return publicToken(cached);
    let call = this.tokensInflight.get(key);
    if (!call) {
      call = this.fetchToken(namespace, serviceAccount, opts);
      this.tokensInflight.set(key, call);
      const forget = (): void => {
        this.tokensInflight.delete(key);
      };
      call.then(forget, forget);
    }
    try {
      const fresh = await withSignal(call, signal);
      this.tokens.set(key, fresh);
      this.gcTokens();
      return publicToken(fresh);
    } catch (err) {
      if (signal.aborted) throw err;
      const ref = `${namespace}/${serviceAccount} for pod ${opts.boundPod.name}`;
      if (!cached) throw transient(`failed to fetch token: ${errorMessage(err)}`, err);
      if (this.deps.clock.now() >= cached.expirationMs) throw transient(`token of service account ${ref} expired and refresh failed: ${errorMessage(err)}`, err);
      return publicToken(cached); // upstream: keep using the token while it is valid
    }
  }

  private async fetchToken(namespace: string, serviceAccount: string, opts: TokenRequestOptions): Promise<CachedToken> {
    const res = await this.deps.client.request<TokenRequestResponse>('POST', `/api/v1/namespaces/${seg(namespace)}/serviceaccounts/${seg(serviceAccount)}/token`, {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          ...(opts.audiences.length > 0 ? { audiences: opts.audiences } : {}),
          expirationSeconds: opts.expirationSeconds,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: opts.boundPod.name, uid: opts.boundPod.uid },
        },
      },
    });
    const token = res.status?.token ?? '';
    const expirationTimestamp = res.status?.expirationTimestamp ?? '';
    const expirationMs = Date.parse(expirationTimestamp);
    if (!token || Number.isNaN(expirationMs)) throw transient(`TokenRequest for ${namespace}/${serviceAccount} returned no token or no expiration`);
    return { token, expirationTimestamp, expirationMs, expirationSeconds: res.spec?.expirationSeconds ?? opts.expirationSeconds, podUID: opts.boundPod.uid };
  }

  /** Upstream token manager cleanup: expired tokens go. */
  private gcTokens(): void {
    const now = this.deps.clock.now();
    for (const [k, t] of this.tokens) if (now >= t.expirationMs) this.tokens.delete(k);
  }

  forgetPod(podUID: string): void {
    for (const [k, t] of this.tokens) if (t.podUID === podUID) this.tokens.delete(k);
  }
}

const publicToken = (t: CachedToken): ServiceAccountToken => ({ token: t.token, expirationTimestamp: t.expirationTimestamp });
