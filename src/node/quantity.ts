// Whole-number quantities for node capacity and allocatable, written in the canonical form the API
// server itself prints (upstream resource.Quantity.String()), so what the kubelet posts reads back
// unchanged. Comparison is by value, as upstream's semantic equality.
import { formatQuantityNanos, parseQuantityNanos, type QuantityFormat } from '../cm/quantity.ts';

export type { QuantityFormat };

/**
 * Canonical text of an integer quantity: DecimalSI strips factors of 1000 ('2000' -> '2k');
 * BinarySI strips factors of 1024 ('16777216' -> '16Mi', '1000' stays '1000'), and below 1024
 * in magnitude it is written as a plain number, as upstream.
 */
export function formatQuantity(value: bigint | number, format: QuantityFormat): string {
  return formatQuantityNanos(BigInt(value) * 1_000_000_000n, format);
}

/** True when two quantity texts have the same value ('1Ki' and '1024'); unparsable texts compare as text. */
export function quantitiesEqual(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  try {
    return parseQuantityNanos(a) === parseQuantityNanos(b);
  } catch {
    return a === b;
  }
}

/** The integer value of a quantity text (rounded up, as Quantity.Value()); 0 when unparsable. */
export function quantityValue(q: string | undefined): bigint {
  if (q === undefined) return 0n;
  try {
    const nanos = parseQuantityNanos(q);
    const units = nanos / 1_000_000_000n;
    return nanos % 1_000_000_000n > 0n ? units + 1n : units;
  } catch {
    return 0n;
  }
}
