// Pods from the REAL control plane (npm run cluster:up) on a tskubelet node and the real
// containerd: a Deployment's pods start, become Ready, tell their story in Events and are deleted
// cleanly; a pod too large for the node is rejected by admission; a pod that exits 0 Succeeds; a
// static pod gets a mirror pod. Every test pins its pods to this node (the scheduler may pick any
// Ready node) and runs in a namespace of its own, deleted afterwards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Pod } from '../src/kube/types.ts';
import { SLEEP_UNTIL_TERM, containerIdOf } from './harness.ts';
import { ClusterNode, busybox, eventFrom, isRunningAndReady, kubectl, podCondition, type ApiEvent } from './cluster-harness.ts';

/** A pod starts within seconds with the image present; allow a loaded 2-core machine. */
const START_TIMEOUT_MS = 60_000;
/** Events are written asynchronously by the kubelet's recorder. */
const EVENTS_TIMEOUT_MS = 15_000;
/**
 * "Gone within a few seconds": the garbage collector deletes the ReplicaSet, then its pods; the
 * kubelet stops them (they exit on SIGTERM at once), writes the final status and deletes them.
 * Far below the 30 s grace period, which a kubelet that does not delete them would take.
 */
const DELETE_TIMEOUT_MS = 15_000;

let node: ClusterNode | undefined;

before(async () => {
  node = await ClusterNode.create();
  await node.start();
  await node.waitForNodeReady();
});

after(async () => {
  await node?.cleanup();
});

const reasonsOf = (events: ApiEvent[], component: string): Set<string> => new Set(events.filter((e) => eventFrom(e) === component).map((e) => e.reason ?? ''));

test('a Deployment of 2 replicas: pods Running and Ready with Events, deleted cleanly with the Deployment', { timeout: 180_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'deploy', async (ns) => {
    const nodeObj = (await n.getNode())!;
    const internalIP = nodeObj.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
    const created = Date.now();
    await n.admin.request('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, {
      body: {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { nodeSelector: n.nodeSelector(), containers: [busybox('main', SLEEP_UNTIL_TERM)] },
          },
        },
      },
    });
    const pods = await n.waitForPods(ns, (ps) => ps.length === 2 && ps.every(isRunningAndReady) && ps, START_TIMEOUT_MS, 'the Deployment\'s 2 pods to be Running and Ready', 'app=web');
    t.diagnostic(`2 pods Running and Ready ${Date.now() - created} ms after the Deployment was created`);

    for (const pod of pods) {
      const name = pod.metadata?.name;
      const s = pod.status!;
      assert.equal(pod.spec?.nodeName, n.nodeName, `${name} scheduled to this node`);
      assert.equal(podCondition(pod, 'PodScheduled'), 'True');
      assert.equal(podCondition(pod, 'Initialized'), 'True');
      assert.equal(podCondition(pod, 'ContainersReady'), 'True');
      assert.equal(podCondition(pod, 'PodReadyToStartContainers'), 'True');
      assert.match(s.podIP ?? '', /^\d+\.\d+\.\d+\.\d+$/, `${name} podIP`);
      assert.deepEqual((s.podIPs ?? []).map((p) => p.ip), [s.podIP]);
      assert.equal(s.hostIP, internalIP, `${name} hostIP is the node's InternalIP`);
      assert.deepEqual((s.hostIPs ?? []).map((p) => p.ip), [internalIP]);
      assert.equal(s.qosClass, 'BestEffort');
      assert.ok(s.startTime, `${name} startTime`);
      assert.equal(s.containerStatuses?.length, 1);
      const cs = s.containerStatuses![0]!;
      assert.equal(cs.name, 'main');
      assert.equal(cs.ready, true);
      assert.equal(cs.started, true);
      assert.equal(cs.restartCount, 0);
      assert.ok(cs.state?.running?.startedAt, JSON.stringify(cs.state));
      assert.match(cs.containerID ?? '', /^containerd:\/\/[0-9a-f]{64}$/);
      assert.ok(cs.image && cs.imageID, `${name} image ${cs.image} imageID ${cs.imageID}`);
      const rt = await n.runtimePod(pod.metadata!.uid!);
      assert.deepEqual(rt.containers.map((c) => [c.id, c.state]), [[containerIdOf(cs.containerID), 'CONTAINER_RUNNING']]);
    }
    const podIPs = new Set(pods.map((p) => p.status?.podIP));
    assert.equal(podIPs.size, 2, 'each pod has its own IP');

    // Events, as `kubectl describe pod` shows them: scheduled by the scheduler, run by the kubelet.
    for (const pod of pods) {
      const uid = pod.metadata!.uid!;
      const events = await n.until(async () => {
        const evs = await n.events(ns, uid);
        const kubelet = reasonsOf(evs, 'kubelet');
        return reasonsOf(evs, 'default-scheduler').has('Scheduled') && ['Pulled', 'Created', 'Started'].every((r) => kubelet.has(r)) && evs;
      }, EVENTS_TIMEOUT_MS, `events Scheduled, Pulled, Created, Started of ${pod.metadata?.name}`).catch(async (err: unknown) => {
        throw new Error(`${(err as Error).message}\nevents: ${JSON.stringify((await n.events(ns, uid)).map((e) => [eventFrom(e), e.reason, e.message]))}`);
      });
      for (const e of events.filter((x) => eventFrom(x) === 'kubelet')) {
        assert.equal(e.source?.host, n.nodeName, `kubelet event ${e.reason} names the node`);
        assert.equal(e.type, 'Normal', `${e.reason}: ${e.message}`);
      }
      assert.ok(events.some((e) => e.reason === 'Started' && e.message === 'Started container main'), JSON.stringify(events.map((e) => e.message)));
    }
    const describe = await kubectl(['describe', 'pod', '-n', ns, pods[0]!.metadata!.name!]);
    for (const line of [/Scheduled\s+\S+\s+default-scheduler\s+Successfully assigned/, /Pulled\s+\S+\s+kubelet\s+Container image/, /Created\s+\S+\s+kubelet\s+Created container main/, /Started\s+\S+\s+kubelet\s+Started container main/]) {
      assert.match(describe, line);
    }

    // Delete the Deployment: the kubelet stops each pod, writes its final status and deletes it (grace 0).
    const watch = await n.watchPods(ns);
    const deleted = Date.now();
    try {
      await kubectl(['delete', 'deployment', 'web', '-n', ns, '--wait=false']);
      for (const pod of pods) await n.waitForPodGone(ns, pod.metadata!.name!, pod.metadata!.uid!, DELETE_TIMEOUT_MS);
    } finally {
      await watch.stop();
    }
    t.diagnostic(`the 2 pods were gone from the API ${Date.now() - deleted} ms after kubectl delete deployment`);
    for (const pod of pods) {
      const uid = pod.metadata!.uid!;
      const seen = watch.events.filter((e) => e.pod.metadata?.uid === uid);
      const marked = seen.find((e) => e.pod.metadata?.deletionTimestamp);
      const gone = seen.find((e) => e.type === 'DELETED');
      assert.ok(marked && gone, `watch saw ${pod.metadata?.name} marked for deletion and deleted: ${JSON.stringify(seen.map((e) => e.type))}`);
      t.diagnostic(`${pod.metadata?.name}: deleted ${gone.atMs - marked.atMs} ms after its deletionTimestamp was set`);
      // Removed with grace period 0 by the kubelet after the final status (containers terminated).
      const last = gone.pod;
      assert.equal(last.metadata?.deletionGracePeriodSeconds, 0, 'deleted with grace period 0');
      const final = last.status?.containerStatuses?.[0];
      assert.ok(final?.state?.terminated, `final status written before the deletion: ${JSON.stringify(last.status)}`);
      assert.equal(final.state.terminated.exitCode, 0, 'the container exited on SIGTERM');
      assert.equal(podCondition(last, 'Ready'), 'False');
      const rt = await n.runtimePod(uid);
      assert.deepEqual([rt.sandboxes.length, rt.containers.length], [0, 0], `runtime objects of ${pod.metadata?.name} removed`);
    }
    await n.until(async () => {
      const evs = await n.events(ns);
      return pods.every((p) => evs.some((e) => e.involvedObject?.uid === p.metadata?.uid && e.reason === 'Killing' && eventFrom(e) === 'kubelet'));
    }, EVENTS_TIMEOUT_MS, 'a Killing event of each deleted pod');
  });
});

test('a pod too large for the node is rejected: phase Failed, OutOfcpu / OutOfmemory', { timeout: 120_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'too-large', async (ns) => {
    const cases = [
      { name: 'too-much-cpu', requests: { cpu: '1000' }, reason: 'OutOfcpu', resource: 'cpu' },
      { name: 'too-much-memory', requests: { memory: '1000Gi' }, reason: 'OutOfmemory', resource: 'memory' },
    ];
    const created: Pod[] = [];
    for (const c of cases) {
      // spec.nodeName: bound directly, so the scheduler does not filter it out.
      created.push(await n.createPod(ns, c.name, { containers: [busybox('main', SLEEP_UNTIL_TERM, { resources: { requests: c.requests } })] }));
    }
    for (const [i, c] of cases.entries()) {
      const pod = await n.waitForPod(ns, c.name, (p) => p.status?.phase === 'Failed', START_TIMEOUT_MS, 'phase Failed');
      assert.equal(pod.status?.reason, c.reason);
      assert.ok(pod.status?.message?.startsWith("Pod was rejected: Node didn't have enough resource:"), pod.status?.message);
      assert.match(pod.status?.message ?? '', new RegExp(`\\b${c.resource}\\b`));
      const rt = await n.runtimePod(created[i]!.metadata!.uid!);
      assert.deepEqual([rt.sandboxes.length, rt.containers.length], [0, 0], 'a rejected pod never runs');
      const events = await n.until(async () => {
        const evs = await n.events(ns, created[i]!.metadata!.uid!);
        return evs.some((e) => e.reason === c.reason) && evs;
      }, EVENTS_TIMEOUT_MS, `a ${c.reason} event`);
      const ev = events.find((e) => e.reason === c.reason)!;
      assert.equal(ev.type, 'Warning');
      assert.equal(eventFrom(ev), 'kubelet');
    }
  });
});

test('a pod that exits 0 with restartPolicy Never Succeeds', { timeout: 120_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'succeed', async (ns) => {
    const created = await n.createPod(ns, 'once', { restartPolicy: 'Never', containers: [busybox('main', 'echo done; exit 0')] });
    const pod = await n.waitForPod(ns, 'once', (p) => p.status?.phase === 'Succeeded', START_TIMEOUT_MS, 'phase Succeeded');
    const cs = pod.status?.containerStatuses?.[0];
    assert.equal(cs?.name, 'main');
    assert.equal(cs.state?.terminated?.reason, 'Completed');
    assert.equal(cs.state.terminated.exitCode, 0);
    assert.equal(cs.restartCount, 0);
    assert.equal(cs.ready, false);
    assert.equal(podCondition(pod, 'Ready'), 'False');
    assert.equal(pod.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'PodCompleted');
    // Terminal is final: it stays Succeeded and is not started again.
    await new Promise((r) => setTimeout(r, 2_000));
    const again = await n.getPod(ns, 'once');
    assert.equal(again?.status?.phase, 'Succeeded');
    const rt = await n.runtimePod(created.metadata!.uid!);
    assert.equal(rt.containers.length, 1, 'not restarted');
  });
});

test('a readiness gate: Ready only once another writer sets its condition True in the status', { timeout: 120_000 }, async (t) => {
  // The kubelet does not sync a pod for a status-only change (its own writes come back as watch
  // events) except when the pod has readiness gates: their conditions live in the status.
  const n = node!;
  await n.inNamespace(t, 'gate', async (ns) => {
    const gate = 'example.com/gate';
    await n.createPod(ns, 'gated', { readinessGates: [{ conditionType: gate }], containers: [busybox('main', SLEEP_UNTIL_TERM)] });
    const waiting = await n.waitForPod(ns, 'gated', (p) => p.status?.containerStatuses?.[0]?.ready === true, START_TIMEOUT_MS, 'container ready');
    assert.equal(podCondition(waiting, 'ContainersReady'), 'True');
    assert.equal(podCondition(waiting, 'Ready'), 'False', 'the gate has no condition yet');
    assert.equal(waiting.status?.conditions?.find((c) => c.type === 'Ready')?.reason, 'ReadinessGatesNotReady');
    await new Promise((r) => setTimeout(r, 3_000)); // the start-up syncs are over: only the gate's change can sync it now
    await kubectl(['patch', 'pod', 'gated', '-n', ns, '--subresource=status', '--type=strategic', '-p', JSON.stringify({ status: { conditions: [{ type: gate, status: 'True' }] } })]);
    const ready = await n.waitForPod(ns, 'gated', (p) => podCondition(p, 'Ready') === 'True', 15_000, 'Ready once the gate is True');
    assert.equal(podCondition(ready, gate), 'True', "the other writer's condition is kept");
  });
});

test('a static pod gets a mirror pod that shows its status; removing the manifest deletes it', { timeout: 120_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'static', async (ns) => {
    const manifest = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'static-web', namespace: ns, labels: { app: 'static-web' } },
      spec: { terminationGracePeriodSeconds: 5, containers: [busybox('main', SLEEP_UNTIL_TERM)] },
    };
    await n.harness.writeManifest('static-web.json', JSON.stringify(manifest));
    const name = `static-web-${n.nodeName}`;
    const nodeUID = (await n.getNode())!.metadata.uid;
    const mirror = await n.waitForPod(ns, name, isRunningAndReady, START_TIMEOUT_MS, 'mirror pod Running and Ready');
    assert.ok(mirror.metadata?.annotations?.['kubernetes.io/config.mirror'], JSON.stringify(mirror.metadata?.annotations));
    assert.equal(mirror.metadata?.annotations?.['kubernetes.io/config.source'], 'file');
    assert.deepEqual(
      (mirror.metadata?.ownerReferences ?? []).map((o) => [o.kind, o.name, o.uid, o.controller]),
      [['Node', n.nodeName, nodeUID, true]],
    );
    assert.equal(mirror.spec?.nodeName, n.nodeName);
    assert.equal(mirror.metadata?.labels?.['app'], 'static-web');
    const cs = mirror.status?.containerStatuses?.[0];
    assert.ok(cs?.state?.running, JSON.stringify(mirror.status));
    // The status is the static pod's: its container runs in the runtime under the static pod's UID.
    const kubeletPod = (await n.harness.getPods()).find((p) => p.metadata?.name === name);
    assert.ok(kubeletPod, 'the kubelet lists the static pod');
    assert.notEqual(kubeletPod.metadata?.uid, mirror.metadata?.uid, 'the mirror pod is a copy with its own UID');
    const rt = await n.runtimePod(kubeletPod.metadata!.uid!);
    assert.deepEqual(rt.containers.map((c) => c.id), [containerIdOf(cs.containerID)]);

    const removed = Date.now();
    await n.harness.removeManifest('static-web.json');
    await n.waitForPodGone(ns, name, mirror.metadata!.uid!, 30_000);
    t.diagnostic(`mirror pod deleted ${Date.now() - removed} ms after the manifest was removed`);
    await n.until(async () => {
      const r = await n.runtimePod(kubeletPod.metadata!.uid!);
      return r.sandboxes.length === 0 && r.containers.length === 0;
    }, 30_000, 'the static pod to be removed from the runtime');
  });
});
