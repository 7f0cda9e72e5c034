// Container garbage collection with upstream's policy flags (integration, real containerd; about
// 2 min): --maximum-dead-containers-per-container keeps that many dead instances of a crash-looping
// container, the newest ones; with --minimum-container-ttl-duration the pruning is left to the GC
// loop, which runs at start-up and then every minute; a removed pod leaves nothing behind, also
// when its manifest goes right after a restart.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { BUSYBOX_IMAGE, assertNodeReady, poll, type Harness, type RuntimeContainer, withKubelet } from './harness.ts';

before(assertNodeReady);

const crashPod = (command: string): string => `
apiVersion: v1
kind: Pod
metadata:
  name: crash
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  containers:
  - name: crash
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "${command}"]
`;

const dead = (cs: RuntimeContainer[]): RuntimeContainer[] => cs.filter((c) => c.state === 'CONTAINER_EXITED');
const restartCounts = (cs: RuntimeContainer[]): number[] => cs.map((c) => c.restartCount).sort((a, b) => a - b);

/** Removes the pod's manifest and waits until the runtime has no sandbox or container of it left. */
async function removeAndCheckNothingLeft(h: Harness, uid: string): Promise<void> {
  await h.removeManifest('crash.yaml');
  await poll(async () => {
    const rt = await h.runtimePod(uid);
    return rt.sandboxes.length === 0 && rt.containers.length === 0;
  }, 20_000, 'the removed pod to leave no sandbox and no container');
}

test('--maximum-dead-containers-per-container=2 keeps the two newest dead instances of a crash-looping container', (t) =>
  withKubelet(t, async (h) => {
    // Each attempt runs 3 s: restarted at once, then after 10 s (CrashLoopBackOff).
    await h.writeManifest('crash.yaml', crashPod('sleep 3; exit 1'));
    const pod = await h.waitForPod('crash', (p) => !!p.status?.containerStatuses?.[0]?.containerID, 30_000, 'first container created');
    const uid = pod.metadata!.uid!;
    let maxDead = 0;
    const observe = async (): Promise<RuntimeContainer[]> => {
      const cs = (await h.runtimePod(uid)).containers;
      maxDead = Math.max(maxDead, dead(cs).length);
      return cs;
    };
    // While the third instance runs, both dead ones stay (the default, 1, would keep only the newest).
    const whileRunning = await poll(async () => {
      const cs = await observe();
      return cs.some((c) => c.restartCount === 2 && c.state === 'CONTAINER_RUNNING') && cs;
    }, 30_000, 'the third instance (restartCount 2) to run');
    assert.deepEqual(restartCounts(dead(whileRunning)), [0, 1], 'two dead instances kept while the newest runs');
    // Once it exited too, the oldest goes: the two newest dead instances are kept.
    const after = await poll(async () => {
      const cs = await observe();
      const d = dead(cs);
      return d.some((c) => c.restartCount === 2) && !d.some((c) => c.restartCount === 0) && cs;
    }, 15_000, 'the third instance to exit and the first to be removed');
    assert.deepEqual(restartCounts(dead(after)), [1, 2], 'the newest two dead instances kept');
    assert.ok(maxDead <= 3, `never more than one dead instance over the limit, even for a moment (saw ${maxDead})`);
    await removeAndCheckNothingLeft(h, uid);
  }, { extraArgs: ['--maximum-dead-containers-per-container=2'] }));

/** Starts the crash-looping pod and waits until the runtime holds three dead instances of it (~11 s). */
async function threeDeadInstances(h: Harness): Promise<{ uid: string; before: RuntimeContainer[] }> {
  await h.writeManifest('crash.yaml', crashPod('exit 1'));
  const pod = await h.waitForPod('crash', (p) => !!p.status?.containerStatuses?.[0]?.containerID, 30_000, 'first container created');
  const uid = pod.metadata!.uid!;
  const before = await poll(async () => {
    const cs = (await h.runtimePod(uid)).containers;
    return dead(cs).length >= 3 && cs;
  }, 30_000, 'three dead instances');
  assert.deepEqual(restartCounts(dead(before)).slice(0, 3), [0, 1, 2]);
  return { uid, before };
}

test('with --minimum-container-ttl-duration the GC loop prunes (every minute), not the pod sync', (t) =>
  withKubelet(t, async (h) => {
    const startedMs = Date.now();
    // Three dead instances after ~11 s: the sync leaves them all (a minimum age is set).
    const { uid } = await threeDeadInstances(h);
    const gcLogs = (): number => h.logRecords().filter((r) => r.component === 'container-gc' && r.msg === 'Container garbage collection removed dead containers and sandboxes').length;
    assert.equal(gcLogs(), 0, 'nothing removed yet');

    // The round a minute after start-up (the first one found nothing dead) removes the oldest
    // instances and keeps the newest dead one and the one before it (the status' lastState).
    const after = await poll(async () => {
      const cs = (await h.runtimePod(uid)).containers;
      return !cs.some((c) => c.restartCount === 0) && cs;
    }, Math.max(5_000, startedMs + 80_000 - Date.now()), 'the GC loop to remove the oldest dead instance');
    const kept = restartCounts(dead(after));
    assert.ok(kept.length >= 1 && kept.length <= 2, `at most the newest dead instance and the one before it are kept: ${JSON.stringify(kept)}`);
    // The runtime shows the removal a moment before the GC round ends and logs it.
    await poll(() => gcLogs() >= 1, 5_000, 'the GC loop to log its removal');
    await removeAndCheckNothingLeft(h, uid);
  }, { extraArgs: ['--minimum-container-ttl-duration=1s', '--maximum-dead-containers-per-container=1'] }));

// Regression: a manifest removed right after a restart was noticed only by the file source's
// 20 s rescan when the removal fell between its first scan and the start of its folder watch.
test('a restart runs a GC round at once; a manifest removed right after it stops the pod at once', (t) =>
  withKubelet(t, async (h) => {
    const { uid, before } = await threeDeadInstances(h);
    // The GC loop only counts containers older than the minimum age (1 s): let the newest age.
    const newest = Math.max(...before.map((c) => c.createdAtMs));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, newest + 1_500 - Date.now())));

    await h.stop();
    await h.start();
    const after = await poll(async () => {
      const cs = (await h.runtimePod(uid)).containers;
      return !cs.some((c) => c.restartCount === 0) && cs;
    }, 15_000, 'the GC round at start-up to remove the oldest dead instance');
    assert.ok(after.some((c) => c.restartCount === 2), `the newest dead instance before the restart is kept: ${JSON.stringify(restartCounts(after))}`);
    // Within the 20 s of removeAndCheckNothingLeft: a removal seen only by the rescan comes too late.
    await removeAndCheckNothingLeft(h, uid);
  }, { extraArgs: ['--minimum-container-ttl-duration=1s', '--maximum-dead-containers-per-container=1'] }));
