// Resource quantities ("100m", "64Mi", "1.5", "2e3"), as the API server's resource.Quantity
// accepts them: an optional sign, a decimal number, then one suffix — a binary SI suffix
// (Ki Mi Gi Ti Pi Ei), a decimal SI suffix (n u m k M G T P E) or a decimal exponent (e3, E-2).
import { invalidInput } from '../common/errors.ts';

const BINARY_SUFFIXES: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

const QUANTITY = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))([a-zA-Z]*|[eE][+-]?[0-9]+)$/;

/**
 * Parses a quantity into base units: bytes for memory and storage, cores for cpu ("100m" → 0.1,
 * "64Mi" → 67108864). The result is a float, exact enough for comparisons and cgroup values.
 * Pure; throws invalidInput when `s` is not a quantity.
 */
export function parseQuantity(s: string): number {
  if (typeof s !== 'string') throw invalidInput(`quantity must be a string, got ${typeof s}`);
  const m = QUANTITY.exec(s);
  if (m === null) throw invalidInput(`quantity ${JSON.stringify(s)} does not match the expected format (e.g. 100m, 64Mi, 1.5)`);
  const num = Number(m[1]);
  const suffix = m[2] ?? '';
  let factor: number | undefined = Object.hasOwn(BINARY_SUFFIXES, suffix)
    ? BINARY_SUFFIXES[suffix]
    : Object.hasOwn(DECIMAL_SUFFIXES, suffix)
      ? DECIMAL_SUFFIXES[suffix]
      : undefined;
  if (factor === undefined && /^[eE][+-]?[0-9]+$/.test(suffix)) factor = 10 ** Number(suffix.slice(1));
  if (factor === undefined) throw invalidInput(`quantity ${JSON.stringify(s)} has an unknown suffix ${JSON.stringify(suffix)}`);
  const value = num * factor;
  if (!Number.isFinite(value)) throw invalidInput(`quantity ${JSON.stringify(s)} is too large`);
  return value;
}
