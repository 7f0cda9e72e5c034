// CrashLoopBackOff with upstream's delays: the first exit is restarted at once, then 10 s, 20 s,
// doubling to 300 s (integration, real containerd; takes about 35 s).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { ContainerStatus } from '../src/kube/types.ts';
import { BUSYBOX_IMAGE, POLL_MS, assertNodeReady, poll, type RuntimeContainer, withKubelet } from './harness.ts';

before(assertNodeReady);

/** Tolerance on each gap (s): relist period (1 s) plus scheduling on a busy 2-core machine. */
const LATE_S = 3;
/** Earliest acceptable restart before the back-off ends (s): clock granularity only. */
const EARLY_S = 0.5;

test('a failing container is restarted at once, then after 10 s, then after 20 s (CrashLoopBackOff)', (t) =>
  withKubelet(t, async (h) => {
    await h.writeManifest('crash.yaml', `
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
    command: ["sh", "-c", "exit 1"]
`);
    const pod = await h.waitForPod('crash', (p) => !!p.status?.containerStatuses?.[0]?.containerID, 30_000, 'first container created');
    const uid = pod.metadata!.uid!;

    // The kubelet keeps only the newest dead container per name: record every attempt while
    // polling the runtime, and every container status seen on /pods.
    const attempts = new Map<number, RuntimeContainer>(); // by restartCount, once exited
    const statuses: ContainerStatus[] = [];
    await poll(
      async () => {
        const [rt, p] = await Promise.all([h.runtimePod(uid), h.getPod('crash')]);
        for (const c of rt.containers) if (c.state === 'CONTAINER_EXITED' && !attempts.has(c.restartCount)) attempts.set(c.restartCount, c);
        const s = p?.status?.containerStatuses?.[0];
        if (s) statuses.push(s);
        // Done once the 4th attempt (restartCount 3) has started.
        return rt.containers.some((c) => c.restartCount >= 3 && c.startedAtMs > 0) && attempts.has(2);
      },
      50_000,
      'the 4th attempt of the crashing container to start',
      () => `attempts: ${JSON.stringify([...attempts.values()])}\nlast status: ${JSON.stringify(statuses.at(-1))}`,
    );
    const fourth = (await h.runtimePod(uid)).containers.find((c) => c.restartCount === 3)!;

    // Gaps between an attempt's exit and the next attempt's start.
    const starts = [attempts.get(1)!.startedAtMs, attempts.get(2)!.startedAtMs, fourth.startedAtMs];
    const ends = [0, 1, 2].map((i) => attempts.get(i)?.finishedAtMs ?? NaN);
    const gaps = ends.map((end, i) => (starts[i]! - end) / 1000);
    t.diagnostic(`gaps between exit and restart: ${gaps.map((g) => g.toFixed(2)).join(' s, ')} s`);
    for (const [i, expected] of [0, 10, 20].entries()) {
      const gap = gaps[i]!;
      assert.ok(Number.isFinite(gap), `attempt ${i} recorded`);
      assert.ok(gap >= expected - EARLY_S && gap <= expected + LATE_S, `restart ${i + 1} came ${gap.toFixed(2)} s after the exit; expected about ${expected} s`);
    }
    for (const [i, a] of attempts) {
      assert.equal(a.exitCode, 1, `attempt ${i} exit code`);
      assert.equal(a.attempt, i, `attempt ${i}: CRI metadata attempt`);
    }

    // Meanwhile the status said CrashLoopBackOff with upstream's message, and the last exit.
    const backoffMessage = (restarts: number): ContainerStatus | undefined =>
      statuses.find((s) => s.restartCount === restarts && s.state?.waiting?.reason === 'CrashLoopBackOff');
    for (const [restarts, delay] of [[1, 10], [2, 20]] as const) {
      const s = backoffMessage(restarts);
      assert.ok(s, `a CrashLoopBackOff status with restartCount ${restarts} was seen (statuses polled every ${POLL_MS} ms)`);
      assert.ok(
        s.state!.waiting!.message!.startsWith(`back-off ${delay}s restarting failed container=crash pod=${h.podName('crash')}_default(${uid})`),
        `message: ${s.state!.waiting!.message}`,
      );
      assert.equal(s.lastState?.terminated?.exitCode, 1);
      assert.equal(s.lastState?.terminated?.reason, 'Error');
      assert.equal(s.ready, false);
    }
    // restartCount never goes down.
    for (let i = 1; i < statuses.length; i++) {
      assert.ok(statuses[i]!.restartCount >= statuses[i - 1]!.restartCount, `restartCount went from ${statuses[i - 1]!.restartCount} to ${statuses[i]!.restartCount}`);
    }
    const final = await h.getPod('crash');
    assert.equal(final?.status?.phase, 'Running', 'a crash-looping pod with restartPolicy Always stays Running');
    // Dead containers are garbage collected down to the newest one per name (two while the
    // newest instance is itself dead: the one before is the status' lastState), by the next sync.
    const kept = await poll(async () => {
      const n = (await h.runtimePod(uid)).containers.length;
      return n <= 2 && n;
    }, 10_000, 'dead containers garbage collected down to the newest one per name');
    assert.ok(kept <= 2, `at most two containers kept, got ${kept}`);
  }));
