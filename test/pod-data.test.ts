// Pod data from the API server, against the REAL control plane (npm run cluster:up) and the real
// containerd: a tskubelet node (test/cluster-harness.ts: TLS bootstrap, node rights only) runs
// pods bound to it that take
//   - env from a ConfigMap and a Secret (valueFrom and envFrom with prefixes), the service
//     environment variables of their namespace and of `kubernetes`, and $(VAR) expansion over them;
//   - a configMap volume, mounted read-only;
//   - the default service-account volume the API server injects (kube-api-access-xxxxx: a bound
//     token from TokenRequest on a tmpfs, kube-root-ca.crt, the namespace);
// and a pod referencing a missing ConfigMap waits with CreateContainerConfigError until it exists.
// The containers print what they see; the test reads their log files under /var/log/pods (no
// kubelet API for `kubectl logs` yet). A deleted pod leaves no volume folder and no tmpfs mount.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { Pod } from '../src/kube/types.ts';
import { POD_LOGS_DIR } from './harness.ts';
import { ClusterNode, busybox, poll } from './cluster-harness.ts';

/** A pod's container has printed everything (image present: seconds), ms. */
const POD_TIMEOUT_MS = 60_000;
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

let node: ClusterNode | undefined;

function cluster(): ClusterNode {
  if (!node) throw new Error('the cluster node did not start');
  return node;
}

/** The lines a container printed (CRI log format: `<time> <stream> <tag> <line>`). */
async function containerOutput(pod: Pod, container: string): Promise<string[]> {
  const m = pod.metadata ?? {};
  const text = await readFile(path.join(POD_LOGS_DIR, `${m.namespace}_${m.name}_${m.uid}`, container, '0.log'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').slice(3).join(' '));
}

/** Waits until the container printed DONE; resolves to its lines. */
function waitForOutput(pod: Pod, container = 'main'): Promise<string[]> {
  return poll(
    async () => {
      const lines = await containerOutput(pod, container);
      return lines.includes('DONE') ? lines : undefined;
    },
    POD_TIMEOUT_MS,
    `${pod.metadata?.name} to print DONE`,
    () => cluster().logTail(40),
  );
}

/** `KEY=value` lines as a record. */
const keyValues = (lines: string[]): Record<string, string> =>
  Object.fromEntries(lines.filter((l) => /^[A-Z0-9_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

/** A bare pod bound to the node, restartPolicy Never, one busybox container `main` running `script`. */
function createPod(ns: string, name: string, script: string, container: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): Promise<Pod> {
  return cluster().createPod(ns, name, { restartPolicy: 'Never', terminationGracePeriodSeconds: 2, containers: [busybox('main', script, container)], ...spec });
}

/** The data of one test namespace: a ConfigMap, a Secret and a Service. */
async function createObjects(ns: string): Promise<void> {
  const admin = cluster().admin;
  await admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { greeting: 'hello', 'app.conf': 'level=debug' } },
  });
  await admin.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-secret' }, stringData: { password: 's3cret' } },
  });
  await admin.request('POST', `/api/v1/namespaces/${ns}/services`, {
    body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web-api' }, spec: { selector: { app: 'nothing' }, ports: [{ name: 'http', port: 8080 }] } },
  });
}

before(async () => {
  node = await ClusterNode.create();
  await node.start();
});

after(async () => {
  await node?.cleanup();
});

test('env from a ConfigMap and a Secret, service links, and a configMap volume', (t) =>
  cluster().inNamespace(t, 'pod-data-env', async (ns) => {
    await createObjects(ns);
    const script = [
      'echo GREETING=$GREETING',
      'echo PASSWORD=$PASSWORD',
      'echo CFG_GREETING=$CFG_greeting',
      'echo SEC_PASSWORD=$SEC_password',
      'echo EXPANDED=$EXPANDED',
      'echo OPTIONAL=${OPTIONAL-unset}',
      'echo WEB=$WEB_API_SERVICE_HOST:$WEB_API_SERVICE_PORT_HTTP',
      'echo WEB_LINK=$WEB_API_PORT',
      'echo K8S=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT',
      'echo FILE=$(cat /etc/app/app.conf)',
      'echo MOUNT=$(grep " /etc/app " /proc/mounts | cut -d" " -f4 | cut -d, -f1)',
      'echo DONE',
    ].join('; ');
    const pod = await createPod(
      ns,
      'env-and-volume',
      script,
      {
        env: [
          { name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'greeting' } } },
          { name: 'PASSWORD', valueFrom: { secretKeyRef: { name: 'app-secret', key: 'password' } } },
          { name: 'OPTIONAL', valueFrom: { configMapKeyRef: { name: 'no-such-config', key: 'k', optional: true } } },
          { name: 'EXPANDED', value: '$(GREETING)@$(WEB_API_SERVICE_PORT)' },
        ],
        envFrom: [
          { configMapRef: { name: 'app-config' }, prefix: 'CFG_' },
          { secretRef: { name: 'app-secret' }, prefix: 'SEC_' },
        ],
        volumeMounts: [{ name: 'config', mountPath: '/etc/app' }],
      },
      { automountServiceAccountToken: false, volumes: [{ name: 'config', configMap: { name: 'app-config' } }] },
    );
    const admin = cluster().admin;
    const kubernetes = await admin.request<{ spec: { clusterIP: string } }>('GET', '/api/v1/namespaces/default/services/kubernetes');
    const web = await admin.request<{ spec: { clusterIP: string } }>('GET', `/api/v1/namespaces/${ns}/services/web-api`);

    assert.deepEqual(keyValues(await waitForOutput(pod)), {
      GREETING: 'hello',
      PASSWORD: 's3cret',
      CFG_GREETING: 'hello',
      SEC_PASSWORD: 's3cret',
      EXPANDED: 'hello@8080',
      OPTIONAL: 'unset',
      WEB: `${web.spec.clusterIP}:8080`,
      WEB_LINK: `tcp://${web.spec.clusterIP}:8080`,
      K8S: `${kubernetes.spec.clusterIP}:443`,
      FILE: 'level=debug',
      MOUNT: 'ro',
    });
  }),
);

test('the default service-account token volume: token, ca.crt and namespace on a read-only tmpfs, removed with the pod', (t) =>
  cluster().inNamespace(t, 'pod-data-sa', async (ns) => {
    const n = cluster();
    // kube-root-ca.crt is published into new namespaces by the controller-manager.
    await poll(() => n.admin.request('GET', `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`).then(() => true), 30_000, `kube-root-ca.crt in ${ns}`);
    const script = [
      `D=${SA_DIR}`,
      'echo TOKEN_BYTES=$(wc -c < $D/token)',
      'echo TOKEN_PARTS=$(awk -F. "{print NF}" $D/token)',
      'echo NAMESPACE=$(cat $D/namespace)',
      'echo CA=$(head -n 1 $D/ca.crt)',
      'echo MOUNT=$(grep " $D " /proc/mounts | cut -d" " -f3,4 | cut -d, -f1)',
      'echo LINK=$(readlink $D/token)',
      'echo DONE',
    ].join('; ');
    const pod = await createPod(ns, 'service-account', script);
    const volumes = pod.spec?.volumes ?? [];
    assert.ok(volumes.some((v) => v.name.startsWith('kube-api-access-') && v.projected), `the API server injected the service-account volume: ${JSON.stringify(volumes)}`);
    const out = keyValues(await waitForOutput(pod));
    assert.ok(Number(out.TOKEN_BYTES) > 100, `a token was written (${out.TOKEN_BYTES} bytes)`);
    assert.equal(out.TOKEN_PARTS, '3', 'the token is a JWT');
    assert.equal(out.NAMESPACE, ns);
    assert.equal(out.CA, '-----BEGIN CERTIFICATE-----');
    assert.equal(out.MOUNT, 'tmpfs ro');
    assert.equal(out.LINK, '..data/token');

    // Deleted: the kubelet unmounts the tmpfs and removes the pod's folder.
    const uid = pod.metadata?.uid ?? '';
    const podDir = path.join(n.harness.rootDir, 'pods', uid);
    assert.ok((await readdir(path.join(podDir, 'volumes'))).includes('kubernetes.io~projected'));
    await n.admin.request('DELETE', `/api/v1/namespaces/${ns}/pods/service-account`);
    await n.waitForPodGone(ns, 'service-account', uid, POD_TIMEOUT_MS);
    await poll(
      async () => {
        const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(podDir));
        const left = await readdir(podDir).catch(() => null);
        return mounts.length === 0 && left === null;
      },
      30_000,
      `no tmpfs mount and no folder left at ${podDir}`,
      () => n.logTail(20),
    );
  }),
);

test('a missing ConfigMap keeps the container waiting with CreateContainerConfigError until it exists', (t) =>
  cluster().inNamespace(t, 'pod-data-missing', async (ns) => {
    const n = cluster();
    const pod = await createPod(ns, 'missing-config', 'echo DONE', { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'not-there', key: 'k' } } }] }, { automountServiceAccountToken: false });
    await n.waitForPod(
      ns,
      'missing-config',
      (p) => {
        const waiting = p.status?.containerStatuses?.[0]?.state?.waiting;
        return waiting?.reason === 'CreateContainerConfigError' && waiting.message === 'configmap "not-there" not found';
      },
      POD_TIMEOUT_MS,
      'waiting with CreateContainerConfigError: configmap "not-there" not found',
    );
    await n.admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'not-there' }, data: { k: 'v' } } });
    await waitForOutput(pod);
  }),
);
