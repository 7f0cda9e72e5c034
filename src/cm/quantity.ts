// Kubernetes resource quantities (upstream apimachinery resource.Quantity), reduced to what the
// kubelet needs: parse the API's text form into a value. Parsing is exact: the value is held as
// an integer count of nano-units (1e-9, upstream's finest precision) in a bigint, and converted to
// a JS number only at the end, so '0.1' + '0.2' summed in nanos equals '300m'.
//
// Upstream behaviour kept on purpose:
// - grammar `^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$` as the upstream hand-written scanner
//   reads it, including its leniency: a number part with no digit ('-', '.', 'k', 'Mi') is 0;
// - suffixes: decimal n u m "" k M G T P E, binary Ki Mi Gi Ti Pi Ei, exponents e<int>/E<int>
//   ('E' alone is exa);
// - precision finer than 1n is rounded up, away from zero ('0.1n' is 1n, '-0.1n' is -1n);
// - magnitudes above 2^63-1 are capped at 2^63-1;
// - no surrounding white space (ParseQuantity rejects ' 1' and '1 ').
// Not kept: Go truncates exponents to int32 (1e4294967296 would be 1); here it caps. Values are
// JS numbers at the end, so integers beyond 2^53 lose precision (upstream keeps int64).
import { invalidInput } from '../common/errors.ts';

/** A quantity as found in a pod spec: text, or a number when YAML/JSON gave one. */
export type QuantityInput = string | number;

/** A resource list as found in a spec: resource name -> quantity. */
export type ResourceList = Record<string, QuantityInput>;

const FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
// The suffix group cannot start with a digit, so matching never backtracks between groups.
const SYNTAX = /^([+-]?)(\d*)(?:\.(\d*))?((?:[eEinumkKMGTP]+[+-]?|[+-])\d*)?$/;
const DECIMAL_SUFFIXES = new Map([['n', -9], ['u', -6], ['m', -3], ['', 0], ['k', 3], ['M', 6], ['G', 9], ['T', 12], ['P', 15], ['E', 18]]);
const BINARY_SUFFIXES = new Map([['Ki', 10], ['Mi', 20], ['Gi', 30], ['Ti', 40], ['Pi', 50], ['Ei', 60]]);
const INT64_MAX = 2n ** 63n - 1n;
/** Nano-units per unit. */
const NANO = 1_000_000_000n;
/** Upstream caps every parsed quantity at the largest int64 (in units). */
const MAX_NANOS = INT64_MAX * NANO;

interface Suffix {
  base: 2 | 10;
  exponent: number;
}

function interpretSuffix(suffix: string): Suffix | undefined {
  const decimal = DECIMAL_SUFFIXES.get(suffix);
  if (decimal !== undefined) return { base: 10, exponent: decimal };
  const binary = BINARY_SUFFIXES.get(suffix);
  if (binary !== undefined) return { base: 2, exponent: binary };
  if (suffix.length < 2 || (suffix[0] !== 'e' && suffix[0] !== 'E') || !/^[+-]?\d+$/.test(suffix.slice(1))) return undefined;
  const exponent = BigInt(suffix.slice(1));
  if (exponent > INT64_MAX || exponent < -INT64_MAX - 1n) return undefined; // strconv.ParseInt range
  // Number() is exact wherever it matters: far from zero, scaleUp only compares it with bounds.
  return { base: 10, exponent: Number(exponent) };
}

/** Magnitude in nanos of `digits` × 10^shift10 (× 2^shift2), rounded up, capped. */
function scaleUp(digits: bigint, shift10: number, shift2: number): bigint {
  if (digits === 0n) return 0n;
  const mantissa = digits << BigInt(shift2);
  if (shift10 >= 0) return shift10 > 40 ? MAX_NANOS : min(mantissa * 10n ** BigInt(shift10), MAX_NANOS);
  if (-shift10 > mantissa.toString().length) return 1n; // below one nano: rounds up to 1n
  const divisor = 10n ** BigInt(-shift10);
  return min((mantissa + divisor - 1n) / divisor, MAX_NANOS);
}

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b);

function quantityText(q: QuantityInput): string {
  if (typeof q === 'string') return q;
  if (typeof q === 'number' && Number.isFinite(q)) return String(q);
  throw invalidInput(`invalid quantity ${String(q)}: not a finite number or a string`);
}

/**
 * The exact value of a quantity in nano-units (1e-9), as upstream ParseQuantity stores it.
 * Throws InvalidInput naming the text when it is not a quantity.
 */
export function parseQuantityNanos(q: QuantityInput): bigint {
  const text = quantityText(q);
  const fail = (why: string): never => {
    throw invalidInput(`invalid quantity ${JSON.stringify(text)}: ${why}`);
  };
  const parts = text === '' ? null : SYNTAX.exec(text);
  if (!parts) return fail(FORMAT_ERROR);
  const [, sign, whole = '', fraction = '', suffixText = ''] = parts;
  const suffix = interpretSuffix(suffixText) ?? fail("unable to parse quantity's suffix");
  // Upstream sends a digit-less number below nano scale down a slow path that cannot parse it.
  if (whole === '' && fraction === '' && suffix.base === 10 && suffix.exponent < -9) fail('unable to parse numeric part of quantity');
  const digits = BigInt(whole + fraction || '0');
  const shift10 = 9 - fraction.length + (suffix.base === 10 ? suffix.exponent : 0);
  const nanos = scaleUp(digits, shift10, suffix.base === 2 ? suffix.exponent : 0);
  return sign === '-' ? -nanos : nanos;
}

/** Nanos as a plain number of units (may lose precision beyond 2^53). */
export function nanosToNumber(nanos: bigint): number {
  return Number(nanos / NANO) + Number(nanos % NANO) / 1e9;
}

/** nanos / divisor, rounded away from zero (upstream ScaledValue rounds so). */
function roundAwayFromZero(nanos: bigint, divisor: bigint): number {
  const magnitude = nanos < 0n ? -nanos : nanos;
  const rounded = (magnitude + divisor - 1n) / divisor;
  return Number(nanos < 0n ? -rounded : rounded);
}

/** Upstream Quantity.MilliValue() of nanos: thousandths, rounded up (away from zero). */
export const nanosToMilli = (nanos: bigint): number => roundAwayFromZero(nanos, 1_000_000n);

/** Upstream Quantity.Value() of nanos: whole units, rounded up (away from zero). */
export const nanosToValue = (nanos: bigint): number => roundAwayFromZero(nanos, NANO);

/** The value of a quantity as a number: '100m' -> 0.1, '1Gi' -> 1073741824. Throws InvalidInput. */
export const parseQuantity = (q: QuantityInput): number => nanosToNumber(parseQuantityNanos(q));

/**
 * As parseQuantityNanos, but a negative value is InvalidInput too: resource requests, limits and
 * capacities may not be negative (upstream ValidateNonnegativeQuantity).
 */
export function parseNonNegativeQuantityNanos(q: QuantityInput): bigint {
  const nanos = parseQuantityNanos(q);
  if (nanos < 0n) throw invalidInput(`invalid quantity ${JSON.stringify(String(q))}: must be greater than or equal to 0`);
  return nanos;
}

/** The named quantity of a resource list in nanos; 0n when absent. Throws InvalidInput, also when negative. */
export function listNanos(list: ResourceList | undefined, name: string): bigint {
  const q = list?.[name];
  return q === undefined ? 0n : parseNonNegativeQuantityNanos(q);
}

/** As parseQuantity, but a negative value is InvalidInput too (see parseNonNegativeQuantityNanos). */
export const parseNonNegativeQuantity = (q: QuantityInput): number => nanosToNumber(parseNonNegativeQuantityNanos(q));

/** Upstream MilliValue(): '100m' -> 100, '0.1m' -> 1 (rounded up). Throws InvalidInput. */
export const milliValue = (q: QuantityInput): number => nanosToMilli(parseQuantityNanos(q));

/** Upstream Value(): '1500m' -> 2, '1Ki' -> 1024 (rounded up). Throws InvalidInput. */
export const value = (q: QuantityInput): number => nanosToValue(parseQuantityNanos(q));

/** Upstream's two common quantity formats: powers of 1000 (k, M, ...) or of 1024 (Ki, Mi, ...). */
export type QuantityFormat = 'DecimalSI' | 'BinarySI';

const DECIMAL_UP = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
const BINARY_UP = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const DECIMAL_DOWN: [bigint, string][] = [[1_000_000n, 'm'], [1_000n, 'u'], [1n, 'n']];

/**
 * The canonical text of a quantity given in nanos (upstream Quantity.String()): a whole value
 * strips factors of 1000 (DecimalSI: '2000' -> '2k') or of 1024 (BinarySI: 16777216 -> '16Mi';
 * below 1024 in magnitude, and whenever 1024 does not divide it, a plain number); a fraction is
 * written in m, u or n ('1500m'). Pure.
 */
export function formatQuantityNanos(nanos: bigint, format: QuantityFormat): string {
  if (nanos === 0n) return '0';
  if (nanos % NANO !== 0n) {
    for (const [unit, suffix] of DECIMAL_DOWN) if (nanos % unit === 0n) return `${nanos / unit}${suffix}`;
  }
  let v = nanos / NANO;
  const binary = format === 'BinarySI' && (v >= 1024n || v <= -1024n);
  const base = binary ? 1024n : 1000n;
  const suffixes = binary ? BINARY_UP : DECIMAL_UP;
  let i = 0;
  while (i < suffixes.length - 1 && v % base === 0n) {
    v /= base;
    i++;
  }
  return `${v}${suffixes[i]}`;
}

/** The format a quantity text was written in: BinarySI for Ki, Mi, ..., DecimalSI otherwise. */
export const formatOf = (text: QuantityInput): QuantityFormat => (/[KMGTPE]i$/.test(String(text)) ? 'BinarySI' : 'DecimalSI');

/** A quantity text in upstream's canonical form ('1024Mi' -> '1Gi', '0.5Gi' -> '512Mi', '1.5' -> '1500m'). Throws InvalidInput. */
export const canonicalQuantity = (text: QuantityInput): string => formatQuantityNanos(parseQuantityNanos(text), formatOf(text));
