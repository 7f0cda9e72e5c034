// Static pod manifests: parsing a file's text into pods ready for the pod workers, after
// upstream's pkg/kubelet/config/file.go (decoding) and common.go (applyDefaults: identity of a
// static pod). Pure: no I/O, no clock; the file source stamps the first-seen time itself.
import { createHash } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import type { Pod } from '../kube/types.ts';
import { errorMessage } from '../common/errors.ts';
import { applyPodDefaults } from './defaults.ts';
import { isDns1123Subdomain, validatePod } from './validation.ts';

/** Largest manifest file accepted, in bytes (10 MiB): a pod spec is a few KiB at most. */
export const MAX_MANIFEST_BYTES = 10 * 1024 * 1024;
/** Most YAML alias expansions per document: stops "billion laughs" documents, real pods use few. */
export const MAX_ALIAS_COUNT = 100;
/** Deepest nesting accepted in a document: real pods stay under 15 levels. */
export const MAX_DEPTH = 64;

export const CONFIG_SOURCE_ANNOTATION = 'kubernetes.io/config.source';
export const CONFIG_HASH_ANNOTATION = 'kubernetes.io/config.hash';
export const CONFIG_SEEN_ANNOTATION = 'kubernetes.io/config.seen';
export const CONFIG_MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
/** The value of the source annotation for pods from manifest files. */
export const FILE_SOURCE = 'file';

/** Annotations the kubelet owns: dropped from a manifest, never part of the UID. */
const LOCAL_ANNOTATIONS = [CONFIG_SOURCE_ANNOTATION, CONFIG_HASH_ANNOTATION, CONFIG_SEEN_ANNOTATION, CONFIG_MIRROR_ANNOTATION];
/** Metadata the API server owns: meaningless in a manifest, dropped. */
const SERVER_METADATA = ['uid', 'selfLink', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'managedFields'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON with object keys sorted at every level: the same data always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (!isObj(v)) return v;
    const sorted: Obj = {};
    for (const k of Object.keys(v).sort()) sorted[k] = v[k];
    return sorted;
  });
}

/** Why `value` is not plain JSON-like data (strings, finite numbers, booleans, null, arrays, plain objects), or undefined. */
function notPlainData(value: unknown, path: string, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return `${path || 'document'}: nested deeper than ${MAX_DEPTH} levels`;
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : `${path}: numbers must be finite`;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const why = notPlainData(value[i], `${path}[${i}]`, depth + 1);
      if (why !== undefined) return why;
    }
    return undefined;
  }
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return `${path || 'document'}: not plain data (a !!binary or other non-JSON YAML tag?)`;
    for (const [k, v] of Object.entries(value)) {
      if (k === '__proto__') return `${path || 'document'}: the key "__proto__" is not allowed`;
      const why = notPlainData(v, path ? `${path}.${k}` : k, depth + 1);
      if (why !== undefined) return why;
    }
    return undefined;
  }
  return `${path || 'document'}: unsupported value of type ${typeof value}`;
}

/**
 * The UID of a static pod: a hex md5 (32 characters, as upstream) of the defaulted pod's
 * canonical JSON, the node name and the manifest's path. Deterministic, so an unchanged file keeps
 * its pod's UID across restarts of the agent, and any change to the pod gives a new UID. The
 * kubelet's own annotations (config.seen among them) and the UID field are not part of it.
 */
export function staticPodUID(pod: Pod, nodeName: string, source: string): string {
  const copy = structuredClone(pod) as unknown as Obj;
  if (isObj(copy.metadata)) {
    delete copy.metadata.uid;
    if (isObj(copy.metadata.annotations)) for (const k of LOCAL_ANNOTATIONS) delete copy.metadata.annotations[k];
  }
  delete copy.status;
  return createHash('md5').update(canonicalJson(copy)).update(`\nhost:${nodeName}\nfile:${source}`).digest('hex');
}

/** The name of a static pod on a node: `<name>-<node name in lowercase>` (upstream generatePodName). */
export function staticPodName(name: string, nodeName: string): string {
  return `${name}-${nodeName.toLowerCase()}`;
}

/**
 * Gives a defaulted, valid pod its static pod identity (upstream applyDefaults for the file
 * source): spec.nodeName = nodeName, UID from staticPodUID, name `<name>-<node>`, the config.hash
 * and config.source annotations, a toleration of every NoExecute taint, status phase Pending.
 * Returns a new pod; the config.seen annotation is set later (withConfigSeen).
 */
export function makeStaticPod(pod: Pod, nodeName: string, source: string): Pod {
  const p = structuredClone(pod);
  const meta = (p.metadata ??= {});
  for (const k of SERVER_METADATA) delete (meta as Obj)[k];
  const annotations = { ...meta.annotations };
  for (const k of LOCAL_ANNOTATIONS) delete annotations[k];
  meta.annotations = annotations;
  delete p.status;
  const spec = p.spec ?? { containers: [] };
  p.spec = spec;
  spec.nodeName = nodeName;
  const uid = staticPodUID(p, nodeName, source);
  meta.uid = uid;
  meta.name = staticPodName(meta.name ?? '', nodeName);
  annotations[CONFIG_HASH_ANNOTATION] = uid;
  annotations[CONFIG_SOURCE_ANNOTATION] = FILE_SOURCE;
  // Static pods are not evicted by node problems (upstream AddOrUpdateTolerationInPod).
  const tolerations = spec.tolerations ?? [];
  const tolerated = tolerations.some((t) => t.operator === 'Exists' && t.effect === 'NoExecute' && !t.key && !t.value);
  if (!tolerated) spec.tolerations = [...tolerations, { operator: 'Exists', effect: 'NoExecute' }];
  p.status = { phase: 'Pending' };
  return p;
}

/** A copy of `pod` with the config.seen annotation: when the kubelet first saw this UID (RFC 3339). */
export function withConfigSeen(pod: Pod, seen: string): Pod {
  return { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [CONFIG_SEEN_ANNOTATION]: seen } } };
}

export interface ParsedManifest {
  /** The valid pods, with defaults and static pod identity, in document order. */
  pods: Pod[];
  /** One message per problem, naming the file, the document and the field. */
  errors: string[];
}

/**
 * Parses one manifest file: YAML or JSON, several documents separated by `---` (empty ones are
 * skipped), each a v1 Pod or a v1 List/PodList of pods. Each pod is validated, defaulted and given
 * its static pod identity on `nodeName`; `fileName` (the path as the source knows it) names errors
 * and is part of the UID. A document with problems contributes errors and no pod; the other
 * documents still give pods (the caller decides whether a file with errors is used at all).
 * A file without any pod is an error. Never throws.
 */
export function parseManifestFile(fileName: string, text: string, nodeName: string): ParsedManifest {
  const pods: Pod[] = [];
  const errors: string[] = [];
  if (Buffer.byteLength(text, 'utf8') > MAX_MANIFEST_BYTES) {
    errors.push(`${fileName}: file is larger than ${MAX_MANIFEST_BYTES} bytes`);
    return { pods, errors };
  }
  let docs;
  try {
    docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true, strict: true });
  } catch (err) {
    errors.push(`${fileName}: cannot parse: ${errorMessage(err)}`);
    return { pods, errors };
  }
  const seenNames = new Map<string, string>();
  docs.forEach((doc, d) => {
    const where = `${fileName}: document ${d + 1}`;
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) {
      for (const p of problems) errors.push(`${where}: YAML: ${firstLine(p.message)}`);
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (err) {
      errors.push(`${where}: YAML: ${firstLine(errorMessage(err))}`);
      return;
    }
    if (value === null || value === undefined) return; // an empty document
    const why = notPlainData(value, '', 0);
    if (why !== undefined) {
      errors.push(`${where}: ${why}`);
      return;
    }
    if (!isObj(value)) {
      errors.push(`${where}: must be an object (a Pod), got ${Array.isArray(value) ? 'a list' : typeof value}`);
      return;
    }
    let items: [Obj, string][] = [[value, where]];
    if (value.kind === 'List' || value.kind === 'PodList') {
      if (value.apiVersion !== 'v1') {
        errors.push(`${where}: apiVersion: unsupported value ${JSON.stringify(value.apiVersion)}: must be "v1"`);
        return;
      }
      if (!Array.isArray(value.items)) {
        errors.push(`${where}: items: must be a list of pods`);
        return;
      }
      items = [];
      value.items.forEach((item: unknown, i) => {
        if (!isObj(item)) errors.push(`${where} item ${i + 1}: must be an object (a Pod)`);
        else items.push([{ apiVersion: 'v1', kind: 'Pod', ...item }, `${where} item ${i + 1}`]);
      });
    }
    for (const [raw, at] of items) {
      const pod = decodePod(raw, at, nodeName, fileName, errors);
      if (pod === undefined) continue;
      const key = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
      const first = seenNames.get(key);
      if (first !== undefined) {
        errors.push(`${at}: metadata.name: pod ${key} is already defined by ${first.slice(fileName.length + 2)}`);
        continue;
      }
      seenNames.set(key, at);
      pods.push(pod);
    }
  });
  // Upstream refuses a file without a pod too. It matters here: an editor that truncates a file
  // before writing it must not look like "this file now wants no pods".
  if (pods.length === 0 && errors.length === 0) errors.push(`${fileName}: no pod in the file (empty, or only empty documents)`);
  return { pods, errors };
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

/** One pod object → a static pod, or undefined with its problems pushed to `errors`. */
function decodePod(raw: Obj, at: string, nodeName: string, source: string, errors: string[]): Pod | undefined {
  const meta = isObj(raw.metadata) ? raw.metadata : undefined;
  const label = meta && typeof meta.name === 'string' ? ` (pod ${JSON.stringify(meta.name)})` : '';
  const fail = (field: string, message: string): void => {
    errors.push(`${at}${label}: ${field ? `${field}: ` : ''}${message}`);
  };
  if (raw.apiVersion !== 'v1' || raw.kind !== 'Pod') {
    fail('', `must be apiVersion "v1", kind "Pod" (got apiVersion ${JSON.stringify(raw.apiVersion)}, kind ${JSON.stringify(raw.kind)})`);
    return undefined;
  }
  const spec = isObj(raw.spec) ? raw.spec : undefined;
  if (spec && typeof spec.nodeName === 'string' && spec.nodeName !== '' && spec.nodeName.toLowerCase() !== nodeName.toLowerCase()) {
    fail('spec.nodeName', `the manifest is for node ${JSON.stringify(spec.nodeName)}, this node is ${JSON.stringify(nodeName)}`);
    return undefined;
  }
  const defaulted = applyPodDefaults(raw as Pod);
  const problems = validatePod(defaulted);
  const name = defaulted.metadata?.name;
  if (typeof name === 'string' && problems.every((p) => p.field !== 'metadata.name') && !isDns1123Subdomain(staticPodName(name, nodeName))) {
    problems.push({ field: 'metadata.name', message: `with the node name, ${JSON.stringify(staticPodName(name, nodeName))} is not a valid DNS-1123 subdomain (too long?)` });
  }
  if (problems.length > 0) {
    for (const p of problems) fail(p.field, p.message);
    return undefined;
  }
  return makeStaticPod(defaulted, nodeName, source);
}
