// After a crash (SIGKILL) of tskubelet, a new process with the same flags adopts the running
// pods: no container is restarted or created, no sandbox replaced; a pod whose manifest went
// away meanwhile is removed as an orphan (integration).
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { before, test } from 'node:test';
import type { Pod } from '../src/kube/types.ts';
import { BUSYBOX_IMAGE, CONTAINER_LOGS_DIR, POD_LOGS_DIR, SLEEP_UNTIL_TERM, assertNodeReady, containerIdOf, poll, withKubelet } from './harness.ts';

before(assertNodeReady);

/** How long the new kubelet is watched after it reports the pods Running again (ms). */
const OBSERVE_MS = 5_000;

interface Snapshot {
  uid: string;
  sandboxIds: string[];
  containers: { name: string; id: string; state: string; restartCount: number }[];
  statusIds: Record<string, string>;
  statusRestarts: Record<string, number>;
}

test('tskubelet killed with SIGKILL and started again adopts its pods without restarting any container', (t) =>
  withKubelet(t, async (h) => {
    await h.writeManifest('plain.yaml', `
apiVersion: v1
kind: Pod
metadata:
  name: plain
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: one
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEP_UNTIL_TERM)}]
  - name: two
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEP_UNTIL_TERM)}]
`);
    await h.writeManifest('with-init.yaml', `
apiVersion: v1
kind: Pod
metadata:
  name: withinit
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: prepare
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "echo prepared"]
  containers:
  - name: app
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEP_UNTIL_TERM)}]
`);
    const allRunning = (pods: Pod[]): Pod[] | undefined => {
      const ours = ['plain', 'withinit'].map((n) => pods.find((p) => p.metadata?.name === h.podName(n)));
      return ours.every((p) => p?.status?.phase === 'Running' && p.status.containerStatuses?.every((s) => s.state?.running)) ? (ours as Pod[]) : undefined;
    };
    const snapshot = async (pods: Pod[]): Promise<Snapshot[]> =>
      Promise.all(
        pods.map(async (p) => {
          const rt = await h.runtimePod(p.metadata!.uid!);
          const all = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
          return {
            uid: p.metadata!.uid!,
            sandboxIds: rt.sandboxes.map((s) => `${s.id}:${s.state}`).sort(),
            containers: rt.containers.map((c) => ({ name: c.name, id: c.id, state: c.state, restartCount: c.restartCount })).sort((a, b) => a.id.localeCompare(b.id)),
            statusIds: Object.fromEntries(all.map((s) => [s.name, containerIdOf(s.containerID)])),
            statusRestarts: Object.fromEntries(all.map((s) => [s.name, s.restartCount])),
          };
        }),
      );

    const before = await snapshot(await h.waitFor(allRunning, 30_000, 'both pods Running'));
    for (const s of before) {
      assert.equal(s.sandboxIds.length, 1, 'one sandbox per pod');
      assert.ok(s.sandboxIds[0]!.endsWith(':SANDBOX_READY'));
    }
    assert.deepEqual(before.map((s) => s.containers.length), [2, 2], 'plain: two containers; withinit: init + app');

    await h.kill9();
    assert.equal(h.running, false);
    await h.start(); // same manifest folder, root dir, node name, ports

    const readopted = await h.waitFor(allRunning, 15_000, 'both pods reported Running by the new process');
    assert.deepEqual(readopted.map((p) => p.metadata?.uid), before.map((s) => s.uid), 'same pod UIDs');
    // Watch for a while: nothing may be restarted, created or replaced.
    const until = Date.now() + OBSERVE_MS;
    while (Date.now() < until) {
      const now = await snapshot(readopted);
      assert.deepEqual(now.map((s) => ({ ...s, statusIds: undefined, statusRestarts: undefined })), before.map((s) => ({ ...s, statusIds: undefined, statusRestarts: undefined })), 'the runtime holds exactly the same sandboxes and containers');
      await delay(500);
    }
    const after = await snapshot(await h.waitFor(allRunning, 1_000, 'both pods still Running'));
    assert.deepEqual(after, before, 'same containers, sandboxes and restart counts in the runtime and in the statuses');
    for (const s of after) for (const [name, n] of Object.entries(s.statusRestarts)) assert.equal(n, 0, `${name} restartCount`);
    assert.ok(h.logLines.some((l) => l.startsWith('[1] ') && l.includes('"reason":"Created"')), 'the first process logged its Created events');
    const secondProcess = h.logLines.filter((l) => l.startsWith('[2] '));
    for (const reason of ['Created', 'Started', 'Killing']) {
      assert.ok(!secondProcess.some((l) => l.includes(`"reason":"${reason}"`)), `the new process logged no ${reason} event`);
    }
  }));

test('a manifest removed while tskubelet is down: the restarted tskubelet removes the pod and its files', (t) =>
  withKubelet(t, async (h) => {
    await h.writeManifest('gone.yaml', `
apiVersion: v1
kind: Pod
metadata:
  name: gone
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEP_UNTIL_TERM)}]
`);
    const pod = await h.waitForPod('gone', (p) => p.status?.phase === 'Running', 30_000, 'Running');
    const uid = pod.metadata!.uid!;
    const containerId = containerIdOf(pod.status?.containerStatuses?.[0]?.containerID);
    const logDir = `${POD_LOGS_DIR}/default_${h.podName('gone')}_${uid}`;
    const logLink = `${CONTAINER_LOGS_DIR}/${h.podName('gone')}_default_app-${containerId}.log`;
    await h.kill9();
    await h.removeManifest('gone.yaml');
    assert.equal((await h.runtimePod(uid)).containers[0]?.state, 'CONTAINER_RUNNING', 'the pod runs on while tskubelet is down');

    await h.start();
    await poll(async () => {
      const rt = await h.runtimePod(uid);
      return rt.sandboxes.length === 0 && rt.containers.length === 0;
    }, 10_000, 'the orphaned pod removed from the runtime');
    assert.deepEqual((await h.getPods()).map((p) => p.metadata?.name), []);
    for (const p of [logDir, logLink, `${h.rootDir}/pods/${uid}`]) {
      assert.equal(await access(p).then(() => true, () => false), false, `${p} removed`);
    }
  }));
