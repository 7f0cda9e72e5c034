// RuntimeClass against the REAL control plane and containerd (a tskubelet node of the cluster,
// test/cluster-harness.ts): the node reads the RuntimeClass (node.k8s.io/v1) of a pod and passes
// its handler to RunPodSandbox; a class whose handler the runtime does not have leaves the pod
// waiting (ContainerCreating) with a FailedCreatePodSandBox event, and a class deleted after the
// pod was admitted gives upstream's NotFound (`runtimeclass.node.k8s.io "x" not found`).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ClusterNode, busybox } from './cluster-harness.ts';
import { SLEEP_UNTIL_TERM } from './harness.ts';

/** A pod's sandbox appears or its failure shows (image present: seconds), ms. */
const POD_TIMEOUT_MS = 60_000;

let node: ClusterNode | undefined;
const cluster = (): ClusterNode => {
  if (!node) throw new Error('the cluster node did not start');
  return node;
};
const classes: string[] = [];

async function createRuntimeClass(handler: string): Promise<string> {
  const name = `tsk-${handler}-${randomBytes(3).toString('hex')}`;
  await cluster().admin.request('POST', '/apis/node.k8s.io/v1/runtimeclasses', { body: { apiVersion: 'node.k8s.io/v1', kind: 'RuntimeClass', metadata: { name }, handler } });
  classes.push(name);
  return name;
}

before(async () => {
  node = await ClusterNode.create();
  await node.start();
});

after(async () => {
  for (const c of classes) await node?.admin.request('DELETE', `/apis/node.k8s.io/v1/runtimeclasses/${c}`).catch(() => undefined);
  await node?.cleanup();
});

const spec = (runtimeClassName: string): Record<string, unknown> => ({
  nodeName: cluster().nodeName, runtimeClassName, terminationGracePeriodSeconds: 1, containers: [busybox('main', SLEEP_UNTIL_TERM)],
});

test('the RuntimeClass handler goes to the runtime: runc runs, an unknown handler waits with FailedCreatePodSandBox', (t) =>
  cluster().inNamespace(t, 'runtimeclass', async (ns) => {
    const runc = await createRuntimeClass('runc');
    const ok = await cluster().createPod(ns, 'with-runc', spec(runc));
    await cluster().waitForPod(ns, 'with-runc', (p) => !!p.status?.containerStatuses?.[0]?.state?.running, POD_TIMEOUT_MS, 'running');
    const sandboxes = (await cluster().runtimePod(ok.metadata?.uid ?? '')).sandboxes;
    assert.equal(sandboxes[0]?.runtime_handler, 'runc');

    const bogus = await createRuntimeClass('nosuchhandler');
    const waiting = await cluster().createPod(ns, 'with-bogus', spec(bogus));
    const w = await cluster().waitForPod(ns, 'with-bogus', (p) => /Failed to create pod sandbox/.test(p.status?.containerStatuses?.[0]?.state?.waiting?.message ?? ''), POD_TIMEOUT_MS, 'waiting on the sandbox');
    assert.equal(w.status?.containerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating');
    assert.equal(w.status?.phase, 'Pending');
    const events = await cluster().events(ns, waiting.metadata?.uid);
    assert.ok(events.some((e) => e.reason === 'FailedCreatePodSandBox' && /nosuchhandler/.test(e.message ?? '')), JSON.stringify(events.map((e) => [e.reason, e.message])));
  }));

test('a RuntimeClass deleted after admission: upstream NotFound, the pod waits', (t) =>
  cluster().inNamespace(t, 'runtimeclass-gone', async (ns) => {
    const gone = await createRuntimeClass('runc');
    // Pods are admitted by the API server only while the class exists; no scheduler places this
    // one, the test binds it itself once the class is gone.
    await cluster().admin.request('POST', `/api/v1/namespaces/${ns}/pods`, {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'late' }, spec: { ...spec(gone), nodeName: undefined, schedulerName: 'tskubelet-test-no-scheduler' } },
    });
    await cluster().admin.request('DELETE', `/apis/node.k8s.io/v1/runtimeclasses/${gone}`);
    // Bind it to this node now (the class is gone): the kubelet must refuse to guess a handler.
    await cluster().admin.request('POST', `/api/v1/namespaces/${ns}/pods/late/binding`, {
      body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'late' }, target: { apiVersion: 'v1', kind: 'Node', name: cluster().nodeName } },
    });
    const w = await cluster().waitForPod(ns, 'late', (p) => !!p.status?.containerStatuses?.[0]?.state?.waiting?.message, POD_TIMEOUT_MS, 'waiting with a message');
    assert.equal(w.status?.containerStatuses?.[0]?.state?.waiting?.message, `Failed to create pod sandbox: runtimeclass.node.k8s.io "${gone}" not found`);
    assert.deepEqual((await cluster().runtimePod(w.metadata?.uid ?? '')).sandboxes, []);
  }));
