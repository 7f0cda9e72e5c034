// The Prometheus text exposition format (version 0.0.4) as the Go client writes it, for the
// endpoints whose series are built per scrape (/metrics/resource, /metrics/cadvisor): values
// formatted like Go's strconv 'g' (1.452863488e+09), explicit timestamps in milliseconds,
// families sorted by name and series by label values, families without series left out.
// Pure functions.
import { compareText } from '../common/compare.ts';

/** The content type of the text format, as the Go client announces it. */
export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';

export interface Sample {
  /** Label name -> value; written sorted by name. */
  labels?: Readonly<Record<string, string>>;
  value: number;
  /** Milliseconds since the epoch; written after the value when set. */
  timestampMs?: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/**
 * A number as Go's strconv.FormatFloat(v, 'g', -1, 64) writes it, which the Go Prometheus
 * client uses: shortest digits, exponent form when the decimal exponent is < -4 or >= 6, with
 * at least two exponent digits (1e+06, 1.5e-05). 0, 1, -1, NaN, +Inf and -Inf as the client.
 */
export function formatGoFloat(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (v === 0) return '0';
  const exp = v.toExponential(); // shortest digits: "1.2345e+6"
  const at = exp.indexOf('e');
  const e = Number(exp.slice(at + 1));
  if (e < -4 || e >= 6) {
    const sign = e < 0 ? '-' : '+';
    const digits = String(Math.abs(e)).padStart(2, '0');
    return `${exp.slice(0, at)}e${sign}${digits}`;
  }
  return String(v);
}

/** A label value escaped for the text format (backslash, double quote, newline). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function sortedLabelNames(s: Sample): string[] {
  return Object.keys(s.labels ?? {}).sort();
}

/** Go's registry order: label values compared in label-name order, then the timestamp. */
function compareSamples(a: Sample, b: Sample): number {
  const names = sortedLabelNames(a);
  for (const n of names) {
    const va = a.labels?.[n] ?? '';
    const vb = b.labels?.[n] ?? '';
    if (va !== vb) return va < vb ? -1 : 1;
  }
  return (a.timestampMs ?? 0) - (b.timestampMs ?? 0);
}

function renderSample(name: string, s: Sample): string {
  const names = sortedLabelNames(s);
  const labels = names.length === 0 ? '' : `{${names.map((n) => `${n}="${escapeLabelValue(s.labels![n]!)}"`).join(',')}}`;
  const ts = s.timestampMs === undefined ? '' : ` ${Math.trunc(s.timestampMs)}`;
  return `${name}${labels} ${formatGoFloat(s.value)}${ts}\n`;
}

/**
 * The text exposition of `families`: sorted by name, each with its HELP and TYPE lines and its
 * series sorted; a family without samples is left out (as the Go registry does).
 */
export function renderFamilies(families: readonly MetricFamily[]): string {
  let out = '';
  for (const f of [...families].sort((a, b) => compareText(a.name, b.name))) {
    if (f.samples.length === 0) continue;
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of [...f.samples].sort(compareSamples)) out += renderSample(f.name, s);
  }
  return out;
}
