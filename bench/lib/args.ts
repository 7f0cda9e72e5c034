// Command-line parsing shared by the benchmarks: `--flag value` and `--flag=value`, integer
// options with bounds, and the error that means "bad arguments" (exit code 2).

/** Bad command-line arguments; an empty message asks for the usage text. */
export class UsageError extends Error {}

/** An integer option within [min, max]; throws UsageError naming the option otherwise. */
export function intOption(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** `--flag=value` -> ['--flag', 'value']; anything else -> [arg, undefined]. */
export function splitFlag(arg: string): [string, string | undefined] {
  const eq = arg.indexOf('=');
  return eq < 0 ? [arg, undefined] : [arg.slice(0, eq), arg.slice(eq + 1)];
}
