// restartPolicy OnFailure and Never: finished containers are not restarted, the pod ends
// Succeeded or Failed, the exit code and the termination message show in the status (integration).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Pod } from '../src/kube/types.ts';
import { BUSYBOX_IMAGE, assertNodeReady, containerIdOf, poll, withKubelet } from './harness.ts';

before(assertNodeReady);

const pod = (name: string, restartPolicy: string, script: string): string => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  restartPolicy: ${restartPolicy}
  terminationGracePeriodSeconds: 1
  containers:
  - name: job
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(script)}]
`;

test('OnFailure: exit 0 ends Succeeded without restart, exit 1 restarts; Never: exit 3 ends Failed with the termination message', (t) =>
  withKubelet(t, async (h) => {
    await h.writeManifest('ok.yaml', pod('ok', 'OnFailure', 'echo done; exit 0'));
    await h.writeManifest('fail.yaml', pod('fail', 'Never', "printf 'it went wrong' > /dev/termination-log; exit 3"));
    await h.writeManifest('retry.yaml', pod('retry', 'OnFailure', 'exit 1'));
    const terminal = (phase: string) => (p: Pod): boolean => p.status?.phase === phase;
    const ok = await h.waitForPod('ok', terminal('Succeeded'), 30_000, 'Succeeded');
    const fail = await h.waitForPod('fail', terminal('Failed'), 30_000, 'Failed');

    // OnFailure restarts a failed container (the first time at once) and the pod stays Running.
    const retry = await h.waitForPod('retry', (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 30_000, 'restarted once');
    assert.equal(retry.status?.phase, 'Running');

    const okStatus = ok.status!.containerStatuses![0]!;
    assert.equal(okStatus.state?.terminated?.exitCode, 0);
    assert.equal(okStatus.state?.terminated?.reason, 'Completed');
    assert.equal(okStatus.restartCount, 0);
    assert.equal(okStatus.ready, false);
    const failStatus = fail.status!.containerStatuses![0]!;
    assert.equal(failStatus.state?.terminated?.exitCode, 3);
    assert.equal(failStatus.state?.terminated?.reason, 'Error');
    assert.equal(failStatus.state?.terminated?.message, 'it went wrong');
    assert.equal(failStatus.restartCount, 0);
    for (const p of [ok, fail]) {
      const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
      assert.equal(ready?.status, 'False');
      assert.equal(ready?.reason, 'PodCompleted');
    }

    // Nothing is restarted: each pod keeps its single container, and its sandbox is stopped
    // (give the PLEG a few relists to notice anything).
    for (const [name, p] of [['ok', ok], ['fail', fail]] as const) {
      const uid = p.metadata!.uid!;
      await poll(async () => (await h.runtimePod(uid)).sandboxes.every((s) => s.state === 'SANDBOX_NOTREADY'), 10_000, `${name}: sandbox stopped`);
    }
    const relists = Date.now() + 3_000;
    while (Date.now() < relists) {
      for (const [name, p, status] of [['ok', ok, okStatus], ['fail', fail, failStatus]] as const) {
        const rt = await h.runtimePod(p.metadata!.uid!);
        assert.deepEqual(rt.containers.map((c) => c.id), [containerIdOf(status.containerID)], `${name}: only the first container exists`);
        assert.equal(rt.containers[0]!.state, 'CONTAINER_EXITED');
        const now = await h.getPod(name);
        assert.equal(now?.status?.phase, name === 'ok' ? 'Succeeded' : 'Failed');
        assert.equal(now?.status?.containerStatuses?.[0]?.restartCount, 0);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  }));
