// The files of configMap, secret, downwardAPI and projected volumes, from data fetched
// beforehand (upstream configmap.MakePayload, secret.MakePayload, downwardapi.CollectData and
// projected collectData). Pure functions: the API objects and tokens are inputs; errors carry
// upstream's messages. Paths are validated later, by the atomic writer.
import type {
  V1DownwardAPIVolumeFile as DownwardAPIVolumeFile,
  V1KeyToPath as KeyToPath,
  V1ProjectedVolumeSource as ProjectedVolumeSource,
} from '@kubernetes/client-node';
import type { Pod } from '../kube/types.ts';
import type { ConfigMap, Secret } from '../kube/object-cache.ts';
import { errorMessage, invalidInput, KubeletError } from '../common/errors.ts';
import type { ResourceList } from '../cm/quantity.ts';
import { containerResourceValue, podMetadataFieldValue } from '../kuberuntime/envvars.ts';
import type { Payload } from './atomic-writer.ts';

/** The mode of files a volume does not give one for (API default 0644). */
export const DEFAULT_MODE = 0o644;

/** A checked file mode: an integer 0..0o777 (API validation, repeated for manifests from files). */
function fileMode(mode: number | undefined, fallback: number, what: string): number {
  const m = mode ?? fallback;
  if (!Number.isInteger(m) || m < 0 || m > 0o777) throw invalidInput(`${what}: mode ${m} must be a number between 0 and 0777 (octal), inclusive`);
  return m;
}

/**
 * Upstream configmap.MakePayload: every key of data and binaryData (no items), or the listed
 * items at their paths. A missing listed key fails unless `optional`.
 */
export function configMapPayload(items: KeyToPath[] | undefined, configMap: ConfigMap, defaultMode: number, optional: boolean): Payload {
  const payload: Payload = new Map();
  const mode = fileMode(defaultMode, DEFAULT_MODE, 'defaultMode');
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(configMap.data ?? {})) payload.set(k, { data: Buffer.from(v, 'utf8'), mode });
    for (const [k, v] of Object.entries(configMap.binaryData ?? {})) payload.set(k, { data: Buffer.from(v, 'base64'), mode });
    return payload;
  }
  for (const item of items) {
    const text = configMap.data?.[item.key];
    const binary = configMap.binaryData?.[item.key];
    let data: Buffer;
    if (text !== undefined) data = Buffer.from(text, 'utf8');
    else if (binary !== undefined) data = Buffer.from(binary, 'base64');
    else if (optional) continue;
    else throw invalidInput(`configmap references non-existent config key: ${item.key}`);
    payload.set(item.path, { data, mode: fileMode(item.mode, mode, item.path) });
  }
  return payload;
}

/** Upstream secret.MakePayload: every key (no items), or the listed items; data is base64 in the API object. */
export function secretPayload(items: KeyToPath[] | undefined, secret: Secret, defaultMode: number, optional: boolean): Payload {
  const payload: Payload = new Map();
  const mode = fileMode(defaultMode, DEFAULT_MODE, 'defaultMode');
  if (!items || items.length === 0) {
    for (const [k, v] of Object.entries(secret.data ?? {})) payload.set(k, { data: Buffer.from(v, 'base64'), mode });
    return payload;
  }
  for (const item of items) {
    const b64 = secret.data?.[item.key];
    if (b64 === undefined) {
      if (optional) continue;
      throw invalidInput(`references non-existent secret key: ${item.key}`);
    }
    payload.set(item.path, { data: Buffer.from(b64, 'base64'), mode: fileMode(item.mode, mode, item.path) });
  }
  return payload;
}

/** Several errors as one, as upstream's utilerrors.NewAggregate prints them. */
export function aggregate(errors: unknown[]): KubeletError | null {
  if (errors.length === 0) return null;
  if (errors.length === 1 && errors[0] instanceof KubeletError) return errors[0];
  const messages = errors.map(errorMessage);
  const first = errors[0];
  const code = first instanceof KubeletError && errors.every((e) => e instanceof KubeletError && e.code === first.code) ? first.code : 'Transient';
  return new KubeletError(code, messages.length === 1 ? (messages[0] ?? '') : `[${messages.join(', ')}]`, { cause: first });
}

/**
 * Upstream downwardapi.CollectData: one file per item, from a metadata field or a container
 * resource (missing limits from `allocatable`). Items that fail are reported together.
 */
export function downwardAPIPayload(items: DownwardAPIVolumeFile[] | undefined, pod: Pod, defaultMode: number, allocatable: ResourceList | undefined): Payload {
  const payload: Payload = new Map();
  const errors: unknown[] = [];
  for (const item of items ?? []) {
    try {
      const mode = fileMode(item.mode, fileMode(defaultMode, DEFAULT_MODE, 'defaultMode'), item.path);
      let value = '';
      if (item.fieldRef) value = podMetadataFieldValue(item.fieldRef.fieldPath, pod);
      else if (item.resourceFieldRef) value = containerResourceValue(item.resourceFieldRef, pod, allocatable);
      payload.set(item.path, { data: Buffer.from(value, 'utf8'), mode });
    } catch (err) {
      errors.push(err);
    }
  }
  const err = aggregate(errors);
  if (err) throw err;
  return payload;
}

/**
 * Upstream FsUserFrom: the user every container of the pod runs as, when they all agree
 * (container runAsUser, else the pod's); undefined otherwise. Projected tokens are given to it.
 */
export function fsUserFrom(pod: Pod): number | undefined {
  const podUser = pod.spec?.securityContext?.runAsUser;
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  let user: number | undefined;
  for (const c of all) {
    const u = c.securityContext?.runAsUser ?? podUser;
    if (u === undefined) return undefined;
    if (user !== undefined && user !== u) return undefined;
    user = u;
  }
  return user;
}

/** What a projected volume is made of, fetched beforehand. */
export interface ProjectionInputs {
  /** ConfigMaps/Secrets by name; null: does not exist; absent: could not be read (see errors). */
  configMaps: ReadonlyMap<string, ConfigMap | null>;
  secrets: ReadonlyMap<string, Secret | null>;
  /** Service-account tokens by index of their source in `sources`. */
  tokens: ReadonlyMap<number, string>;
  /** Fetch errors by source index (they are reported with the other errors). */
  fetchErrors: ReadonlyMap<number, unknown>;
  allocatable?: ResourceList;
  /** Pod-level fsUser/fsGroup: tokens then get mode 0600 (fsGroup makes it 0640 later). */
  fsUser?: number;
  fsGroup?: number;
}

/**
 * Upstream projected collectData: the files of every source merged (later sources win on the
 * same path). A missing ConfigMap/Secret is an empty one when optional; errors of all sources
 * are reported together.
 */
export function projectedPayload(source: ProjectedVolumeSource, pod: Pod, inputs: ProjectionInputs): Payload {
  const payload: Payload = new Map();
  const errors: unknown[] = [];
  const defaultMode = source.defaultMode ?? DEFAULT_MODE;
  (source.sources ?? []).forEach((s, i) => {
    const fetchError = inputs.fetchErrors.get(i);
    if (fetchError !== undefined) {
      errors.push(fetchError);
      return;
    }
    try {
      let files: Payload = new Map();
      if (s.secret) {
        const optional = s.secret.optional ?? false;
        const name = s.secret.name ?? '';
        const secret = inputs.secrets.get(name);
        if (secret === undefined) throw new KubeletError('Internal', `secret ${name} was not fetched`);
        if (secret === null && !optional) throw invalidInput(`secret "${name}" not found`);
        files = secretPayload(s.secret.items, secret ?? {}, defaultMode, optional);
      } else if (s.configMap) {
        const optional = s.configMap.optional ?? false;
        const name = s.configMap.name ?? '';
        const cm = inputs.configMaps.get(name);
        if (cm === undefined) throw new KubeletError('Internal', `configmap ${name} was not fetched`);
        if (cm === null && !optional) throw invalidInput(`configmap "${name}" not found`);
        files = configMapPayload(s.configMap.items, cm ?? {}, defaultMode, optional);
      } else if (s.downwardAPI) {
        files = downwardAPIPayload(s.downwardAPI.items, pod, defaultMode, inputs.allocatable);
      } else if (s.serviceAccountToken) {
        const token = inputs.tokens.get(i);
        if (token === undefined) throw new KubeletError('Internal', `token of source ${i} was not fetched`);
        const mode = inputs.fsUser !== undefined || inputs.fsGroup !== undefined ? 0o600 : fileMode(defaultMode, DEFAULT_MODE, 'defaultMode');
        files.set(s.serviceAccountToken.path, { data: Buffer.from(token, 'utf8'), mode, ...(inputs.fsUser !== undefined ? { fsUser: inputs.fsUser } : {}) });
      } else {
        const kind = Object.keys(s).find((k) => (s as Record<string, unknown>)[k] !== undefined) ?? 'unknown';
        throw new KubeletError('Unsupported', `projected volume source ${kind} is not supported by tskubelet`);
      }
      for (const [p, f] of files) payload.set(p, f);
    } catch (err) {
      errors.push(err);
    }
  });
  const err = aggregate(errors);
  if (err) throw err;
  return payload;
}
