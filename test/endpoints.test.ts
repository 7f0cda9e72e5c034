// /healthz and /pods of a real tskubelet process (integration, real containerd).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { BUSYBOX_IMAGE, SLEEP_UNTIL_TERM, assertNodeReady, withKubelet } from './harness.ts';

before(assertNodeReady);

test('/healthz answers ok and /pods returns a v1 PodList with each pod and its status', (t) =>
  withKubelet(t, async (h) => {
    const healthz = await h.healthz();
    assert.equal(healthz.status, 200);
    assert.equal(healthz.body, 'ok');
    const roHealthz = await h.readOnly('/healthz');
    assert.equal(roHealthz.status, 200);
    assert.equal(roHealthz.body, 'ok');

    const empty = await h.getPodList();
    assert.equal(empty.kind, 'PodList');
    assert.equal(empty.apiVersion, 'v1');
    assert.deepEqual(empty.items, []);

    await h.writeManifest('web.yaml', `
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(SLEEP_UNTIL_TERM)}]
`);
    const pod = await h.waitForPod('web', (p) => p.status?.phase === 'Running', 30_000, 'Running');
    const list = await h.getPodList();
    assert.equal(list.kind, 'PodList');
    assert.equal(list.items.length, 1);
    assert.equal(pod.metadata?.namespace, 'default');
    assert.equal(pod.spec?.nodeName, h.nodeName);
    assert.equal(pod.metadata?.labels?.app, 'web');
    assert.match(pod.metadata?.uid ?? '', /^[0-9a-f]{32}$/);
    assert.equal(pod.metadata?.annotations?.['kubernetes.io/config.source'], 'file');
    const cs = pod.status?.containerStatuses?.[0];
    assert.equal(cs?.name, 'main');
    assert.match(cs?.containerID ?? '', /^containerd:\/\/[0-9a-f]{64}$/);
    // The runtime's image reference: a repo digest (`<repo>@sha256:...`) or the image id (`sha256:...`).
    assert.match(cs?.imageID ?? '', /(^|@)sha256:[0-9a-f]{64}$/);
    assert.ok(cs?.state?.running, 'container running');
    assert.match(pod.status?.podIP ?? '', /^\d+\.\d+\.\d+\.\d+$/);

    const notFound = await h.readOnly('/nope');
    assert.equal(notFound.status, 404);
  }));
