// Faults of a tskubelet node of the REAL control plane (npm run cluster:up), with the real
// containerd:
//   - tskubelet killed with SIGKILL and restarted: no pod restarts, the node Ready within seconds;
//   - the API server stopped for a minute (ONLY kube-apiserver; etcd, the controller-manager and
//     the scheduler keep running): every pod keeps running and nothing restarts; once it is back
//     (scripts/cluster.sh up starts what is missing) a deletion is carried out and the statuses
//     and the node converge.
// The API server is always started again, even when a test fails.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Pod } from '../src/kube/types.ts';
import { SLEEP_UNTIL_TERM, containerIdOf } from './harness.ts';
import { ClusterNode, busybox, clusterUp, eventFrom, isRunningAndReady, kubectl, nodeCondition, podCondition, restartControllers, stopApiServer } from './cluster-harness.ts';

const START_TIMEOUT_MS = 60_000;
/** The outage, as the issue says: "the API server stopped for a minute". */
const OUTAGE_MS = 60_000;
/** How often the runtime is checked during the outage. */
const OUTAGE_CHECK_EVERY_MS = 2_000;
/** "Ready again within seconds" after a restart of tskubelet. */
const RESTART_READY_MS = 10_000;
/**
 * After the API server is back: the pod watch reconnects with a back-off that has grown to up to
 * 30 s during the outage (upstream's reflector caps it at 30 s too), then the deletion takes a
 * second or two.
 */
const AFTER_OUTAGE_MS = 60_000;

let node: ClusterNode | undefined;
/** True while the API server is down because of this file: after() starts it again. */
let apiServerDown = false;
/** True once the API server was stopped: after() restarts the controllers (see restartControllers). */
let outageHappened = false;

before(async () => {
  node = await ClusterNode.create();
  await node.start();
  await node.waitForNodeReady();
});

after(async () => {
  if (apiServerDown) {
    await clusterUp();
    apiServerDown = false;
  }
  try {
    await node?.cleanup();
  } finally {
    if (outageHappened) await restartControllers();
  }
});

/** What must not change across a fault: each pod's container ID and restart count. */
interface Snapshot {
  name: string;
  uid: string;
  containerId: string;
  restartCount: number;
}

async function runTwoPods(n: ClusterNode, ns: string): Promise<Snapshot[]> {
  for (const name of ['a', 'b']) await n.createPod(ns, name, { terminationGracePeriodSeconds: 10, containers: [busybox('main', SLEEP_UNTIL_TERM)] });
  const pods = await n.waitForPods(ns, (ps) => ps.length === 2 && ps.every(isRunningAndReady) && ps, START_TIMEOUT_MS, 'pods a and b Running and Ready');
  return pods
    .map((p) => ({
      name: p.metadata!.name!,
      uid: p.metadata!.uid!,
      containerId: containerIdOf(p.status!.containerStatuses![0]!.containerID),
      restartCount: p.status!.containerStatuses![0]!.restartCount,
    }))
    .sort((x, y) => x.name.localeCompare(y.name));
}

/** Fails unless the runtime has exactly the snapshot's container for each pod, running, first attempt. */
async function assertRuntimeUnchanged(n: ClusterNode, snapshots: Snapshot[], when: string): Promise<void> {
  for (const s of snapshots) {
    const rt = await n.runtimePod(s.uid);
    assert.deepEqual(
      rt.containers.map((c) => [c.id, c.state, c.attempt, c.restartCount]),
      [[s.containerId, 'CONTAINER_RUNNING', 0, 0]],
      `${when}: pod ${s.name} must keep its one running container`,
    );
    assert.equal(rt.sandboxes.length, 1, `${when}: pod ${s.name} must keep its sandbox`);
  }
}

/** Fails unless the API shows each pod Running and Ready with the snapshot's container and restart count. */
function assertApiUnchanged(pods: Pod[], snapshots: Snapshot[], when: string): void {
  for (const s of snapshots) {
    const p = pods.find((x) => x.metadata?.uid === s.uid);
    assert.ok(p && isRunningAndReady(p), `${when}: pod ${s.name} Running and Ready in the API: ${JSON.stringify(p?.status)}`);
    const cs = p.status!.containerStatuses![0]!;
    assert.equal(containerIdOf(cs.containerID), s.containerId, `${when}: pod ${s.name} container ID`);
    assert.equal(cs.restartCount, s.restartCount, `${when}: pod ${s.name} restartCount`);
  }
}

test('tskubelet killed with SIGKILL and restarted: no container restarts, the node Ready within seconds', { timeout: 120_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'kill9', async (ns) => {
    const before = await runTwoPods(n, ns);
    const leaseBefore = Date.parse((await n.getLease())?.spec?.renewTime ?? '');

    await n.harness.kill9();
    const killed = Date.now();
    await assertRuntimeUnchanged(n, before, 'right after SIGKILL');
    // The node lifecycle controller waits 50 s (node-monitor-grace-period) before it doubts a node.
    assert.equal(nodeCondition(await n.getNode(), 'Ready'), 'True', 'the node is still Ready right after the kill');

    await n.start();
    const restarted = Date.now();
    t.diagnostic(`tskubelet up again ${restarted - killed} ms after SIGKILL`);
    await n.waitForNodeReady(RESTART_READY_MS);
    const lease = await n.until(async () => {
      const at = Date.parse((await n.getLease())?.spec?.renewTime ?? '');
      return at >= restarted - 1_000 && at;
    }, RESTART_READY_MS, 'the lease to be renewed by the new process');
    t.diagnostic(`node Ready, lease renewed ${lease - restarted} ms after the restart (previous renewal ${Math.round((killed - leaseBefore) / 1000)} s before the kill)`);

    // The new process adopts the pods: same containers, nothing restarted, statuses unchanged.
    await n.waitForPods(ns, (ps) => ps.length === 2 && ps.every(isRunningAndReady), 10_000, 'pods Running and Ready after the restart');
    await new Promise((r) => setTimeout(r, 3_000)); // a few sync periods of the new process
    await assertRuntimeUnchanged(n, before, 'after the restart');
    assertApiUnchanged(await n.listPods(ns), before, 'after the restart');
    const kubeletPods = (await n.harness.getPods()).filter((p) => p.metadata?.namespace === ns);
    assert.equal(kubeletPods.length, 2, 'the new process runs both pods');
    for (const s of before) {
      const started = (await n.events(ns, s.uid)).filter((e) => e.reason === 'Started' && eventFrom(e) === 'kubelet');
      assert.equal(started.reduce((sum, e) => sum + (e.count ?? 1), 0), 1, `pod ${s.name} was started once`);
    }
  });
});

test('the API server stopped for a minute: pods keep running; when it is back, a deletion is carried out and statuses converge', { timeout: 300_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'outage', async (ns) => {
    const before = await runTwoPods(n, ns);

    let checks = 0;
    const stoppedAt = Date.now();
    apiServerDown = true;
    outageHappened = true;
    let exited: Promise<void> = Promise.resolve();
    try {
      const stopped = await stopApiServer();
      exited = stopped.exited;
      t.diagnostic(`kube-apiserver (pid ${stopped.pid}) stopped listening ${Date.now() - stoppedAt} ms after SIGTERM`);
      // Meanwhile: tskubelet stays up and healthy, the containers keep running, nothing restarts.
      while (Date.now() - stoppedAt < OUTAGE_MS) {
        assert.ok(n.harness.running, `tskubelet exited during the outage\n${n.logTail()}`);
        assert.equal((await n.harness.healthz()).body, 'ok', 'tskubelet /healthz during the outage');
        await assertRuntimeUnchanged(n, before, `${Math.round((Date.now() - stoppedAt) / 1000)} s into the outage`);
        checks++;
        await new Promise((r) => setTimeout(r, OUTAGE_CHECK_EVERY_MS));
      }
    } finally {
      await exited;
      const upStarted = Date.now();
      await clusterUp();
      apiServerDown = false;
      t.diagnostic(`API server down for ${Math.round((upStarted - stoppedAt) / 1000)} s (${checks} runtime checks), scripts/cluster.sh up took ${Date.now() - upStarted} ms`);
    }
    const back = Date.now();
    // To tell whether the node lifecycle controller marked pod b not Ready when it saw the node's
    // old heartbeat (then the kubelet must write Ready back), watch the pods from now on.
    const watch = await n.watchPods(ns);
    const bAtReturn = await n.getPod(ns, 'b');

    // The node reports again: the lease is renewed (no renewal can happen while the API server is
    // down, so any renewTime after the stop is new) and the node is Ready.
    const renewed = await n.until(async () => {
      const at = Date.parse((await n.getLease())?.spec?.renewTime ?? '');
      return at > stoppedAt && at;
    }, 30_000, 'the lease to be renewed after the outage');
    await n.waitForNodeReady(AFTER_OUTAGE_MS);
    t.diagnostic(`after the outage: first lease renewal +${renewed - back} ms, node Ready +${Date.now() - back} ms`);

    // A deletion made now is carried out: the kubelet stops pod a and deletes it.
    const deleteAt = Date.now();
    await kubectl(['delete', 'pod', 'a', '-n', ns, '--wait=false']);
    const a = before.find((s) => s.name === 'a')!;
    const b = before.find((s) => s.name === 'b')!;
    await n.waitForPodGone(ns, 'a', a.uid, AFTER_OUTAGE_MS);
    t.diagnostic(`pod a deleted ${Date.now() - deleteAt} ms after kubectl delete (+${Date.now() - back} ms after the API server was back)`);
    await n.until(async () => {
      const rt = await n.runtimePod(a.uid);
      return rt.sandboxes.length === 0 && rt.containers.length === 0;
    }, 15_000, 'pod a removed from the runtime');

    // Statuses converge: pod b Running and Ready with the same container (the node lifecycle
    // controller may have marked it not Ready meanwhile), the node Ready.
    const bPod = await n.waitForPod(ns, 'b', isRunningAndReady, AFTER_OUTAGE_MS, 'Running and Ready after the outage');
    await watch.stop();
    const markedNotReady = [bAtReturn, ...watch.events.map((e) => e.pod)].some((p) => p?.metadata?.name === 'b' && podCondition(p, 'Ready') === 'False');
    t.diagnostic(`after the outage: pod b Running and Ready +${Date.now() - back} ms (marked not Ready by the controller meanwhile: ${markedNotReady ? 'yes' : 'no'})`);
    assertApiUnchanged([bPod], [b], 'after the outage');
    await assertRuntimeUnchanged(n, [b], 'after the outage');
    assert.equal(nodeCondition(await n.getNode(), 'Ready'), 'True');
  });
});
