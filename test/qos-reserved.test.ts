// QoS-level memory reservation on the real runtime (integration; upstream QOSReserved): with
// --feature-gates=QOSReserved=true --qos-reserved=memory=100%, the kubepods/burstable memory
// limit is node allocatable minus the Guaranteed pods' memory requests (besteffort also minus
// the Burstable ones'), kept current as pods come and go; without the gate no limit is written.
// Cgroup v1 memory.limit_in_bytes here; v2 memory.max where that is what exists.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Pod } from '../src/kube/types.ts';
import { BUSYBOX_IMAGE, SLEEP_UNTIL_TERM, assertNodeReady, poll, withKubelet } from './harness.ts';

const CGROUP = '/sys/fs/cgroup';
const START_TIMEOUT_MS = 60_000;
const UPDATE_TIMEOUT_MS = 40_000;
const Mi = 1024 * 1024;

before(assertNodeReady);

/** The memory limit file of a cgroup: v1 memory.limit_in_bytes, or v2 memory.max. */
async function memoryLimitFile(cgroup: string): Promise<{ file: string; v2: boolean }> {
  const v2 = await access(path.join(CGROUP, 'cgroup.controllers')).then(() => true, () => false);
  return v2 ? { file: path.join(CGROUP, cgroup, 'memory.max'), v2 } : { file: path.join(CGROUP, 'memory', cgroup, 'memory.limit_in_bytes'), v2 };
}

/** The memory limit in bytes; Infinity when unlimited (v2 "max", v1 the page-rounded int64 max). */
async function memoryLimit(cgroup: string): Promise<number> {
  const text = (await readFile((await memoryLimitFile(cgroup)).file, 'utf8')).trim();
  return text === 'max' || Number(text) > 2 ** 62 ? Infinity : Number(text);
}

/** Lifts the QoS cgroups' memory limits (what a kubelet without QOSReserved never touches). */
async function unlimitQosMemory(): Promise<void> {
  for (const cg of ['/kubepods/burstable', '/kubepods/besteffort']) {
    const { file, v2 } = await memoryLimitFile(cg);
    await writeFile(file, v2 ? 'max' : '-1').catch(() => undefined);
  }
}

const podManifest = (name: string, resources: string): string => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEP_UNTIL_TERM)}]
    resources:
${resources}`;

const GUARANTEED = podManifest('guaranteed', `      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: 100m, memory: 64Mi}
`);
const BURSTABLE = podManifest('burstable', `      requests: {cpu: 10m, memory: 32Mi}
`);
const running = (p: Pod): boolean => p.status?.phase === 'Running';

test('QOSReserved with memory=100%: burstable and besteffort are limited to allocatable minus the higher classes\' memory requests, and follow the pods', { timeout: 240_000 }, async (t) => {
  try {
    await withKubelet(t, async (h) => {
      // kubepods is limited to node allocatable (nothing reserved here): the base of the QoS limits.
      const allocatable = await memoryLimit('/kubepods');
      assert.ok(Number.isFinite(allocatable), 'kubepods has a memory limit (node allocatable)');
      let seen = '';
      const expect = async (burstable: number, bestEffort: number, what: string): Promise<void> => {
        await poll(async () => {
          const [bu, be] = [await memoryLimit('/kubepods/burstable'), await memoryLimit('/kubepods/besteffort')];
          seen = `burstable ${bu} (want ${burstable}), besteffort ${be} (want ${bestEffort}), allocatable ${allocatable}`;
          return bu === burstable && be === bestEffort;
        }, UPDATE_TIMEOUT_MS, what, () => seen);
      };
      await expect(allocatable, allocatable, 'no pods: both QoS limits at allocatable');

      await h.writeManifest('guaranteed.yaml', GUARANTEED);
      const g = await h.waitForPod('guaranteed', running, START_TIMEOUT_MS, 'Running');
      assert.equal(g.status?.qosClass, 'Guaranteed');
      await expect(allocatable - 64 * Mi, allocatable - 64 * Mi, 'the Guaranteed request taken out of burstable and besteffort');

      await h.writeManifest('burstable.yaml', BURSTABLE);
      const b = await h.waitForPod('burstable', running, START_TIMEOUT_MS, 'Running');
      assert.equal(b.status?.qosClass, 'Burstable');
      await expect(allocatable - 64 * Mi, allocatable - 96 * Mi, 'the Burstable request also taken out of besteffort');

      await h.removeManifest('guaranteed.yaml');
      await expect(allocatable, allocatable - 32 * Mi, 'burstable back up once the Guaranteed pod is gone');
      await h.removeManifest('burstable.yaml');
      await expect(allocatable, allocatable, 'besteffort back up once the Burstable pod is gone');
    }, { extraArgs: ['--feature-gates=QOSReserved=true', '--qos-reserved=memory=100%'] });
  } finally {
    await unlimitQosMemory();
  }
});

test('without the QOSReserved gate, qosReserved writes no QoS memory limit (as upstream)', { timeout: 120_000 }, async (t) => {
  await unlimitQosMemory();
  await withKubelet(t, async (h) => {
    await h.writeManifest('guaranteed.yaml', GUARANTEED);
    await h.waitForPod('guaranteed', running, START_TIMEOUT_MS, 'Running');
    // The pod's cgroup (and the QoS update before it) is made before the sandbox: by now it is done.
    assert.equal(await memoryLimit('/kubepods/burstable'), Infinity);
    assert.equal(await memoryLimit('/kubepods/besteffort'), Infinity);
    await h.removeManifest('guaranteed.yaml');
  }, { extraArgs: ['--qos-reserved=memory=100%'] });
});

test('an unrecognized feature gate or a bad qosReserved stops start-up (exit code 2) naming it', { timeout: 60_000 }, async () => {
  const bin = fileURLToPath(new URL('../bin/tskubelet', import.meta.url));
  for (const [arg, message] of [
    ['--feature-gates=NoSuchGate=true', 'invalid configuration: field "featureGates" (flag --feature-gates): unrecognized feature gate: NoSuchGate'],
    ['--feature-gates=SidecarContainers=false', 'cannot set feature gate SidecarContainers to false, feature is locked to true'],
    ['--qos-reserved=memory=150%', 'invalid configuration: field "qosReserved" (flag --qos-reserved): must be a map of memory'],
    ['--qos-reserved=cpu=50%', 'invalid configuration: field "qosReserved" (flag --qos-reserved)'],
  ] as const) {
    const err = await promisify(execFile)(bin, [arg], { timeout: 30_000 }).then(() => null, (e: unknown) => e as { code?: number; stderr?: string });
    assert.ok(err, `${arg}: tskubelet must not start`);
    assert.equal(err.code, 2, arg);
    assert.ok(err.stderr?.includes(message), `${arg}: ${err.stderr}`);
  }
});
