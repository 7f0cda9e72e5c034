// Ephemeral-storage limits on the real runtime (integration, cluster mode: only API pods can be
// evicted, static pods are critical): the eviction manager's local storage checks (upstream
// localStorageEviction) over the writable-layer usage containerd reports in its CRI stats.
// - a container over its own ephemeral-storage limit, in a pod whose summed limit is not
//   exceeded: "Container <name> exceeded its local ephemeral storage limit "5Mi". ";
// - a one-container pod over its limit: the pod-level check comes first (as upstream):
//   "Pod ephemeral local storage usage exceeds the total limit of containers 5Mi. ";
// - a sibling pod without a limit writing as much keeps running.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { Pod } from '../src/kube/types.ts';
import { SLEEP_UNTIL_TERM } from './harness.ts';
import { ClusterNode, busybox } from './cluster-harness.ts';

const START_TIMEOUT_MS = 60_000;
/** containerd refreshes writable-layer usage every 10 s (stats_collect_period); the eviction manager looks every 10 s. */
const EVICTION_TIMEOUT_MS = 90_000;
const WRITE_20MIB = `dd if=/dev/zero of=/big bs=1M count=20 && sync && echo written; ${SLEEP_UNTIL_TERM}`;

let node: ClusterNode | undefined;

after(async () => {
  await node?.cleanup();
});

test('a container over its ephemeral-storage limit gets its pod evicted; a pod without a limit keeps running', { timeout: 240_000 }, async (t) => {
  node = await ClusterNode.create();
  await node.start();
  await node.waitForNodeReady();
  const n = node;
  await n.inNamespace(t, 'ephemeral', async (ns) => {
    const limit = (q: string): Record<string, unknown> => ({ resources: { limits: { 'ephemeral-storage': q } } });
    await n.createPod(ns, 'free', {
      terminationGracePeriodSeconds: 1,
      containers: [busybox('writer', WRITE_20MIB)],
    });
    // The pod's summed limit (1Gi + 5Mi) is not exceeded: the container check decides.
    await n.createPod(ns, 'limited', {
      terminationGracePeriodSeconds: 1,
      containers: [busybox('writer', WRITE_20MIB, limit('5Mi')), busybox('idle', SLEEP_UNTIL_TERM, limit('1Gi'))],
    });
    await n.createPod(ns, 'single', {
      terminationGracePeriodSeconds: 1,
      containers: [busybox('writer', WRITE_20MIB, limit('5Mi'))],
    });
    const running = (p: Pod): boolean => p.status?.phase === 'Running';
    await n.waitForPod(ns, 'free', running, START_TIMEOUT_MS, 'Running');

    const failed = (p: Pod): boolean => p.status?.phase === 'Failed';
    const limited = await n.waitForPod(ns, 'limited', failed, EVICTION_TIMEOUT_MS, 'evicted (Failed)');
    assert.equal(limited.status?.reason, 'Evicted');
    assert.equal(limited.status?.message, 'Container writer exceeded its local ephemeral storage limit "5Mi". ');
    assert.ok(limited.status?.containerStatuses?.every((s) => s.state?.terminated !== undefined), 'its containers are stopped');
    const single = await n.waitForPod(ns, 'single', failed, EVICTION_TIMEOUT_MS, 'evicted (Failed)');
    assert.equal(single.status?.reason, 'Evicted');
    assert.equal(single.status?.message, 'Pod ephemeral local storage usage exceeds the total limit of containers 5Mi. ');
    const events = await n.events(ns, limited.metadata?.uid);
    assert.ok(events.some((e) => e.reason === 'Evicted' && e.type === 'Warning' && e.message === limited.status?.message), `an Evicted event: ${JSON.stringify(events.map((e) => [e.reason, e.message]))}`);

    // The sibling without a limit wrote as much and is still there (its writes are done by now).
    const free = await n.getPod(ns, 'free');
    assert.equal(free?.status?.phase, 'Running');
    assert.equal(free?.status?.containerStatuses?.[0]?.restartCount, 0);
  });
});
