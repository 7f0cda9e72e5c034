// Defaulting, as the API server does it (SetDefaults_Pod & co. in pkg/apis/core/v1/defaults.go)
// before a kubelet ever sees a pod: static pods never go through the API server, so the kubelet
// applies the same defaults itself. Pure. Defensive: a field of the wrong type is left as it is
// for validation to report, never a crash.
import type { Pod } from '../kube/types.ts';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const objects = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
/** Go's zero values mean "unset": undefined, null and the empty string get the default. */
const unsetString = (v: unknown): boolean => v === undefined || v === null || v === '';
const unsetInt = (v: unknown): boolean => v === undefined || v === null || v === 0;

function defaultString(o: Obj, key: string, value: string): void {
  if (unsetString(o[key])) o[key] = value;
}

/**
 * The pull policy the API server gives a container without one: Always when the image's tag is
 * `latest`, or when it has neither a tag nor a digest; IfNotPresent otherwise. A registry
 * `host:port` is not a tag: `127.0.0.1:5000/busybox` has no tag (→ Always).
 */
export function defaultImagePullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const at = image.indexOf('@');
  const hasDigest = at >= 0;
  const name = hasDigest ? image.slice(0, at) : image;
  const lastSlash = name.lastIndexOf('/');
  const lastColon = name.lastIndexOf(':');
  const tag = lastColon > lastSlash ? name.slice(lastColon + 1) : '';
  if (tag === 'latest') return 'Always';
  if (tag === '' && !hasDigest) return 'Always';
  return 'IfNotPresent';
}

function defaultHttpGet(handler: unknown): void {
  if (!isObj(handler) || !isObj(handler.httpGet)) return;
  defaultString(handler.httpGet, 'path', '/');
  defaultString(handler.httpGet, 'scheme', 'HTTP');
}

function defaultProbe(probe: unknown): void {
  if (!isObj(probe)) return;
  if (unsetInt(probe.timeoutSeconds)) probe.timeoutSeconds = 1;
  if (unsetInt(probe.periodSeconds)) probe.periodSeconds = 10;
  if (unsetInt(probe.successThreshold)) probe.successThreshold = 1;
  if (unsetInt(probe.failureThreshold)) probe.failureThreshold = 3;
  defaultHttpGet(probe);
}

/** Quantities written as YAML numbers (`cpu: 1`) become strings, as in the typed API. */
function normaliseQuantities(list: unknown): void {
  if (!isObj(list)) return;
  for (const [k, v] of Object.entries(list)) if (typeof v === 'number') list[k] = String(v);
}

function defaultContainer(c: Obj, hostNetwork: boolean): void {
  if (typeof c.image === 'string' && c.image !== '' && unsetString(c.imagePullPolicy)) {
    c.imagePullPolicy = defaultImagePullPolicy(c.image);
  }
  defaultString(c, 'terminationMessagePath', '/dev/termination-log');
  defaultString(c, 'terminationMessagePolicy', 'File');
  for (const port of objects(c.ports)) {
    defaultString(port, 'protocol', 'TCP');
    // With the host's network the container port is the host port (SetDefaults_PodSpec).
    if (hostNetwork && unsetInt(port.hostPort) && typeof port.containerPort === 'number') port.hostPort = port.containerPort;
  }
  for (const env of objects(c.env)) {
    if (isObj(env.valueFrom) && isObj(env.valueFrom.fieldRef)) defaultString(env.valueFrom.fieldRef, 'apiVersion', 'v1');
  }
  if (isObj(c.resources)) {
    const { limits, requests } = c.resources;
    normaliseQuantities(limits);
    normaliseQuantities(requests);
    // A limit without a request means request = limit, per resource (SetDefaults_ResourceList).
    if (isObj(limits) && Object.keys(limits).length > 0 && (requests === undefined || requests === null || isObj(requests))) {
      const req: Obj = isObj(requests) ? requests : {};
      for (const [k, v] of Object.entries(limits)) if (req[k] === undefined) req[k] = v;
      c.resources.requests = req;
    }
  }
  defaultProbe(c.livenessProbe);
  defaultProbe(c.readinessProbe);
  defaultProbe(c.startupProbe);
  if (isObj(c.lifecycle)) {
    defaultHttpGet(c.lifecycle.postStart);
    defaultHttpGet(c.lifecycle.preStop);
  }
}

const VOLUME_SOURCES_DEFAULT_MODE = ['configMap', 'secret', 'downwardAPI', 'projected'];

function defaultVolume(v: Obj): void {
  // A volume without a source is an emptyDir (SetDefaults_Volume).
  if (Object.keys(v).every((k) => k === 'name')) v.emptyDir = {};
  if (isObj(v.hostPath) && (v.hostPath.type === undefined || v.hostPath.type === null)) v.hostPath.type = '';
  for (const src of VOLUME_SOURCES_DEFAULT_MODE) {
    const s = v[src];
    if (isObj(s) && (s.defaultMode === undefined || s.defaultMode === null)) s.defaultMode = 0o644;
  }
}

/**
 * Returns a copy of `pod` with the API server's defaults applied: namespace `default`;
 * restartPolicy Always; terminationGracePeriodSeconds 30; dnsPolicy ClusterFirst; schedulerName
 * default-scheduler; securityContext {}; enableServiceLinks true; per container imagePullPolicy,
 * terminationMessagePath/Policy, port protocol TCP (hostPort = containerPort on the host network),
 * fieldRef apiVersion v1, requests from limits, probe timings and httpGet path/scheme; volumes
 * without a source become emptyDir. Never mutates `pod`; idempotent.
 */
export function applyPodDefaults(pod: Pod): Pod {
  const p = structuredClone(pod) as unknown as Obj;
  if (p.metadata === undefined || p.metadata === null) p.metadata = {};
  if (isObj(p.metadata)) defaultString(p.metadata, 'namespace', 'default');
  if (isObj(p.spec)) {
    const spec = p.spec;
    defaultString(spec, 'restartPolicy', 'Always');
    if (spec.terminationGracePeriodSeconds === undefined || spec.terminationGracePeriodSeconds === null) {
      spec.terminationGracePeriodSeconds = 30;
    }
    defaultString(spec, 'dnsPolicy', 'ClusterFirst');
    defaultString(spec, 'schedulerName', 'default-scheduler');
    if (spec.securityContext === undefined || spec.securityContext === null) spec.securityContext = {};
    if (spec.enableServiceLinks === undefined || spec.enableServiceLinks === null) spec.enableServiceLinks = true;
    const hostNetwork = spec.hostNetwork === true;
    for (const c of objects(spec.initContainers)) defaultContainer(c, hostNetwork);
    for (const c of objects(spec.containers)) defaultContainer(c, hostNetwork);
    for (const v of objects(spec.volumes)) defaultVolume(v);
  }
  return p as unknown as Pod;
}
