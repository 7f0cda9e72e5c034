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

/**
 * Parses the command line with `parse`. A UsageError is printed (its message prefixed with the
 * benchmark's name, then the usage; the usage alone for --help) and becomes the exit code to
 * return: 2 for bad arguments, 0 for --help. Other errors propagate.
 */
export function parseCommandLine<T>(bench: string, usage: string, parse: (argv: string[]) => T): { opts: T } | { exitCode: number } {
  try {
    return { opts: parse(process.argv.slice(2)) };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(err.message ? `${bench}: ${err.message}\n${usage}` : usage);
    return { exitCode: err.message ? 2 : 0 };
  }
}
