// Removing a manifest stops and removes its pod: containers get SIGTERM and the grace period,
// then the sandbox, the containers, the log files and the pod folder go (integration).
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { before, test } from 'node:test';
import { isNotFound } from '../src/common/errors.ts';
import { BUSYBOX_IMAGE, CONTAINER_LOGS_DIR, POD_LOGS_DIR, SLEEP_UNTIL_TERM, assertNodeReady, containerIdOf, poll, withKubelet } from './harness.ts';

before(assertNodeReady);

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

test('a removed manifest stops its pod quickly (SIGTERM honoured) and removes it from the runtime', (t) =>
  withKubelet(t, async (h) => {
    const manifest = (name: string): string => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: app
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEP_UNTIL_TERM)}]
`;
    await h.writeManifest('doomed.yaml', manifest('doomed'));
    await h.writeManifest('keeper.yaml', manifest('keeper'));
    const running = (p: { status?: { phase?: string } }): boolean => p.status?.phase === 'Running';
    const pod = await h.waitForPod('doomed', running, 30_000, 'Running');
    const keeper = await h.waitForPod('keeper', running, 30_000, 'Running');
    const uid = pod.metadata!.uid!;
    const before = await h.runtimePod(uid);
    assert.equal(before.sandboxes.length, 1);
    assert.equal(before.containers.length, 1);
    const containerId = containerIdOf(pod.status?.containerStatuses?.[0]?.containerID);
    assert.equal(before.containers[0]!.id, containerId);
    const podName = h.podName('doomed');
    const logDir = `${POD_LOGS_DIR}/default_${podName}_${uid}`;
    const logLink = `${CONTAINER_LOGS_DIR}/${podName}_default_app-${containerId}.log`;
    const podDir = `${h.rootDir}/pods/${uid}`;
    for (const p of [logDir, logLink, podDir]) assert.ok(await exists(p), `${p} exists while the pod runs`);

    // Watch the container closely while it stops, to see how it ended.
    let lastSeen: { state: string; exitCode: number; finishedAtMs: number } | null = null;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        try {
          const s = await h.cri.containerStatus(containerId);
          lastSeen = { state: s.state, exitCode: s.exit_code, finishedAtMs: s.finished_at / 1e6 };
        } catch (err) {
          if (isNotFound(err)) return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const removedAt = Date.now();
    await h.removeManifest('doomed.yaml');
    await h.waitFor((pods) => !pods.some((p) => p.metadata?.uid === uid), 5_000, `${podName} gone from /pods`);
    const gone = await poll(
      async () => {
        const rt = await h.runtimePod(uid);
        return rt.sandboxes.length === 0 && rt.containers.length === 0 ? Date.now() : undefined;
      },
      5_000,
      `sandbox and containers of ${podName} gone from the runtime`,
    );
    watching = false;
    await watcher;
    const tookMs = gone - removedAt;
    t.diagnostic(`manifest removed -> pod gone from the runtime in ${tookMs} ms; container last seen ${JSON.stringify(lastSeen)}`);
    // The container exits on SIGTERM at once: far less than the 2 s grace period + SIGKILL.
    assert.ok(tookMs < 2_000, `removal took ${tookMs} ms: the container should have stopped on SIGTERM, not after the 2 s grace period`);
    const seen = lastSeen as { state: string; exitCode: number; finishedAtMs: number } | null;
    if (seen?.state === 'CONTAINER_EXITED') {
      assert.equal(seen.exitCode, 0, 'the container exited through its TERM trap (not SIGKILL)');
      assert.ok(seen.finishedAtMs - removedAt < 1_500, 'it stopped soon after the removal');
    }
    // Its files are gone too; the other pod is untouched.
    for (const p of [logDir, logLink, podDir]) assert.equal(await exists(p), false, `${p} removed`);
    const still = await h.getPod('keeper');
    assert.equal(still?.status?.phase, 'Running');
    assert.equal(still?.status?.containerStatuses?.[0]?.containerID, keeper.status?.containerStatuses?.[0]?.containerID);
    assert.equal(still?.status?.containerStatuses?.[0]?.restartCount, 0);
  }));
