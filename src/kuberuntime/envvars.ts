// A container's environment, as upstream kubelet builds it (kubelet_pods.go
// makeEnvironmentVariables), and the $(VAR) expansion of env values, command and args
// (third_party/forked/golang/expansion). Pure functions: the pod's IPs, the node's IPs and its
// allocatable resources are inputs. Without an API server, configMap/secret sources are
// Unsupported (upstream fails the same way without a kubeClient: CreateContainerConfigError).
import type { Container, EnvVar, Pod } from '../kube/types.ts';
import { invalidInput, transient, unsupported } from '../common/errors.ts';
import { listNanos, nanosToMilli, nanosToValue, parseQuantityNanos, type ResourceList } from '../cm/quantity.ts';
import { effectiveRequests } from '../cm/qos.ts';

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
  const meta = pod.metadata ?? {};
  const subscripted = splitSubscript(fieldPath);
  if (subscripted) {
    const [path, key] = subscripted;
    if (path === 'metadata.labels') return meta.labels?.[key] ?? '';
    if (path === 'metadata.annotations') return meta.annotations?.[key] ?? '';
    throw invalidInput(`field label does not support subscript: ${fieldPath}`);
  }
  const path = fieldPath === 'spec.host' ? 'spec.nodeName' : fieldPath;
  if (!FIELD_LABELS.has(path)) throw invalidInput(`field label not supported: ${fieldPath}`);
  switch (path) {
    case 'metadata.annotations': return formatMap(meta.annotations);
    case 'metadata.labels': return formatMap(meta.labels);
    case 'metadata.name': return meta.name ?? '';
    case 'metadata.namespace': return meta.namespace ?? '';
    case 'metadata.uid': return meta.uid ?? '';
    case 'spec.nodeName': return pod.spec?.nodeName ?? opts.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP': return hostIPs(opts)[0] ?? '';
    case 'status.hostIPs': return hostIPs(opts).join(',');
    case 'status.podIP': return primary(opts.podIPs, opts.podIP);
    case 'status.podIPs': return allIPs(opts.podIPs, opts.podIP).join(',');
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

type ResourceFieldRef = NonNullable<NonNullable<EnvVar['valueFrom']>['resourceFieldRef']>;

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

/** The value of one env var: its value expanded against `env`, else its source. */
function envValue(v: EnvVar, env: ReadonlyMap<string, string>, container: Container, pod: Pod, opts: EnvOptions): string {
  if (v.value) return expandVariables(v.value, lookupIn(env));
  const from = v.valueFrom;
  if (from?.fieldRef) return fieldRefValue(from.fieldRef.fieldPath, from.fieldRef.apiVersion ?? 'v1', pod, opts);
  if (from?.resourceFieldRef) return resourceFieldRefValue(from.resourceFieldRef, container, pod, opts);
  const ns = pod.metadata?.namespace ?? '';
  if (from?.configMapKeyRef) throw unsupported(`couldn't get configMap ${ns}/${from.configMapKeyRef.name ?? ''}: no API server`);
  if (from?.secretKeyRef) throw unsupported(`couldn't get secret ${ns}/${from.secretKeyRef.name ?? ''}: no API server`);
  if (from?.fileKeyRef) throw unsupported('fileKeyRef env sources are not supported');
  return '';
}

/**
 * The container's environment (upstream makeEnvironmentVariables, without service links): each
 * env var in declaration order, its value expanded against the variables declared before it, or
 * resolved from its fieldRef/resourceFieldRef. A repeated name keeps its first position and its
 * last value. Throws, naming the variable: Unsupported for envFrom and configMap/secret/file
 * sources; InvalidInput for a bad field path, resource or quantity; Transient when status.hostIP
 * is asked for and the node IP is not known yet.
 */
export function makeEnvironment(container: Container, pod: Pod, opts: EnvOptions = {}): EnvVarValue[] {
  const from = container.envFrom?.[0];
  if (from) {
    const kind = from.configMapRef ? 'configMap' : 'secret';
    throw unsupported(`container ${container.name}: envFrom ${kind} ${from.configMapRef?.name ?? from.secretRef?.name ?? ''}: no API server`);
  }
  const env = new Map<string, string>();
  for (const v of container.env ?? []) {
    try {
      env.set(v.name, envValue(v, env, container, pod, opts));
    } catch (err) {
      if (err instanceof Error) err.message = `env var ${v.name}: ${err.message}`;
      throw err;
    }
  }
  return [...env].map(([name, value]) => ({ name, value }));
}

/** Upstream ExpandContainerCommandAndArgs: $(VAR) in command and args, against the built env. */
export function expandContainerCommandAndArgs(container: Container, env: EnvVarValue[]): { command: string[]; args: string[] } {
  const lookup = lookupIn(new Map(env.map((e) => [e.name, e.value])));
  return {
    command: (container.command ?? []).map((s) => expandVariables(s, lookup)),
    args: (container.args ?? []).map((s) => expandVariables(s, lookup)),
  };
}
