// Pure parsers and predicates for configuration values, shared by the flag and file readers
// and the final validation. Parsers return undefined when the text is malformed.

import { isIP } from 'node:net';
import { posix } from 'node:path';
import { TAINT_EFFECTS } from './types.ts';
import type { Taint, TaintEffect } from './types.ts';
import { parseNonNegativeQuantity } from '../cm/quantity.ts';

// Nanoseconds per Go duration unit.
const NS_PER_UNIT: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};
const MAX_DURATION_NS = 9_223_372_036_854_775_807; // Go's time.Duration is an int64 of ns
const DURATION_PART = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a Go duration string ('20s', '1m30s', '1.5h', '-2ms', '0') as time.ParseDuration
 * does, into milliseconds (fractional below 1ms). Undefined when malformed or out of range.
 */
export function parseGoDuration(text: string): number | undefined {
  const sign = text.startsWith('-') ? -1 : 1;
  const body = text.startsWith('-') || text.startsWith('+') ? text.slice(1) : text;
  if (body === '0') return 0;
  if (body === '') return undefined;
  let ns = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < body.length) {
    const m = DURATION_PART.exec(body);
    if (m === null) return undefined;
    const [, whole = '', frac, unit = ''] = m;
    if (whole === '' && (frac === undefined || frac === '')) return undefined; // '.s' or 's'
    const perUnit = NS_PER_UNIT[unit] ?? 0;
    const fracNs = frac ? Math.trunc(Number(frac) * (perUnit / 10 ** frac.length)) : 0;
    ns += Number(whole || '0') * perUnit + fracNs;
  }
  if (ns > MAX_DURATION_NS) return undefined;
  return (sign * ns) / 1e6;
}

/** Formats milliseconds as Go's Duration.String does ('20s', '1m0s', '2h0m0s', '500ms'). */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 0) return `-${formatGoDuration(-ms)}`;
  if (ms < 1) return ms * 1000 < 1 ? `${round(ms * 1e6)}ns` : `${round(ms * 1000)}µs`;
  if (ms < 1000) return `${round(ms)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = round((ms % 60_000) / 1000);
  if (h > 0) return `${h}h${m}m${s}s`;
  return m > 0 ? `${m}m${s}s` : `${s}s`;
}

const round = (n: number): number => Number(n.toFixed(9));

/** strconv.ParseBool: 1 t T TRUE true True / 0 f F FALSE false False. */
export function parseGoBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

/** A decimal integer with optional sign, within the safe integer range. */
export function parseDecimalInt(text: string): number | undefined {
  if (!/^[+-]?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** `a,b , c` -> ['a','b','c']; '' -> []. */
export function parseCommaList(text: string): string[] {
  return text.trim() === '' ? [] : text.split(',').map((s) => s.trim());
}

/** `k=v,k2=v2` (cliflag.MapStringString) -> record; undefined when a pair lacks '='. */
export function parseKeyValuePairs(text: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const pair of parseCommaList(text)) {
    const eq = pair.indexOf('=');
    if (eq < 0) return undefined;
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** `k<v,k2<v2` (cliflag.LangleSeparatedMapStringString with sep '<') -> record; undefined when a pair lacks the separator. */
export function parseSeparatedPairs(text: string, sep: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const pair of parseCommaList(text)) {
    const i = pair.indexOf(sep);
    if (i < 0) return undefined;
    out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
}

/** `key=value:Effect,key:Effect` (--register-with-taints); undefined when malformed. */
export function parseTaintList(text: string): Taint[] | undefined {
  const out: Taint[] = [];
  for (const spec of parseCommaList(text)) {
    const colon = spec.lastIndexOf(':');
    if (colon < 0) return undefined;
    const effect = toTaintEffect(spec.slice(colon + 1));
    if (effect === undefined) return undefined;
    const kv = spec.slice(0, colon);
    const eq = kv.indexOf('=');
    out.push(eq < 0 ? { key: kv, value: '', effect } : { key: kv.slice(0, eq), value: kv.slice(eq + 1), effect });
  }
  return out;
}

export function toTaintEffect(text: unknown): TaintEffect | undefined {
  return TAINT_EFFECTS.find((e) => e === text);
}

/** True for a valid non-negative resource quantity ('10Mi', '1G', '500k'); a digit is required. */
export function isNonNegativeQuantity(text: string): boolean {
  if (!/[0-9]/.test(text)) return false;
  try {
    parseNonNegativeQuantity(text);
    return true;
  } catch {
    return false;
  }
}

const DNS1123_LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS1123_LABEL}(?:\\.${DNS1123_LABEL})*$`);

/** RFC 1123 subdomain as Kubernetes defines it (object names such as node names). */
export function isDns1123Subdomain(text: string): boolean {
  return text.length <= 253 && DNS1123_SUBDOMAIN.test(text);
}

const QUALIFIED_NAME_PART = /^(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** A label/taint key: optional DNS subdomain prefix + '/' + name of at most 63 characters. */
export function isQualifiedName(text: string): boolean {
  const parts = text.split('/');
  if (parts.length > 2) return false;
  const name = parts.at(-1) ?? '';
  const prefixOk = parts.length === 1 || isDns1123Subdomain(parts[0] ?? '');
  return prefixOk && name.length <= 63 && QUALIFIED_NAME_PART.test(name);
}

/** A label value: empty, or at most 63 alphanumerics with '-', '_', '.' inside. */
export function isLabelValue(text: string): boolean {
  return text === '' || (text.length <= 63 && QUALIFIED_NAME_PART.test(text));
}

export const isIPAddress = (text: string): boolean => isIP(text) !== 0;

/** --node-ip: '' or one IP, or two of different families (dual-stack). */
export function isNodeIPList(text: string): boolean {
  if (text === '') return true;
  const ips = text.split(',').map((s) => s.trim());
  if (ips.length > 2 || !ips.every(isIPAddress)) return false;
  return ips.length === 1 || isIP(ips[0] ?? '') !== isIP(ips[1] ?? '');
}

/** An absolute path in normal form ('/var/log/pods', not 'var/log', '/a/../b' or '/a/'). */
export function isCleanAbsolutePath(text: string): boolean {
  return posix.isAbsolute(text) && (text === '/' || (posix.normalize(text) === text && !text.endsWith('/')));
}

// Labels in kubernetes.io / k8s.io a kubelet may set on its own node (upstream
// kubeletapis.KubeletLabels and the kubelet.kubernetes.io / node.kubernetes.io namespaces).
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname',
  'kubernetes.io/arch',
  'kubernetes.io/os',
  'beta.kubernetes.io/arch',
  'beta.kubernetes.io/os',
  'beta.kubernetes.io/instance-type',
  'node.kubernetes.io/instance-type',
  'failure-domain.beta.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone',
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

/** Whether the kubelet may set this label key on its node (upstream IsKubeletLabel rules). */
export function isAllowedNodeLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return true;
  const ns = key.slice(0, slash);
  const restricted = ['kubernetes.io', 'k8s.io'].some((d) => ns === d || ns.endsWith(`.${d}`));
  if (!restricted || KUBELET_LABELS.has(key)) return true;
  return KUBELET_LABEL_NAMESPACES.some((d) => ns === d || ns.endsWith(`.${d}`));
}

/** Bare absolute socket path -> unix:// URL (upstream accepts the path with a warning). */
export function normalizeEndpoint(endpoint: string): string {
  return endpoint.startsWith('/') ? `unix://${endpoint}` : endpoint;
}
