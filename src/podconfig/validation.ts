// Validation of a (defaulted) pod: what the kubelet must be able to rely on when it runs a static
// pod, after upstream's ValidatePodCreate (pkg/apis/core/validation). Works on untyped data, as
// parsed from a manifest, so it checks types too. Pure.
import { parseQuantity } from '../cm/quantity.ts';
import { errorMessage } from '../common/errors.ts';
import { HOST_PATH_TYPES } from '../volumes/hostpath.ts';
import { normalizeSysctlName } from '../lifecycle/sysctl.ts';

/** One problem, with the field's path as upstream prints it (`spec.containers[0].name`). */
export interface FieldError {
  field: string;
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const isDns1123Label = (s: string): boolean => s.length <= 63 && DNS1123_LABEL.test(s);
export const isDns1123Subdomain = (s: string): boolean => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
/** A port name: at most 15 characters, lowercase alphanumerics and '-', at least one letter, no '--'. */
export const isIanaSvcName = (s: string): boolean =>
  s.length <= 15 && IANA_SVC_NAME.test(s) && /[a-z]/.test(s) && !s.includes('--');
/** Environment variable names: any printable ASCII character but '=' (RelaxedEnvironmentVariableValidation). */
export const isEnvVarName = (s: string): boolean => s.length > 0 && /^[\x20-\x3c\x3e-\x7e]+$/.test(s);

const LABEL_HELP = "a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters)";
const SUBDOMAIN_HELP = "a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)";

const POD_RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'];
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'];
const ENV_SOURCES = ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef', 'fileKeyRef'];
const HANDLER_KINDS = ['exec', 'httpGet', 'tcpSocket', 'grpc'];
const MOUNT_PROPAGATIONS = ['Bidirectional', 'HostToContainer', 'None'];
const FIELD_PATHS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'metadata.labels',
  'metadata.annotations',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];
const FIELD_PATH_SUBSCRIPT = /^metadata\.(labels|annotations)\['[^']+'\]$/;

class Errors {
  readonly list: FieldError[] = [];
  add(field: string, message: string): void {
    this.list.push({ field, message });
  }
}

const q = (v: unknown): string => JSON.stringify(v) ?? String(v);
const oneOf = (values: string[]): string => `one of ${values.map((v) => q(v)).join(', ')}`;

function optionalString(e: Errors, o: Obj, key: string, path: string): void {
  if (o[key] !== undefined && o[key] !== null && typeof o[key] !== 'string') e.add(`${path}.${key}`, 'must be a string');
}

function optionalBool(e: Errors, o: Obj, key: string, path: string): void {
  if (o[key] !== undefined && o[key] !== null && typeof o[key] !== 'boolean') {
    e.add(`${path}.${key}`, `must be a boolean (true or false), got ${q(o[key])}`);
  }
}

function optionalEnum(e: Errors, o: Obj, key: string, path: string, values: string[]): void {
  const v = o[key];
  if (v !== undefined && v !== null && (typeof v !== 'string' || !values.includes(v))) {
    e.add(`${path}.${key}`, `unsupported value ${q(v)}: must be ${oneOf(values)}`);
  }
}

function stringArray(e: Errors, v: unknown, path: string): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) e.add(path, 'must be a list of strings');
}

function stringMap(e: Errors, v: unknown, path: string): void {
  if (v === undefined || v === null) return;
  if (!isObj(v)) return e.add(path, 'must be a map of strings to strings');
  for (const [k, val] of Object.entries(v)) {
    if (k === '') e.add(path, 'keys must not be empty');
    if (typeof val !== 'string') e.add(`${path}[${q(k)}]`, `must be a string, got ${q(val)} (quote it)`);
  }
}

/** A list of objects: reports the field when it is not one, returns its valid objects with indexes. */
function objectList(e: Errors, v: unknown, path: string): [Obj, number][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    e.add(path, 'must be a list');
    return [];
  }
  const out: [Obj, number][] = [];
  v.forEach((item, i) => {
    if (isObj(item)) out.push([item, i]);
    else e.add(`${path}[${i}]`, 'must be an object');
  });
  return out;
}

function validatePortNumOrName(e: Errors, v: unknown, path: string): void {
  if (isInt(v)) {
    if (v < 1 || v > 65535) e.add(path, `port ${v} out of range: must be between 1 and 65535`);
  } else if (typeof v === 'string') {
    if (!isIanaSvcName(v)) e.add(path, `${q(v)} is neither a port number nor a valid port name`);
  } else {
    e.add(path, 'required: a port number or name');
  }
}

function validateHandler(e: Errors, h: Obj, path: string): void {
  const kinds = HANDLER_KINDS.filter((k) => h[k] !== undefined && h[k] !== null);
  if (kinds.length !== 1) {
    e.add(path, `must specify exactly one handler of ${HANDLER_KINDS.join(', ')}${kinds.length ? ` (got ${kinds.join(', ')})` : ''}`);
    return;
  }
  const kind = kinds[0] as string;
  const handler = h[kind];
  const hp = `${path}.${kind}`;
  if (!isObj(handler)) return e.add(hp, 'must be an object');
  switch (kind) {
    case 'exec':
      if (!Array.isArray(handler.command) || handler.command.length === 0) e.add(`${hp}.command`, 'required: a non-empty list of strings');
      else stringArray(e, handler.command, `${hp}.command`);
      break;
    case 'httpGet':
      validatePortNumOrName(e, handler.port, `${hp}.port`);
      optionalString(e, handler, 'path', hp);
      optionalString(e, handler, 'host', hp);
      optionalEnum(e, handler, 'scheme', hp, ['HTTP', 'HTTPS']);
      for (const [hdr, i] of objectList(e, handler.httpHeaders, `${hp}.httpHeaders`)) {
        if (typeof hdr.name !== 'string' || hdr.name === '') e.add(`${hp}.httpHeaders[${i}].name`, 'required');
        if (typeof hdr.value !== 'string') e.add(`${hp}.httpHeaders[${i}].value`, 'must be a string');
      }
      break;
    case 'tcpSocket':
      validatePortNumOrName(e, handler.port, `${hp}.port`);
      optionalString(e, handler, 'host', hp);
      break;
    case 'grpc':
      if (!isInt(handler.port) || handler.port < 1 || handler.port > 65535) e.add(`${hp}.port`, 'must be a port number between 1 and 65535');
      optionalString(e, handler, 'service', hp);
      break;
  }
}

function validateProbe(e: Errors, probe: unknown, path: string, successMustBeOne: boolean): void {
  if (probe === undefined || probe === null) return;
  if (!isObj(probe)) return e.add(path, 'must be an object');
  validateHandler(e, probe, path);
  for (const key of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    const v = probe[key];
    if (v === undefined || v === null) continue;
    const min = key === 'initialDelaySeconds' ? 0 : 1;
    if (!isInt(v) || v < min) e.add(`${path}.${key}`, `must be an integer >= ${min}, got ${q(v)}`);
  }
  if (successMustBeOne && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
    e.add(`${path}.successThreshold`, 'must be 1');
  }
  const tgps = probe.terminationGracePeriodSeconds;
  if (tgps !== undefined && tgps !== null && (!isInt(tgps) || tgps < 1)) {
    e.add(`${path}.terminationGracePeriodSeconds`, 'must be an integer >= 1');
  }
}

function validateFieldRef(e: Errors, ref: Obj, path: string): void {
  if (ref.apiVersion !== 'v1') e.add(`${path}.apiVersion`, `unsupported value ${q(ref.apiVersion)}: must be "v1"`);
  const fp = ref.fieldPath;
  if (typeof fp !== 'string' || fp === '') return e.add(`${path}.fieldPath`, 'required');
  if (!FIELD_PATHS.includes(fp) && !FIELD_PATH_SUBSCRIPT.test(fp)) {
    e.add(`${path}.fieldPath`, `unsupported value ${q(fp)}: must be ${oneOf(FIELD_PATHS)} or metadata.labels['key'] / metadata.annotations['key']`);
  }
  // Whole label/annotation maps are only for volumes, not for env (upstream rejects them here too).
  if (fp === 'metadata.labels' || fp === 'metadata.annotations') e.add(`${path}.fieldPath`, `${q(fp)} needs a subscript in env, e.g. metadata.labels['app']`);
}

function validateEnv(e: Errors, c: Obj, path: string): void {
  for (const [env, i] of objectList(e, c.env, `${path}.env`)) {
    const ep = `${path}.env[${i}]`;
    if (typeof env.name !== 'string' || env.name === '') e.add(`${ep}.name`, 'required');
    else if (!isEnvVarName(env.name)) e.add(`${ep}.name`, `${q(env.name)} is not a valid variable name: printable ASCII characters except '='`);
    optionalString(e, env, 'value', ep);
    const vf = env.valueFrom;
    if (vf === undefined || vf === null) continue;
    if (!isObj(vf)) {
      e.add(`${ep}.valueFrom`, 'must be an object');
      continue;
    }
    if (typeof env.value === 'string' && env.value !== '') e.add(`${ep}.valueFrom`, 'may not be specified when `value` is not empty');
    const sources = ENV_SOURCES.filter((k) => vf[k] !== undefined && vf[k] !== null);
    if (sources.length !== 1) {
      e.add(`${ep}.valueFrom`, `must specify exactly one of ${ENV_SOURCES.join(', ')}`);
      continue;
    }
    const kind = sources[0] as string;
    const src = vf[kind];
    if (!isObj(src)) {
      e.add(`${ep}.valueFrom.${kind}`, 'must be an object');
      continue;
    }
    if (kind === 'fieldRef') validateFieldRef(e, src, `${ep}.valueFrom.fieldRef`);
    if (kind === 'resourceFieldRef' && (typeof src.resource !== 'string' || !/^(limits|requests)\.[a-z0-9.\-/]+$/.test(src.resource))) {
      e.add(`${ep}.valueFrom.resourceFieldRef.resource`, `unsupported value ${q(src.resource)}: must be limits.<resource> or requests.<resource>`);
    }
    if ((kind === 'configMapKeyRef' || kind === 'secretKeyRef') && (typeof src.key !== 'string' || src.key === '')) {
      e.add(`${ep}.valueFrom.${kind}.key`, 'required');
    }
  }
  objectList(e, c.envFrom, `${path}.envFrom`);
}

function validateResources(e: Errors, c: Obj, path: string): void {
  const r = c.resources;
  if (r === undefined || r === null) return;
  const rp = `${path}.resources`;
  if (!isObj(r)) return e.add(rp, 'must be an object');
  const parsed: Record<'limits' | 'requests', Map<string, number>> = { limits: new Map(), requests: new Map() };
  for (const kind of ['limits', 'requests'] as const) {
    const list = r[kind];
    if (list === undefined || list === null) continue;
    if (!isObj(list)) {
      e.add(`${rp}.${kind}`, 'must be a map of resource names to quantities');
      continue;
    }
    for (const [name, v] of Object.entries(list)) {
      const fp = `${rp}.${kind}[${q(name)}]`;
      if (typeof v !== 'string') {
        e.add(fp, `must be a quantity, got ${q(v)}`);
        continue;
      }
      try {
        const n = parseQuantity(v);
        if (n < 0) e.add(fp, `must be greater than or equal to 0, got ${q(v)}`);
        else parsed[kind].set(name, n);
      } catch (err) {
        e.add(fp, errorMessage(err));
      }
    }
  }
  for (const [name, req] of parsed.requests) {
    const lim = parsed.limits.get(name);
    if (lim !== undefined && req > lim) e.add(`${rp}.requests[${q(name)}]`, `must be less than or equal to the ${name} limit`);
  }
}

function validatePorts(e: Errors, c: Obj, path: string, hostNetwork: boolean, hostPorts: Map<string, string>): void {
  const names = new Set<string>();
  for (const [port, i] of objectList(e, c.ports, `${path}.ports`)) {
    const pp = `${path}.ports[${i}]`;
    const cp = port.containerPort;
    if (!isInt(cp) || cp < 1 || cp > 65535) e.add(`${pp}.containerPort`, `must be an integer between 1 and 65535, got ${q(cp)}`);
    const hp = port.hostPort;
    if (hp !== undefined && hp !== null && (!isInt(hp) || hp < 0 || hp > 65535)) {
      e.add(`${pp}.hostPort`, `must be an integer between 1 and 65535, got ${q(hp)}`);
    } else if (hostNetwork && isInt(hp) && hp !== 0 && hp !== cp) {
      e.add(`${pp}.hostPort`, 'must match containerPort when hostNetwork is true');
    }
    optionalEnum(e, port, 'protocol', pp, PROTOCOLS);
    optionalString(e, port, 'hostIP', pp);
    if (port.name !== undefined && port.name !== null && port.name !== '') {
      if (typeof port.name !== 'string' || !isIanaSvcName(port.name)) {
        e.add(`${pp}.name`, `${q(port.name)} is not a valid port name: at most 15 lowercase letters, digits and '-', with at least one letter, no '--' and no '-' at either end`);
      } else if (names.has(port.name)) {
        e.add(`${pp}.name`, `duplicate port name ${q(port.name)}`);
      } else {
        names.add(port.name);
      }
    }
    if (isInt(hp) && hp > 0) {
      const key = `${String(port.hostIP ?? '')}/${hp}/${String(port.protocol ?? 'TCP')}`;
      const other = hostPorts.get(key);
      if (other !== undefined) e.add(`${pp}.hostPort`, `host port ${hp}/${String(port.protocol ?? 'TCP')} is already used by ${other}`);
      else hostPorts.set(key, `${pp}.hostPort`);
    }
  }
}

/** Upstream validateLocalDescendingPath: a relative path without a `..` component. */
function validateLocalDescendingPath(e: Errors, v: string, path: string): void {
  if (v.startsWith('/')) e.add(path, `${q(v)}: must be a relative path`);
  if (v.split('/').includes('..')) e.add(path, `${q(v)}: must not contain '..'`);
}

function validateVolumeMounts(e: Errors, c: Obj, path: string, volumes: Set<string>): void {
  const paths = new Set<string>();
  const sc = c.securityContext;
  const privileged = isObj(sc) && sc.privileged === true;
  for (const [m, i] of objectList(e, c.volumeMounts, `${path}.volumeMounts`)) {
    const mp = `${path}.volumeMounts[${i}]`;
    if (typeof m.name !== 'string' || m.name === '') e.add(`${mp}.name`, 'required');
    else if (!volumes.has(m.name)) e.add(`${mp}.name`, `volume ${q(m.name)} is not defined in spec.volumes`);
    if (typeof m.mountPath !== 'string' || m.mountPath === '') e.add(`${mp}.mountPath`, 'required');
    else if (paths.has(m.mountPath)) e.add(`${mp}.mountPath`, `${q(m.mountPath)} is mounted twice`);
    else paths.add(m.mountPath);
    optionalBool(e, m, 'readOnly', mp);
    optionalString(e, m, 'subPath', mp);
    optionalString(e, m, 'subPathExpr', mp);
    if (typeof m.subPath === 'string' && m.subPath !== '') validateLocalDescendingPath(e, m.subPath, `${mp}.subPath`);
    if (typeof m.subPathExpr === 'string' && m.subPathExpr !== '') {
      if (typeof m.subPath === 'string' && m.subPath !== '') e.add(`${mp}.subPathExpr`, 'subPathExpr and subPath are mutually exclusive');
      validateLocalDescendingPath(e, m.subPathExpr, `${mp}.subPathExpr`);
    }
    optionalEnum(e, m, 'mountPropagation', mp, MOUNT_PROPAGATIONS);
    if (m.mountPropagation === 'Bidirectional' && !privileged) {
      e.add(`${mp}.mountPropagation`, 'Bidirectional mount propagation is available only to privileged containers');
    }
  }
}

/** Upstream IsValidUserID / IsValidGroupID bound. */
const MAX_ID = 2_147_483_647;
const PROFILE_TYPES = ['RuntimeDefault', 'Unconfined', 'Localhost'];
const PROC_MOUNT_TYPES = ['Default', 'Unmasked'];
const SUPPLEMENTAL_GROUPS_POLICIES = ['Merge', 'Strict'];
const SYSCTL_NAME = /^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/;

function optionalId(e: Errors, o: Obj, key: string, path: string): void {
  const v = o[key];
  if (v !== undefined && v !== null && (!isInt(v) || v < 0 || v > MAX_ID)) e.add(`${path}.${key}`, `must be an integer between 0 and ${MAX_ID}, inclusive, got ${q(v)}`);
}

/** seccompProfile / appArmorProfile (upstream validateSeccompProfileField, validateAppArmorProfileField). */
function validateProfile(e: Errors, p: unknown, path: string, kind: 'seccomp' | 'AppArmor'): void {
  if (p === undefined || p === null) return;
  if (!isObj(p)) return e.add(path, 'must be an object');
  if (typeof p.type !== 'string' || !PROFILE_TYPES.includes(p.type)) e.add(`${path}.type`, `unsupported value ${q(p.type)}: must be ${oneOf(PROFILE_TYPES)}`);
  const lp = p.localhostProfile;
  if (p.type === 'Localhost') {
    if (typeof lp !== 'string' || lp.trim() === '') e.add(`${path}.localhostProfile`, `must be set when ${kind} type is Localhost`);
    else if (kind === 'seccomp') validateLocalDescendingPath(e, lp, `${path}.localhostProfile`);
  } else if (lp !== undefined && lp !== null) {
    e.add(`${path}.localhostProfile`, `can only be set when ${kind} type is Localhost`);
  }
}

/** What pod and container security contexts share: ids, runAsNonRoot, SELinux options, profiles. */
function validateCommonSecurityContext(e: Errors, sc: Obj, path: string): void {
  optionalId(e, sc, 'runAsUser', path);
  optionalId(e, sc, 'runAsGroup', path);
  optionalBool(e, sc, 'runAsNonRoot', path);
  const se = sc.seLinuxOptions;
  if (se !== undefined && se !== null) {
    if (!isObj(se)) e.add(`${path}.seLinuxOptions`, 'must be an object');
    else for (const k of ['user', 'role', 'type', 'level']) optionalString(e, se, k, `${path}.seLinuxOptions`);
  }
  validateProfile(e, sc.seccompProfile, `${path}.seccompProfile`, 'seccomp');
  validateProfile(e, sc.appArmorProfile, `${path}.appArmorProfile`, 'AppArmor');
}

/** upstream ValidatePodSecurityContext plus the host-namespace rules of the pod spec. */
function validatePodSecurityContext(e: Errors, spec: Obj): void {
  optionalBool(e, spec, 'hostUsers', 'spec');
  optionalBool(e, spec, 'setHostnameAsFQDN', 'spec');
  optionalString(e, spec, 'subdomain', 'spec');
  if (typeof spec.subdomain === 'string' && spec.subdomain !== '' && !isDns1123Label(spec.subdomain)) e.add('spec.subdomain', `${q(spec.subdomain)} is not ${LABEL_HELP}`);
  optionalString(e, spec, 'runtimeClassName', 'spec');
  if (typeof spec.runtimeClassName === 'string' && spec.runtimeClassName !== '' && !isDns1123Subdomain(spec.runtimeClassName)) e.add('spec.runtimeClassName', `${q(spec.runtimeClassName)} is not ${SUBDOMAIN_HELP}`);
  if (spec.shareProcessNamespace === true && spec.hostPID === true) e.add('spec.shareProcessNamespace', 'ShareProcessNamespace and HostPID cannot both be enabled');
  if (spec.hostUsers === false) {
    for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) if (spec[k] === true) e.add(`spec.${k}`, 'when `hostUsers` is false');
  }
  const sc = spec.securityContext;
  if (!isObj(sc)) return;
  const path = 'spec.securityContext';
  validateCommonSecurityContext(e, sc, path);
  optionalId(e, sc, 'fsGroup', path);
  optionalEnum(e, sc, 'fsGroupChangePolicy', path, ['OnRootMismatch', 'Always']);
  optionalEnum(e, sc, 'supplementalGroupsPolicy', path, SUPPLEMENTAL_GROUPS_POLICIES);
  const groups = sc.supplementalGroups;
  if (groups !== undefined && groups !== null) {
    if (!Array.isArray(groups)) e.add(`${path}.supplementalGroups`, 'must be a list of group IDs');
    else groups.forEach((g, i) => {
      if (!isInt(g) || g < 0 || g > MAX_ID) e.add(`${path}.supplementalGroups[${i}]`, `must be an integer between 0 and ${MAX_ID}, inclusive, got ${q(g)}`);
    });
  }
  const names = new Set<string>();
  for (const [s, i] of objectList(e, sc.sysctls, `${path}.sysctls`)) {
    const sp = `${path}.sysctls[${i}]`;
    if (typeof s.name !== 'string' || s.name === '') e.add(`${sp}.name`, 'required');
    else if (s.name.length > 253 || !SYSCTL_NAME.test(s.name)) e.add(`${sp}.name`, `${q(s.name)} must have at most 253 characters and be a sysctl name such as kernel.shm_rmid_forced`);
    else {
      const dotted = normalizeSysctlName(s.name);
      if (names.has(dotted)) e.add(`${sp}.name`, `duplicate sysctl ${q(s.name)}`);
      names.add(dotted);
      if (spec.hostNetwork === true && dotted.startsWith('net.')) e.add(`${sp}.name`, "may not be specified when 'hostNetwork' is true");
      if (spec.hostIPC === true && (dotted === 'kernel.sem' || dotted.startsWith('kernel.shm') || dotted.startsWith('kernel.msg') || dotted.startsWith('fs.mqueue.'))) e.add(`${sp}.name`, "may not be specified when 'hostIPC' is true");
    }
    if (typeof s.value !== 'string') e.add(`${sp}.value`, 'must be a string');
  }
}

/** upstream ValidateSecurityContext of one container. */
function validateContainerSecurityContext(e: Errors, c: Obj, path: string, hostUsersFalse: boolean): void {
  const sc = c.securityContext;
  if (!isObj(sc)) return;
  const sp = `${path}.securityContext`;
  validateCommonSecurityContext(e, sc, sp);
  for (const k of ['privileged', 'readOnlyRootFilesystem', 'allowPrivilegeEscalation']) optionalBool(e, sc, k, sp);
  optionalEnum(e, sc, 'procMount', sp, PROC_MOUNT_TYPES);
  if (sc.procMount === 'Unmasked' && !hostUsersFalse) e.add(`${sp}.procMount`, '`hostUsers` must be false to use `Unmasked`');
  const caps = sc.capabilities;
  let added: unknown[] = [];
  if (caps !== undefined && caps !== null) {
    if (!isObj(caps)) e.add(`${sp}.capabilities`, 'must be an object');
    else {
      stringArray(e, caps.add, `${sp}.capabilities.add`);
      stringArray(e, caps.drop, `${sp}.capabilities.drop`);
      if (Array.isArray(caps.add)) added = caps.add;
    }
  }
  if (sc.allowPrivilegeEscalation === false) {
    if (sc.privileged === true) e.add(sp, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true');
    if (added.includes('CAP_SYS_ADMIN') || added.includes('SYS_ADMIN')) e.add(sp, 'cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN');
  }
}

interface ContainerContext {
  /** spec.hostUsers is false (procMount Unmasked needs it). */
  hostUsersFalse: boolean;
  init: boolean;
  hostNetwork: boolean;
  names: Set<string>;
  volumes: Set<string>;
  hostPorts: Map<string, string>;
}

function validateContainer(e: Errors, c: Obj, path: string, ctx: ContainerContext): void {
  if (typeof c.name !== 'string' || c.name === '') e.add(`${path}.name`, 'required');
  else if (!isDns1123Label(c.name)) e.add(`${path}.name`, `${q(c.name)} is not ${LABEL_HELP}`);
  else if (ctx.names.has(c.name)) e.add(`${path}.name`, `duplicate container name ${q(c.name)} (names are unique across initContainers and containers)`);
  else ctx.names.add(c.name);
  if (typeof c.image !== 'string' || c.image.trim() === '') e.add(`${path}.image`, 'required');
  else if (c.image !== c.image.trim()) e.add(`${path}.image`, 'must not have leading or trailing whitespace');
  optionalEnum(e, c, 'imagePullPolicy', path, PULL_POLICIES);
  stringArray(e, c.command, `${path}.command`);
  stringArray(e, c.args, `${path}.args`);
  optionalString(e, c, 'workingDir', path);
  optionalString(e, c, 'terminationMessagePath', path);
  optionalEnum(e, c, 'terminationMessagePolicy', path, TERMINATION_MESSAGE_POLICIES);
  optionalBool(e, c, 'stdin', path);
  optionalBool(e, c, 'tty', path);
  if (c.securityContext !== undefined && c.securityContext !== null && !isObj(c.securityContext)) e.add(`${path}.securityContext`, 'must be an object');
  validateContainerSecurityContext(e, c, path, ctx.hostUsersFalse);
  let sidecar = false;
  if (c.restartPolicy !== undefined && c.restartPolicy !== null) {
    if (!ctx.init) e.add(`${path}.restartPolicy`, 'may only be set on init containers');
    else if (c.restartPolicy !== 'Always') e.add(`${path}.restartPolicy`, `unsupported value ${q(c.restartPolicy)}: must be "Always"`);
    else sidecar = true;
  }
  validatePorts(e, c, path, ctx.hostNetwork, ctx.hostPorts);
  validateEnv(e, c, path);
  validateResources(e, c, path);
  validateVolumeMounts(e, c, path, ctx.volumes);
  if (ctx.init && !sidecar) {
    // Plain init containers run to completion: probes and lifecycle hooks make no sense there.
    for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle']) {
      if (c[key] !== undefined && c[key] !== null) e.add(`${path}.${key}`, 'may not be set for init containers without restartPolicy "Always"');
    }
    return;
  }
  validateProbe(e, c.livenessProbe, `${path}.livenessProbe`, true);
  validateProbe(e, c.readinessProbe, `${path}.readinessProbe`, false);
  validateProbe(e, c.startupProbe, `${path}.startupProbe`, true);
  if (c.lifecycle !== undefined && c.lifecycle !== null) {
    if (!isObj(c.lifecycle)) e.add(`${path}.lifecycle`, 'must be an object');
    else {
      for (const hook of ['postStart', 'preStop']) {
        const h = c.lifecycle[hook];
        if (h === undefined || h === null) continue;
        if (!isObj(h)) e.add(`${path}.lifecycle.${hook}`, 'must be an object');
        else if (h.sleep !== undefined) {
          if (!isObj(h.sleep) || !isInt(h.sleep.seconds) || h.sleep.seconds < 0) e.add(`${path}.lifecycle.${hook}.sleep.seconds`, 'must be an integer >= 0');
        } else validateHandler(e, h, `${path}.lifecycle.${hook}`);
      }
    }
  }
}

function validateVolumes(e: Errors, spec: Obj): Set<string> {
  const names = new Set<string>();
  for (const [v, i] of objectList(e, spec.volumes, 'spec.volumes')) {
    const vp = `spec.volumes[${i}]`;
    if (typeof v.name !== 'string' || v.name === '') e.add(`${vp}.name`, 'required');
    else if (!isDns1123Label(v.name)) e.add(`${vp}.name`, `${q(v.name)} is not ${LABEL_HELP}`);
    else if (names.has(v.name)) e.add(`${vp}.name`, `duplicate volume name ${q(v.name)}`);
    else names.add(v.name);
    const sources = Object.keys(v).filter((k) => k !== 'name' && v[k] !== undefined && v[k] !== null);
    if (sources.length !== 1) {
      e.add(vp, `must specify exactly one volume source${sources.length ? ` (got ${sources.join(', ')})` : ''}`);
      continue;
    }
    const kind = sources[0] as string;
    const src = v[kind];
    if (!isObj(src)) {
      e.add(`${vp}.${kind}`, 'must be an object');
      continue;
    }
    if (kind === 'hostPath') {
      if (typeof src.path !== 'string' || src.path === '') e.add(`${vp}.hostPath.path`, 'required');
      else if (src.path.split('/').includes('..')) e.add(`${vp}.hostPath.path`, "must not contain '..'");
      optionalEnum(e, src, 'type', `${vp}.hostPath`, HOST_PATH_TYPES);
    }
    if (kind === 'emptyDir') {
      optionalEnum(e, src, 'medium', `${vp}.emptyDir`, ['', 'Memory', 'HugePages']);
      if (src.sizeLimit !== undefined && src.sizeLimit !== null) {
        try {
          parseQuantity(typeof src.sizeLimit === 'number' ? String(src.sizeLimit) : (src.sizeLimit as string));
        } catch (err) {
          e.add(`${vp}.emptyDir.sizeLimit`, errorMessage(err));
        }
      }
    }
  }
  return names;
}

/**
 * Validates a defaulted pod (see applyPodDefaults) given as untyped data. Returns every problem
 * found, empty when the pod is valid. Does not check identity fields the static pod source sets
 * itself (uid, spec.nodeName).
 */
export function validatePod(pod: unknown): FieldError[] {
  const e = new Errors();
  if (!isObj(pod)) {
    e.add('', 'a pod must be an object');
    return e.list;
  }
  if (pod.apiVersion !== 'v1') e.add('apiVersion', `unsupported value ${q(pod.apiVersion)}: must be "v1"`);
  if (pod.kind !== 'Pod') e.add('kind', `unsupported value ${q(pod.kind)}: must be "Pod"`);
  const meta = pod.metadata;
  if (!isObj(meta)) e.add('metadata', 'required');
  else {
    if (typeof meta.name !== 'string' || meta.name === '') e.add('metadata.name', 'required');
    else if (!isDns1123Subdomain(meta.name)) e.add('metadata.name', `${q(meta.name)} is not ${SUBDOMAIN_HELP}`);
    if (typeof meta.namespace !== 'string' || !isDns1123Label(meta.namespace)) e.add('metadata.namespace', `${q(meta.namespace)} is not ${LABEL_HELP}`);
    stringMap(e, meta.labels, 'metadata.labels');
    stringMap(e, meta.annotations, 'metadata.annotations');
  }
  const spec = pod.spec;
  if (!isObj(spec)) {
    e.add('spec', 'required');
    return e.list;
  }
  optionalEnum(e, spec, 'restartPolicy', 'spec', POD_RESTART_POLICIES);
  optionalEnum(e, spec, 'dnsPolicy', 'spec', DNS_POLICIES);
  const tgps = spec.terminationGracePeriodSeconds;
  if (tgps !== undefined && tgps !== null && (!isInt(tgps) || tgps < 0)) e.add('spec.terminationGracePeriodSeconds', `must be an integer >= 0, got ${q(tgps)}`);
  const ads = spec.activeDeadlineSeconds;
  if (ads !== undefined && ads !== null && (!isInt(ads) || ads < 1)) e.add('spec.activeDeadlineSeconds', `must be an integer >= 1, got ${q(ads)}`);
  for (const key of ['hostNetwork', 'hostPID', 'hostIPC', 'shareProcessNamespace', 'enableServiceLinks', 'automountServiceAccountToken']) optionalBool(e, spec, key, 'spec');
  optionalString(e, spec, 'nodeName', 'spec');
  optionalString(e, spec, 'hostname', 'spec');
  if (typeof spec.hostname === 'string' && spec.hostname !== '' && !isDns1123Label(spec.hostname)) e.add('spec.hostname', `${q(spec.hostname)} is not ${LABEL_HELP}`);
  if (spec.securityContext !== undefined && spec.securityContext !== null && !isObj(spec.securityContext)) e.add('spec.securityContext', 'must be an object');
  validatePodSecurityContext(e, spec);
  objectList(e, spec.tolerations, 'spec.tolerations');
  stringMap(e, spec.nodeSelector, 'spec.nodeSelector');
  const volumes = validateVolumes(e, spec);
  const ctx: ContainerContext = { hostUsersFalse: spec.hostUsers === false, init: true, hostNetwork: spec.hostNetwork === true, names: new Set(), volumes, hostPorts: new Map() };
  for (const [c, i] of objectList(e, spec.initContainers, 'spec.initContainers')) validateContainer(e, c, `spec.initContainers[${i}]`, ctx);
  ctx.init = false;
  if (!Array.isArray(spec.containers) || spec.containers.length === 0) e.add('spec.containers', 'required: at least one container');
  for (const [c, i] of objectList(e, spec.containers, 'spec.containers')) validateContainer(e, c, `spec.containers[${i}]`, ctx);
  return e.list;
}
