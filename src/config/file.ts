// Reads a KubeletConfiguration (kubelet.config.k8s.io/v1beta1) YAML document into typed values.
// Pure: the caller reads the file. Types are checked here; ranges and cross-field rules are
// checked once on the merged configuration (validate.ts).

import { posix } from 'node:path';
import { parseDocument } from 'yaml';
import { invalidInput } from '../common/errors.ts';
import { SETTINGS, SETTING_KEYS, expectOf, shown } from './schema.ts';
import type { Setting } from './schema.ts';
import type { ConfigValues, SettingKey, Taint } from './types.ts';
import { parseGoDuration, toTaintEffect } from './values.ts';

export const KUBELET_CONFIG_API_VERSION = 'kubelet.config.k8s.io/v1beta1';
export const KUBELET_CONFIG_KIND = 'KubeletConfiguration';

/** What a config file sets: implemented settings plus accepted-but-unimplemented fields. */
export interface FileConfig {
  readonly values: ConfigValues;
  readonly passThrough: Readonly<Record<string, unknown>>;
}

/** Coarse types of upstream fields tskubelet keeps but does not implement. */
type PassKind = 'bool' | 'int' | 'number' | 'string' | 'duration' | 'map' | 'list';

// Upstream v1beta1 KubeletConfiguration fields not implemented by tskubelet (the implemented
// ones are in SETTINGS; `logging` is handled apart). Accepted so that real kubelet config files
// load; type-checked coarsely; kept for /configz.
const UPSTREAM_PASS_THROUGH: Readonly<Record<string, PassKind>> = {
  staticPodURL: 'string', staticPodURLHeader: 'map', httpCheckFrequency: 'duration',
  tlsCipherSuites: 'list', rotateCertificates: 'bool',
  registryPullQPS: 'int', registryBurst: 'int', imagePullCredentialsVerificationPolicy: 'string',
  preloadedImagesVerificationAllowlist: 'list', eventRecordQPS: 'int', eventBurst: 'int',
  enableContentionProfiling: 'bool', oomScoreAdj: 'int',
  nodeStatusUpdateFrequency: 'duration',
  nodeStatusReportFrequency: 'duration', nodeLeaseDurationSeconds: 'int',
  volumeStatsAggPeriod: 'duration', kubeletCgroups: 'string', systemCgroups: 'string',
  cpuManagerPolicy: 'string', singleProcessOOMKill: 'bool', cpuManagerPolicyOptions: 'map',
  cpuManagerReconcilePeriod: 'duration', memoryManagerPolicy: 'string', topologyManagerPolicy: 'string',
  topologyManagerScope: 'string', topologyManagerPolicyOptions: 'map',
  hairpinMode: 'string', podCIDR: 'string', runOnce: 'bool', cpuCFSQuota: 'bool',
  cpuCFSQuotaPeriod: 'duration', nodeStatusMaxImages: 'int', maxOpenFiles: 'int', contentType: 'string',
  kubeAPIQPS: 'int', kubeAPIBurst: 'int', maxParallelImagePulls: 'int',
  podsPerCore: 'int', enableControllerAttachDetach: 'bool', protectKernelDefaults: 'bool',
  makeIPTablesUtilChains: 'bool', iptablesMasqueradeBit: 'int', iptablesDropBit: 'int',
  failSwapOn: 'bool', memorySwap: 'map', containerLogMaxWorkers: 'int', containerLogMonitorInterval: 'duration',
  configMapAndSecretChangeDetectionStrategy: 'string',
  reservedSystemCPUs: 'string', showHiddenMetricsForVersion: 'string', systemReservedCgroup: 'string',
  kubeReservedCgroup: 'string',
  volumePluginDir: 'string', providerID: 'string', kernelMemcgNotification: 'bool',
  enableSystemLogHandler: 'bool', enableSystemLogQuery: 'bool', shutdownGracePeriod: 'duration',
  shutdownGracePeriodCriticalPods: 'duration', shutdownGracePeriodByPodPriority: 'list',
  crashLoopBackOff: 'map', reservedMemory: 'list', enableProfilingHandler: 'bool',
  enableDebugFlagsHandler: 'bool', seccompDefault: 'bool', memoryThrottlingFactor: 'number',
  localStorageCapacityIsolation: 'bool', tracing: 'map', failCgroupV1: 'bool', userNamespaces: 'map',
};

// Pass-through fields that are paths relative to the file's directory (upstream PathRefs).
const PASS_THROUGH_PATHS = ['volumePluginDir'];

// Fields of upstream LoggingConfiguration (k8s.io/component-base/logs/api/v1).
const LOGGING_FIELDS = new Set(['format', 'flushFrequency', 'verbosity', 'vmodule', 'options']);

// YAML field (dotted for nested ones: 'authorization.mode') -> setting key. `logging` is read
// apart (its other fields pass through); authentication and authorization are wholly settings.
const FIELD_TO_KEY: ReadonlyMap<string, SettingKey> = new Map(
  SETTING_KEYS.flatMap((k) => {
    const field = SETTINGS[k].field;
    return field !== undefined && !field.startsWith('logging.') ? [[field, k] as const] : [];
  }),
);
/** Prefixes of nested settings ('authentication', 'authentication.webhook', ...). */
const NESTED_PREFIXES: ReadonlySet<string> = new Set(
  [...FIELD_TO_KEY.keys()].flatMap((f) => f.split('.').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('.'))),
);

const fail = (msg: string): Error => invalidInput(`invalid KubeletConfiguration: ${msg}`);
const mismatch = (field: string, expect: string, got: unknown): Error =>
  fail(`field "${field}": must be ${expect}, got ${shown(got)}`);

/**
 * Parses KubeletConfiguration YAML text. `filePath`, when given, anchors relative paths
 * (staticPodPath, resolvConf, podLogsDir, tlsCertFile, ...) to the file's directory, as upstream.
 * Throws invalidInput naming the field on malformed YAML, wrong apiVersion/kind, an unknown
 * field or a value of the wrong type. Null values count as unset.
 */
export function parseKubeletConfigFile(text: string, filePath?: string): FileConfig {
  const doc = toObject(text);
  checkHeader(doc);
  const values: Record<string, unknown> = {};
  const passThrough: Record<string, unknown> = {};
  for (const [field, raw] of Object.entries(doc)) {
    if (field === 'apiVersion' || field === 'kind') continue;
    const key = FIELD_TO_KEY.get(field);
    const nested = NESTED_PREFIXES.has(field);
    if (key === undefined && !nested && field !== 'logging' && !Object.hasOwn(UPSTREAM_PASS_THROUGH, field)) throw fail(`unknown field "${field}"`);
    if (raw === null) continue;
    if (key !== undefined) values[key] = fromYaml(SETTINGS[key], field, raw);
    else if (nested) readNested(field, raw, values);
    else if (field === 'logging') Object.assign(values, readLogging(raw, passThrough));
    else passThrough[field] = checkPassThrough(field, raw);
  }
  if (filePath !== undefined) resolveRelativePaths(values, passThrough, posix.dirname(filePath));
  // The table-driven reader keeps each value's type in step with its setting's kind.
  return { values: values as ConfigValues, passThrough };
}

function toObject(text: string): Record<string, unknown> {
  // logLevel 'silent' would also drop the "multiple documents" error; parseDocument never prints.
  const doc = parseDocument(text, { strict: true, uniqueKeys: true, stringKeys: true, logLevel: 'error' });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem !== undefined) throw fail(`malformed YAML: ${(problem.message.split('\n')[0] ?? '').replace(/:$/, '')}`);
  const obj: unknown = doc.toJS({ maxAliasCount: 100 });
  if (!isMapping(obj)) throw fail(`the document must be a mapping, got ${shown(obj ?? null)}`);
  return obj;
}

function checkHeader(doc: Record<string, unknown>): void {
  if (doc.apiVersion !== KUBELET_CONFIG_API_VERSION) {
    throw mismatch('apiVersion', `"${KUBELET_CONFIG_API_VERSION}"`, doc.apiVersion);
  }
  if (doc.kind !== KUBELET_CONFIG_KIND) throw mismatch('kind', `"${KUBELET_CONFIG_KIND}"`, doc.kind);
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Converts one YAML value to the setting's kind, or throws naming the field. */
function fromYaml(setting: Setting, field: string, raw: unknown): unknown {
  const value = convert(setting, raw);
  if (value === undefined) throw mismatch(field, expectOf(setting), raw);
  return value;
}

function convert(setting: Setting, raw: unknown): unknown {
  switch (setting.kind) {
    case 'string':
      return typeof raw === 'string' ? raw : undefined;
    case 'bool':
      return typeof raw === 'boolean' ? raw : undefined;
    case 'int':
      return Number.isSafeInteger(raw) ? raw : undefined;
    case 'duration':
      return typeof raw === 'string' ? parseGoDuration(raw) : undefined;
    case 'enum':
      return setting.values?.find((v) => v === raw);
    case 'stringList':
      return Array.isArray(raw) && raw.every((s) => typeof s === 'string') ? [...raw] : undefined;
    case 'taints':
      return toTaints(raw);
    case 'labels':
      return undefined; // flag only: no config field
    case 'map':
    case 'thresholdMap':
      return isMapping(raw) && Object.values(raw).every((v) => typeof v === 'string') ? { ...raw } : undefined;
    case 'boolMap':
      return isMapping(raw) && Object.values(raw).every((v) => typeof v === 'boolean') ? { ...raw } : undefined;
  }
}

const TAINT_FIELDS = new Set(['key', 'value', 'effect', 'timeAdded']);

function toTaints(raw: unknown): Taint[] | undefined {
  if (!Array.isArray(raw)) return undefined;
  const out: Taint[] = [];
  for (const t of raw) {
    if (!isMapping(t) || !Object.keys(t).every((k) => TAINT_FIELDS.has(k))) return undefined;
    const effect = toTaintEffect(t.effect);
    const value = t.value ?? '';
    if (typeof t.key !== 'string' || typeof value !== 'string' || effect === undefined) return undefined;
    out.push({ key: t.key, value, effect });
  }
  return out;
}

/** A mapping of nested settings (authentication, authorization and their sub-mappings). */
function readNested(prefix: string, raw: unknown, values: Record<string, unknown>): void {
  if (!isMapping(raw)) throw mismatch(prefix, 'a mapping', raw);
  for (const [name, value] of Object.entries(raw)) {
    const field = `${prefix}.${name}`;
    const key = FIELD_TO_KEY.get(field);
    if (key === undefined && !NESTED_PREFIXES.has(field)) throw fail(`unknown field "${field}"`);
    if (value === null) continue;
    if (key !== undefined) values[key] = fromYaml(SETTINGS[key], field, value);
    else readNested(field, value, values);
  }
}

/** logging: verbosity becomes a setting; the rest is kept as is in passThrough.logging. */
function readLogging(raw: unknown, passThrough: Record<string, unknown>): ConfigValues {
  if (!isMapping(raw)) throw mismatch('logging', 'a mapping', raw);
  const unknown = Object.keys(raw).find((k) => !LOGGING_FIELDS.has(k));
  if (unknown !== undefined) throw fail(`unknown field "logging.${unknown}"`);
  const { verbosity, ...rest } = raw;
  passThrough.logging = rest;
  if (verbosity === undefined || verbosity === null) return {};
  return { verbosity: fromYaml(SETTINGS.verbosity, 'logging.verbosity', verbosity) as number };
}

const PASS_KIND_EXPECT: Readonly<Record<PassKind, string>> = {
  bool: 'a boolean',
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  duration: 'a duration such as "20s" or "1m30s"',
  map: 'a mapping',
  list: 'a list',
};

function checkPassThrough(field: string, raw: unknown): unknown {
  const kind = UPSTREAM_PASS_THROUGH[field] ?? 'map';
  const ok =
    (kind === 'bool' && typeof raw === 'boolean') ||
    (kind === 'int' && Number.isSafeInteger(raw)) ||
    (kind === 'number' && typeof raw === 'number') ||
    (kind === 'string' && typeof raw === 'string') ||
    (kind === 'duration' && typeof raw === 'string' && parseGoDuration(raw) !== undefined) ||
    (kind === 'map' && isMapping(raw)) ||
    (kind === 'list' && Array.isArray(raw));
  if (!ok) throw mismatch(field, PASS_KIND_EXPECT[kind], raw);
  return raw;
}

function resolveRelativePaths(values: Record<string, unknown>, passThrough: Record<string, unknown>, dir: string): void {
  const resolve = (p: unknown): unknown => (typeof p === 'string' && p !== '' && !posix.isAbsolute(p) ? posix.join(dir, p) : p);
  for (const key of SETTING_KEYS) {
    if (SETTINGS[key].pathRef && Object.hasOwn(values, key)) values[key] = resolve(values[key]);
  }
  for (const field of PASS_THROUGH_PATHS) {
    if (Object.hasOwn(passThrough, field)) passThrough[field] = resolve(passThrough[field]);
  }
}
