// For unit tests only: an in-memory stand-in for the few API calls of the node status and lease
// loops (Nodes create/get/patch status, Leases get/create/update), with resourceVersions,
// AlreadyExists/NotFound/Conflict answers, a simple strategic-merge-patch applier and injectable
// failures. The integration test (test/node-status.test.ts) runs the same code against the real
// kube-apiserver.
import { KubeApiError, type KubeClient, type RequestOptionsKube } from '../kube/client.ts';

export interface RecordedCall {
  method: string;
  path: string;
  body: unknown;
  query: RequestOptionsKube['query'];
  contentType: string | undefined;
  /** The fake clock's time of the call (0 without a clock). */
  at: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Strategic merge: maps merge (null deletes), conditions merge by type, `$patch: replace` lists replace, other lists replace. */
export function applyStrategicMerge(target: unknown, patch: unknown, key = ''): unknown {
  if (Array.isArray(patch)) {
    const directives = patch.filter((x) => isObj(x) && '$patch' in x);
    const items = patch.filter((x) => !(isObj(x) && '$patch' in x && Object.keys(x).length === 1) && !(isObj(x) && x.$patch === 'delete'));
    if (key === 'conditions' && !directives.some((d) => (d as Obj).$patch === 'replace')) {
      const out = (Array.isArray(target) ? target : []).map((x) => structuredClone(x) as Obj);
      for (const d of directives) if ((d as Obj).$patch === 'delete') out.splice(out.findIndex((x) => x.type === (d as Obj).type), 1);
      for (const item of items as Obj[]) {
        const i = out.findIndex((x) => x.type === item.type);
        if (i >= 0) out[i] = applyStrategicMerge(out[i], item) as Obj;
        else out.push(item);
      }
      return out;
    }
    return items;
  }
  if (!isObj(patch)) return patch;
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyStrategicMerge(out[k], v, k);
  }
  return out;
}

const notFound = (what: string): KubeApiError => new KubeApiError('NotFound', 404, 'NotFound', `${what} not found`);

export class FakeApi implements KubeClient {
  readonly server = 'https://fake';
  readonly calls: RecordedCall[] = [];
  readonly nodes = new Map<string, Obj>();
  readonly leases = new Map<string, Obj>();
  private rv = 1;
  private failures: { method: string; path: RegExp; error: Error; times: number }[] = [];
  private readonly now: () => number;

  constructor(now: () => number = () => 0) {
    this.now = now;
  }

  /** Makes the next `times` calls matching method and path fail with `error`. */
  fail(method: string, path: RegExp, error: Error, times = 1): void {
    this.failures.push({ method, path, error, times });
  }

  callsTo(method: string, path: RegExp): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && path.test(c.path));
  }

  async reload(): Promise<void> {}
  close(): void {}
  watch(): Promise<void> {
    return Promise.reject(new Error('watch is not faked'));
  }

  async request<T>(method: string, path: string, opts: RequestOptionsKube = {}): Promise<T> {
    opts.signal?.throwIfAborted();
    this.calls.push({ method, path, body: structuredClone(opts.body), query: opts.query, contentType: opts.contentType, at: this.now() });
    const f = this.failures.find((x) => x.method === method && x.path.test(path) && x.times > 0);
    if (f) {
      f.times--;
      throw f.error;
    }
    await Promise.resolve();
    return this.handle(method, path, opts.body) as T;
  }

  private stamp(o: Obj): Obj {
    const meta = (o.metadata ??= {}) as Obj;
    meta.resourceVersion = String(++this.rv);
    meta.uid ??= `uid-${(meta.name as string) ?? ''}`;
    return o;
  }

  private handle(method: string, path: string, body: unknown): unknown {
    let m = /^\/api\/v1\/nodes(?:\/([^/]+))?(\/status)?$/.exec(path);
    if (m) {
      const name = m[1] ? decodeURIComponent(m[1]) : undefined;
      if (method === 'POST' && !name) {
        const node = structuredClone(body) as Obj;
        const n = (node.metadata as Obj).name as string;
        if (this.nodes.has(n)) throw new KubeApiError('Transient', 409, 'AlreadyExists', `nodes "${n}" already exists`);
        this.nodes.set(n, this.stamp(node));
        return structuredClone(node);
      }
      const node = name ? this.nodes.get(name) : undefined;
      if (!node) throw notFound(`nodes "${name}"`);
      if (method === 'GET') return structuredClone(node);
      if (method === 'PATCH' && m[2]) {
        const patched = applyStrategicMerge(node, body) as Obj;
        patched.spec = node.spec; // the status subresource ignores spec
        this.nodes.set(name!, this.stamp(patched));
        return structuredClone(patched);
      }
    }
    m = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/kube-node-lease\/leases(?:\/([^/]+))?$/.exec(path);
    if (m) {
      const name = m[1] ? decodeURIComponent(m[1]) : undefined;
      if (method === 'POST') {
        const lease = structuredClone(body) as Obj;
        const n = (lease.metadata as Obj).name as string;
        if (this.leases.has(n)) throw new KubeApiError('Transient', 409, 'AlreadyExists', `leases "${n}" already exists`);
        this.leases.set(n, this.stamp(lease));
        return structuredClone(lease);
      }
      const lease = name ? this.leases.get(name) : undefined;
      if (!lease) throw notFound(`leases "${name}"`);
      if (method === 'GET') return structuredClone(lease);
      if (method === 'PUT') {
        const next = structuredClone(body) as Obj;
        if ((next.metadata as Obj).resourceVersion !== (lease.metadata as Obj).resourceVersion) {
          throw new KubeApiError('Transient', 409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
        }
        this.leases.set(name!, this.stamp(next));
        return structuredClone(next);
      }
    }
    throw new KubeApiError('InvalidInput', 405, 'MethodNotAllowed', `${method} ${path} is not faked`);
  }
}
