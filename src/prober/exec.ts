// Exec probes (upstream pkg/probe/exec over the CRI ExecSync): the command runs in the container
// with the probe's timeout; exit code 0 succeeds, any other fails with the command's output
// (stdout then stderr, at most 10 KiB); a timeout fails with upstream's message.
import type { RuntimeService } from '../cri/client.ts';
import type { Container } from '../kube/types.ts';
import { expandVariables } from '../kuberuntime/envvars.ts';
import type { ProbeOutcome } from './results.ts';

/** The part of the runtime exec probes and hooks use. */
export type ExecRunner = Pick<RuntimeService, 'execSync'>;

/** Output kept from an exec probe (upstream maxReadLength, 10 KiB). */
export const MAX_EXEC_OUTPUT_BYTES = 10 * 1024;
const GRPC_DEADLINE_EXCEEDED = 4;

/**
 * Upstream ExpandContainerCommandOnlyStatic: `$(VAR)` in a probe command expands against the
 * container's literal env values only (a valueFrom variable expands to '').
 */
export function expandProbeCommand(command: string[], container: Container): string[] {
  const env = new Map((container.env ?? []).map((e) => [e.name, e.value ?? '']));
  return command.map((s) => expandVariables(s, (name) => env.get(name)));
}

/** Whether an ExecSync failure is its timeout (the runtime answers DEADLINE_EXCEEDED). */
export function isExecTimeout(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === GRPC_DEADLINE_EXCEEDED) return true;
    if (e instanceof Error && /deadline exceeded|timeout .* exceeded/i.test(e.message)) return true;
    if (!(e instanceof Error) && typeof e !== 'object') break;
  }
  return false;
}

/** Stdout then stderr, capped, as text. */
export function execOutput(stdout: Buffer, stderr: Buffer, max = MAX_EXEC_OUTPUT_BYTES): string {
  return Buffer.concat([stdout, stderr]).subarray(0, max).toString('utf8');
}

/**
 * Runs an exec probe. Resolves to success/failure; rejects (a prober error, the result is
 * thrown away) when the runtime could not run the command at all, or when `signal` aborts.
 */
export async function execProbe(runner: ExecRunner, containerId: string, command: string[], timeoutSeconds: number, signal?: AbortSignal): Promise<ProbeOutcome> {
  let res;
  try {
    res = await runner.execSync(containerId, command, timeoutSeconds, signal);
  } catch (err) {
    if (signal?.aborted) throw err;
    if (isExecTimeout(err)) return { result: 'failure', output: `command ${JSON.stringify(command.join(' '))} timed out` };
    throw err;
  }
  const output = execOutput(res.stdout, res.stderr);
  return { result: res.exitCode === 0 ? 'success' : 'failure', output };
}
