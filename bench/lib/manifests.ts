// The bench's static pod manifests: one busybox container sleeping an hour, pulled only if not
// present, a one-second termination grace (busybox `sleep` as PID 1 ignores SIGTERM, so the
// grace period is what each stop costs), and the bench label so leftovers can be found.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_LABEL } from './runtime.ts';

export const BENCH_IMAGE = '127.0.0.1:5000/busybox:1.36';
export const PAUSE_IMAGE = '127.0.0.1:5000/pause:3.10';
/** Seconds a bench pod may take to stop; short so that each round's clean-up is quick. */
export const TERMINATION_GRACE_S = 1;

/** The manifest of one bench pod (YAML). `name` is the manifest's pod name (tskubelet appends -<node>). */
export function manifestText(name: string, runId: string): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${name}`,
    '  namespace: default',
    '  labels:',
    `    ${BENCH_LABEL}: "${runId}"`,
    'spec:',
    `  terminationGracePeriodSeconds: ${TERMINATION_GRACE_S}`,
    '  containers:',
    '    - name: sleep',
    `      image: ${BENCH_IMAGE}`,
    '      imagePullPolicy: IfNotPresent',
    '      command: ["sleep", "3600"]',
    '',
  ].join('\n');
}

/** The manifest file name of a bench pod. */
export function manifestFile(name: string): string {
  return `${name}.yaml`;
}

/**
 * Writes every manifest to `stageDir` first, then renames them one after the other into
 * `manifestDir` (same file system: each appears whole, at once), as fast as possible. Returns,
 * per pod name, the wall-clock time right after its rename. Blocking file system calls on
 * purpose: nothing else of the bench runs in between, so the times are tight.
 */
export function writeManifests(pods: readonly { name: string; text: string }[], stageDir: string, manifestDir: string, now: () => number): Map<string, number> {
  for (const p of pods) writeFileSync(join(stageDir, manifestFile(p.name)), p.text, { mode: 0o644 });
  const written = new Map<string, number>();
  for (const p of pods) {
    renameSync(join(stageDir, manifestFile(p.name)), join(manifestDir, manifestFile(p.name)));
    written.set(p.name, now());
  }
  return written;
}
