// A container's environment, as upstream kubelet builds it (kubelet_pods.go
// makeEnvironmentVariables, envvars.FromServices), and the $(VAR) expansion of env values,
// command and args (third_party/forked/golang/expansion). makeEnvironment is pure: the pod's
// IPs, the node's IPs, its allocatable resources and the referenced ConfigMaps, Secrets and
// Services are inputs; resolveEnvSources fetches those beforehand. Without an API server
// (no sources), configMap/secret references are Unsupported (upstream fails the same way without
// a kubeClient: CreateContainerConfigError) and there are no service variables.
import type { Container, EnvVar, Pod } from '../kube/types.ts';
import type { ConfigMap, PodObjectSource, Secret, Service } from '../kube/object-cache.ts';
import { KubeletError, errorMessage, invalidInput, transient, unsupported } from '../common/errors.ts';
import { listNanos, nanosToMilli, nanosToValue, parseQuantityNanos, type ResourceList } from '../cm/quantity.ts';
import { effectiveRequests, isStaticPod } from '../cm/qos.ts';
import { compareText } from '../common/compare.ts';

export interface EnvVarValue {
  name: string;
  value: string;
}

export interface EnvOptions {
  /** Falls back for spec.nodeName when the pod has none. */
  nodeName?: string;
  /** The pod's IPs, primary family first (upstream sorts them by the node's IP family). */
  podIPs?: string[];
  /** The pod's IP when podIPs is not given. */
  podIP?: string;
  /** The node's IPs, primary first. */
  hostIPs?: string[];
  /** The node's IP when hostIPs is not given. */
  hostIP?: string;
  /** Node allocatable: the value of a limit a container does not set (cpu, memory, ephemeral-storage). */
  allocatable?: ResourceList;
  /** The referenced API objects (resolveEnvSources); absent: no API server. */
  sources?: EnvSources;
}

/** The API data a container's environment is made of, fetched beforehand (resolveEnvSources). */
export interface EnvSources {
  /** ConfigMaps of the pod's namespace by name; null: it does not exist. */
  configMaps: ReadonlyMap<string, ConfigMap | null>;
  /** Secrets of the pod's namespace by name (data base64 encoded); null: it does not exist. */
  secrets: ReadonlyMap<string, Secret | null>;
  /** The service environment variables (serviceEnvironment). */
  serviceEnv: ReadonlyMap<string, string>;
}

/** The environment and the warnings an event should carry (envFrom keys that cannot be variable names). */
export interface EnvironmentResult {
  env: EnvVarValue[];
  warnings: string[];
}

/**
 * Upstream expansion.Expand: `$(NAME)` becomes lookup(NAME), or stays `$(NAME)` when lookup gives
 * undefined; `$$` becomes `$` (so `$$(NAME)` is the literal `$(NAME)`); an unclosed `$(`, a `$`
 * before any other character, and a trailing `$` stay as they are.
 */
export function expandVariables(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let checkpoint = 0;
  for (let cursor = 0; cursor < input.length - 1; cursor++) {
    if (input[cursor] !== '$') continue;
    out += input.slice(checkpoint, cursor);
    const next = input[cursor + 1];
    const close = next === '(' ? input.indexOf(')', cursor + 2) : -1;
    if (close >= 0) {
      const name = input.slice(cursor + 2, close);
      out += lookup(name) ?? `$(${name})`;
      cursor = close;
    } else {
      out += next === '$' ? '$' : `$${next}`;
      cursor += 1;
    }
    checkpoint = cursor + 1;
  }
  return out + input.slice(checkpoint);
}

/** A lookup over resolved variables, for expandVariables. */
const lookupIn = (env: ReadonlyMap<string, string>) => (name: string) => env.get(name);

/** Fields the downward API accepts in fieldRef (upstream ConvertDownwardAPIFieldLabel). */
const FIELD_LABELS = new Set([
  'metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName',
  'spec.restartPolicy', 'spec.serviceAccountName', 'spec.schedulerName', 'status.phase', 'status.hostIP',
  'status.hostIPs', 'status.podIP', 'status.podIPs',
]);

/** Upstream SplitMaybeSubscriptedPath: "metadata.labels['k']" -> ['metadata.labels', 'k']. */
function splitSubscript(path: string): [string, string] | undefined {
  if (!path.endsWith("']")) return undefined;
  const inner = path.slice(0, -2);
  const at = inner.indexOf("['");
  return at > 0 ? [inner.slice(0, at), inner.slice(at + 2)] : undefined;
}

const GO_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v', '"': '\\"', '\\': '\\\\' };

/** Go strconv.Quote for the characters that matter here (ASCII controls, quote, backslash). */
function goQuote(s: string): string {
  const escaped = s.replace(/[\x00-\x1f\x7f"\\]/g, (ch) => GO_ESCAPES[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `"${escaped}"`;
}

/** Upstream FormatMap: sorted `key="value"` lines. */
function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${goQuote(m?.[k] ?? '')}`)
    .join('\n');
}

/** The first IP of a list, else the single IP; '' when neither is known. */
const primary = (ips: string[] | undefined, ip: string | undefined): string => ips?.[0] ?? ip ?? '';
const allIPs = (ips: string[] | undefined, ip: string | undefined): string[] => ips ?? (ip ? [ip] : []);

function hostIPs(opts: EnvOptions): string[] {
  const ips = allIPs(opts.hostIPs, opts.hostIP);
  if (ips.length === 0) throw transient('the node IP is not known yet');
  return ips;
}

/** Upstream podFieldSelectorRuntimeValue + ExtractFieldPathAsString. */
function fieldRefValue(fieldPath: string, apiVersion: string, pod: Pod, opts: EnvOptions): string {
  if (apiVersion !== 'v1') throw invalidInput(`unsupported pod version: ${apiVersion}`);
  const subscripted = splitSubscript(fieldPath);
  if (subscripted && subscripted[0] !== 'metadata.labels' && subscripted[0] !== 'metadata.annotations') {
    throw invalidInput(`field label does not support subscript: ${fieldPath}`);
  }
  const path = fieldPath === 'spec.host' ? 'spec.nodeName' : fieldPath;
  if (!subscripted && !FIELD_LABELS.has(path)) throw invalidInput(`field label not supported: ${fieldPath}`);
  if (subscripted || path.startsWith('metadata.')) return podMetadataFieldValue(path, pod);
  switch (path) {
    case 'spec.nodeName': return pod.spec?.nodeName ?? opts.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP': return hostIPs(opts)[0] ?? '';
    case 'status.hostIPs': return hostIPs(opts).join(',');
    case 'status.podIP': return primary(opts.podIPs, opts.podIP);
    case 'status.podIPs': return allIPs(opts.podIPs, opts.podIP).join(',');
  }
  throw invalidInput(`unsupported fieldPath: ${fieldPath}`);
}

/**
 * Upstream fieldpath.ExtractFieldPathAsString, for downwardAPI volume files: metadata name,
 * namespace, uid, labels and annotations (whole, or one key by subscript). Throws InvalidInput
 * for any other path.
 */
export function podMetadataFieldValue(fieldPath: string, pod: Pod): string {
  const meta = pod.metadata ?? {};
  const subscripted = splitSubscript(fieldPath);
  if (subscripted) {
    const [path, key] = subscripted;
    if (path === 'metadata.labels') return meta.labels?.[key] ?? '';
    if (path === 'metadata.annotations') return meta.annotations?.[key] ?? '';
    throw invalidInput(`fieldPath "${fieldPath}" does not support subscript`);
  }
  switch (fieldPath) {
    case 'metadata.annotations': return formatMap(meta.annotations);
    case 'metadata.labels': return formatMap(meta.labels);
    case 'metadata.name': return meta.name ?? '';
    case 'metadata.namespace': return meta.namespace ?? '';
    case 'metadata.uid': return meta.uid ?? '';
  }
  throw invalidInput(`unsupported fieldPath: ${fieldPath}`);
}

/** Resources whose missing limit defaults to node allocatable (upstream MergeContainerResourceLimits). */
const ALLOCATABLE_DEFAULTED = ['cpu', 'memory', 'ephemeral-storage'];

/** The container's limits, a missing or zero cpu/memory/ephemeral-storage limit taken from allocatable. */
function limitsWithAllocatable(c: Container, allocatable: ResourceList | undefined): ResourceList {
  const limits: ResourceList = { ...(c.resources?.limits ?? {}) };
  for (const name of ALLOCATABLE_DEFAULTED) {
    const cap = allocatable?.[name];
    if (listNanos(limits, name) === 0n && cap !== undefined) limits[name] = cap;
  }
  return limits;
}

/** Upstream ExtractContainerResourceValue: the ceiling of quantity / divisor, as an integer string. */
function resourceValue(resource: string, divisorText: string | undefined, requests: ResourceList, limits: ResourceList): string {
  const dot = resource.indexOf('.');
  const [kind, name] = [resource.slice(0, dot), resource.slice(dot + 1)];
  const supported = ['cpu', 'memory', 'ephemeral-storage'].includes(name) || name.startsWith('hugepages-');
  if (!supported || (kind !== 'limits' && kind !== 'requests')) throw invalidInput(`unsupported container resource : ${resource}`);
  const quantity = listNanos(kind === 'limits' ? limits : requests, name);
  const given = divisorText === undefined ? 0n : parseQuantityNanos(divisorText);
  const divisor = given === 0n ? 1_000_000_000n : given; // no divisor: 1
  const scale = name === 'cpu' ? nanosToMilli : nanosToValue;
  return String(Math.ceil(scale(quantity) / scale(divisor)));
}

export type ResourceFieldRef = NonNullable<NonNullable<EnvVar['valueFrom']>['resourceFieldRef']>;

/** Upstream containerResourceRuntimeValue: the named container (regular, then init) or this one. */
function resourceFieldRefValue(ref: ResourceFieldRef, container: Container, pod: Pod, opts: EnvOptions): string {
  const regular = pod.spec?.containers ?? [];
  const target = ref.containerName ? [...regular, ...(pod.spec?.initContainers ?? [])].find((c) => c.name === ref.containerName) : container;
  if (!target) throw invalidInput(`container ${ref.containerName ?? ''} not found`);
  // Upstream defaults limits to allocatable on this container and the pod's regular containers only.
  const defaulted = target === container || regular.includes(target);
  const limits = defaulted ? limitsWithAllocatable(target, opts.allocatable) : (target.resources?.limits ?? {});
  return resourceValue(ref.resource, ref.divisor, effectiveRequests(target.resources), limits);
}

/**
 * Upstream ExtractResourceValueByContainerNameAndNodeAllocatable, for downwardAPI volume files:
 * the resource of the named container (regular, then init), its missing limits taken from
 * `allocatable`. Throws InvalidInput for an unknown container, resource or a bad quantity.
 */
export function containerResourceValue(ref: ResourceFieldRef, pod: Pod, allocatable: ResourceList | undefined): string {
  const name = ref.containerName ?? '';
  const target = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c) => c.name === name);
  if (!target) throw invalidInput(`container ${name} not found`);
  return resourceValue(ref.resource, ref.divisor, effectiveRequests(target.resources), limitsWithAllocatable(target, allocatable));
}

/** A missing referenced object or key: upstream's message, as is (no variable name in front). */
class EnvReferenceError extends KubeletError {}

const refError = (msg: string): EnvReferenceError => new EnvReferenceError('NotFound', msg);
const noClient = (kind: 'configMap' | 'secret', ns: string, name: string): KubeletError => unsupported(`couldn't get ${kind} ${ns}/${name}, no kubeClient defined`);

/** The decoded value of a Secret's key (the API serves data base64 encoded), or undefined. */
function secretValue(secret: Secret, key: string): string | undefined {
  const b64 = secret.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}

/** Looks up a referenced object: the object; undefined when it is missing and optional (skip); throws when missing otherwise. */
function referenced<T>(kind: 'configMap' | 'secret', objects: ReadonlyMap<string, T | null> | undefined, ns: string, name: string, optional: boolean): T | undefined {
  if (!objects) throw noClient(kind, ns, name);
  const obj = objects.get(name);
  if (obj) return obj;
  if (obj === undefined) throw new KubeletError('Internal', `${kind} ${ns}/${name} was not fetched before building the environment`);
  if (optional) return undefined;
  throw refError(`${kind === 'configMap' ? 'configmap' : 'secret'} "${name}" not found`);
}

/** Env var names a container runtime can carry: printable ASCII but '=' (upstream's relaxed rule). */
const isEnvVarName = (name: string): boolean => /^[\x20-\x3c\x3e-\x7e]+$/.test(name);

/** Upstream makeEnvironmentVariables' envFrom step: each source's keys, prefixed, in `env` (later sources win). */
function applyEnvFrom(container: Container, pod: Pod, sources: EnvSources | undefined, env: Map<string, string>, warnings: string[]): void {
  const ns = pod.metadata?.namespace ?? '';
  for (const from of container.envFrom ?? []) {
    let kind: 'configMap' | 'secret';
    let name: string;
    let data: [string, string][];
    if (from.configMapRef) {
      kind = 'configMap';
      name = from.configMapRef.name ?? '';
      const cm = referenced(kind, sources?.configMaps, ns, name, from.configMapRef.optional ?? false);
      if (!cm) continue;
      data = Object.entries(cm.data ?? {});
    } else if (from.secretRef) {
      kind = 'secret';
      name = from.secretRef.name ?? '';
      const secret = referenced(kind, sources?.secrets, ns, name, from.secretRef.optional ?? false);
      if (!secret) continue;
      data = Object.keys(secret.data ?? {}).map((k) => [k, secretValue(secret, k) ?? '']);
    } else {
      continue;
    }
    const invalid: string[] = [];
    for (const [key, value] of data) {
      const varName = (from.prefix ?? '') + key;
      if (!isEnvVarName(varName)) {
        invalid.push(varName);
        continue;
      }
      env.set(varName, value);
    }
    if (invalid.length > 0) {
      warnings.push(`Keys [${invalid.sort().join(', ')}] from the EnvFrom ${kind} ${ns}/${name} were skipped since they are considered invalid environment variable names.`);
    }
  }
}

/**
 * The value of one env var: its value expanded against `env` then the service variables, else its
 * source; undefined when an optional reference is missing (the variable is then left out).
 */
function envValue(v: EnvVar, env: ReadonlyMap<string, string>, container: Container, pod: Pod, opts: EnvOptions): string | undefined {
  const serviceEnv = opts.sources?.serviceEnv;
  if (v.value) return expandVariables(v.value, (name) => env.get(name) ?? serviceEnv?.get(name));
  const from = v.valueFrom;
  if (from?.fieldRef) return fieldRefValue(from.fieldRef.fieldPath, from.fieldRef.apiVersion ?? 'v1', pod, opts);
  if (from?.resourceFieldRef) return resourceFieldRefValue(from.resourceFieldRef, container, pod, opts);
  const ns = pod.metadata?.namespace ?? '';
  if (from?.configMapKeyRef) {
    const { name = '', key, optional = false } = from.configMapKeyRef;
    const cm = referenced('configMap', opts.sources?.configMaps, ns, name, optional);
    if (!cm) return undefined;
    const value = cm.data?.[key];
    if (value !== undefined) return value;
    if (optional) return undefined;
    throw refError(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
  }
  if (from?.secretKeyRef) {
    const { name = '', key, optional = false } = from.secretKeyRef;
    const secret = referenced('secret', opts.sources?.secrets, ns, name, optional);
    if (!secret) return undefined;
    const value = secretValue(secret, key);
    if (value !== undefined) return value;
    if (optional) return undefined;
    throw refError(`couldn't find key ${key} in Secret ${ns}/${name}`);
  }
  if (from?.fileKeyRef) throw unsupported('fileKeyRef env sources are not supported');
  return '';
}

/**
 * The container's environment (upstream makeEnvironmentVariables): first the envFrom sources in
 * order (prefixed keys; keys that cannot be variable names are skipped with a warning), then each
 * env var in declaration order, its value expanded against the variables set before it and the
 * service variables, or resolved from its source; then the service variables no other variable
 * names. A repeated name keeps its first position and its last value. Throws: NotFound with
 * upstream's message (`configmap "x" not found`, `couldn't find key k in ConfigMap ns/x`) for a
 * missing non-optional reference; Unsupported for configMap/secret references without an API
 * server (no sources) and for file sources; InvalidInput, naming the variable, for a bad field
 * path, resource or quantity; Transient when status.hostIP is asked for and the node IP is not
 * known yet.
 */
export function buildEnvironment(container: Container, pod: Pod, opts: EnvOptions = {}): EnvironmentResult {
  const env = new Map<string, string>();
  const warnings: string[] = [];
  applyEnvFrom(container, pod, opts.sources, env, warnings);
  for (const v of container.env ?? []) {
    let value: string | undefined;
    try {
      value = envValue(v, env, container, pod, opts);
    } catch (err) {
      if (err instanceof Error && !(err instanceof EnvReferenceError) && !/^couldn't get /.test(err.message)) err.message = `env var ${v.name}: ${err.message}`;
      throw err;
    }
    if (value !== undefined) env.set(v.name, value);
  }
  for (const [name, value] of opts.sources?.serviceEnv ?? []) if (!env.has(name)) env.set(name, value);
  return { env: [...env].map(([name, value]) => ({ name, value })), warnings };
}

/** buildEnvironment without the warnings. */
export function makeEnvironment(container: Container, pod: Pod, opts: EnvOptions = {}): EnvVarValue[] {
  return buildEnvironment(container, pod, opts).env;
}

/** The ConfigMaps and Secrets a container's environment references, by name (pod namespace). */
export function envReferences(container: Container): { configMaps: string[]; secrets: string[] } {
  const configMaps = new Set<string>();
  const secrets = new Set<string>();
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) configMaps.add(from.configMapRef.name ?? '');
    else if (from.secretRef) secrets.add(from.secretRef.name ?? '');
  }
  for (const v of container.env ?? []) {
    if (v.value) continue;
    if (v.valueFrom?.configMapKeyRef) configMaps.add(v.valueFrom.configMapKeyRef.name ?? '');
    else if (v.valueFrom?.secretKeyRef) secrets.add(v.valueFrom.secretKeyRef.name ?? '');
  }
  return { configMaps: [...configMaps], secrets: [...secrets] };
}

/** Upstream makeEnvVariableName: `my-svc` -> `MY_SVC`. */
const envVariableName = (s: string): string => s.replaceAll('-', '_').toUpperCase();

/** Upstream IsServiceIPSet: a cluster IP that is neither empty nor None. */
const hasClusterIP = (svc: Service): boolean => !!svc.spec?.clusterIP && svc.spec.clusterIP !== 'None';

const joinHostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Upstream envvars.FromServices: the variables of services (each with a cluster IP), services in name order. */
export function fromServices(services: Service[]): EnvVarValue[] {
  const out: EnvVarValue[] = [];
  for (const svc of [...services].sort((a, b) => compareText(a.metadata?.name ?? '', b.metadata?.name ?? ''))) {
    const ports = svc.spec?.ports ?? [];
    if (!hasClusterIP(svc) || ports.length === 0) continue;
    const ip = svc.spec?.clusterIP ?? '';
    const prefix = envVariableName(svc.metadata?.name ?? '');
    out.push({ name: `${prefix}_SERVICE_HOST`, value: ip });
    out.push({ name: `${prefix}_SERVICE_PORT`, value: String(ports[0]?.port ?? 0) });
    for (const p of ports) if (p.name) out.push({ name: `${prefix}_SERVICE_PORT_${envVariableName(p.name)}`, value: String(p.port) });
    // Docker link variables; the first port also gets the short name.
    ports.forEach((p, i) => {
      const proto = (p.protocol || 'TCP').toLowerCase();
      const url = `${proto}://${joinHostPort(ip, p.port)}`;
      if (i === 0) out.push({ name: `${prefix}_PORT`, value: url });
      const portPrefix = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.push({ name: portPrefix, value: url });
      out.push({ name: `${portPrefix}_PROTO`, value: proto });
      out.push({ name: `${portPrefix}_PORT`, value: String(p.port) });
      out.push({ name: `${portPrefix}_ADDR`, value: ip });
    });
  }
  return out;
}

/** Services of the `default` namespace whose variables every pod gets (upstream masterServices). */
const MASTER_SERVICES = new Set(['kubernetes']);

/**
 * Upstream getServiceEnvVarMap: the variables of the `kubernetes` service in `default` (always)
 * and, when enableServiceLinks, of every service of the pod's namespace (a service of the pod's
 * namespace wins over a master service of the same name). `services` may hold both namespaces.
 */
export function serviceEnvironment(services: Service[], namespace: string, enableServiceLinks: boolean): Map<string, string> {
  const byName = new Map<string, Service>();
  for (const svc of services) {
    const name = svc.metadata?.name ?? '';
    if (svc.metadata?.namespace === 'default' && MASTER_SERVICES.has(name) && !byName.has(name)) byName.set(name, svc);
  }
  if (enableServiceLinks) {
    for (const svc of services) if (svc.metadata?.namespace === namespace) byName.set(svc.metadata?.name ?? '', svc);
  }
  return new Map(fromServices([...byName.values()]).map((e) => [e.name, e.value]));
}

/**
 * Fetches what a container's environment needs from the API (its ConfigMaps, Secrets, and the
 * services of its namespace and of `default`), all at once. Rejects with the source's error when
 * an object cannot be read (a 404 is not an error: it becomes null); a static pod does without
 * service variables when services cannot be listed (upstream does not wait for services either).
 */
export async function resolveEnvSources(pod: Pod, container: Container, source: PodObjectSource, signal: AbortSignal): Promise<EnvSources> {
  const ns = pod.metadata?.namespace ?? '';
  const refs = envReferences(container);
  const enableServiceLinks = pod.spec?.enableServiceLinks ?? true;
  const namespaces = enableServiceLinks && ns !== 'default' ? ['default', ns] : ['default'];
  const listServices = async (): Promise<Service[]> => {
    try {
      return (await Promise.all(namespaces.map((n) => source.listServices(n, signal)))).flat();
    } catch (err) {
      if (signal.aborted) throw err;
      if (isStaticPod(pod)) return [];
      throw transient(`failed to list services when setting up env vars: ${errorMessage(err)}`, err);
    }
  };
  const [configMaps, secrets, services] = await Promise.all([
    Promise.all(refs.configMaps.map(async (name) => [name, await source.getConfigMap(ns, name, signal)] as const)),
    Promise.all(refs.secrets.map(async (name) => [name, await source.getSecret(ns, name, signal)] as const)),
    listServices(),
  ]);
  return { configMaps: new Map(configMaps), secrets: new Map(secrets), serviceEnv: serviceEnvironment(services, ns, enableServiceLinks) };
}

/** Upstream ExpandContainerCommandAndArgs: $(VAR) in command and args, against the built env. */
export function expandContainerCommandAndArgs(container: Container, env: EnvVarValue[]): { command: string[]; args: string[] } {
  const lookup = lookupIn(new Map(env.map((e) => [e.name, e.value])));
  return {
    command: (container.command ?? []).map((s) => expandVariables(s, lookup)),
    args: (container.args ?? []).map((s) => expandVariables(s, lookup)),
  };
}
