// Pod data from the API server, against the REAL control plane (npm run cluster:up) and the real
// containerd: a tskubelet node joins with a bootstrap token (node rights only: Node authorizer +
// NodeRestriction) and runs pods bound to it that take
//   - env from a ConfigMap and a Secret (valueFrom and envFrom with prefixes), the service
//     environment variables of their namespace and of `kubernetes`, and $(VAR) expansion over them;
//   - a configMap volume, mounted read-only;
//   - the default service-account volume the API server injects (kube-api-access-xxxxx: a bound
//     token from TokenRequest on a tmpfs, kube-root-ca.crt, the namespace);
// and a pod referencing a missing ConfigMap waits with CreateContainerConfigError. The containers
// print what they see; the test reads their log files under /var/log/pods (there is no kubelet
// API for `kubectl logs` yet). When the pods are deleted, their volume folders and tmpfs mounts go.
// Everything created is removed with the admin kubeconfig (namespace, Node, Lease, CSRs).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { errorMessage } from '../src/common/errors.ts';
import { HttpKubeClient, KubeApiError } from '../src/kube/client.ts';
import type { Pod } from '../src/kube/types.ts';
import { encodeSubject, nodeClientSubject, parseCertificateRequest } from '../src/certificate/csr.ts';
import { CSR_PATH, type CertificateSigningRequest } from '../src/certificate/request.ts';
import { BUSYBOX_IMAGE, Harness, POD_LOGS_DIR, assertNodeReady, poll, summarizePods } from './harness.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_KUBECONFIG = path.join(REPO_ROOT, '.cluster', 'admin.kubeconfig');
const BOOTSTRAP_KUBECONFIG = path.join(REPO_ROOT, '.cluster', 'bootstrap.kubeconfig');
const HINT = 'run npm run cluster:up (it starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on 127.0.0.1)';
/** Joining: TLS bootstrap plus registration, on a loaded 2-core machine. */
const JOIN_TIMEOUT_MS = 60_000;
/** A pod's container has printed everything (image present: seconds). */
const POD_TIMEOUT_MS = 60_000;
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const ns = `pod-data-${randomBytes(4).toString('hex')}`;
let admin: HttpKubeClient | undefined;
let h: Harness | undefined;
let workDir = '';
let failed = false;

/** A test body that marks the run failed (cleanup problems are then only printed). */
const tracked = (body: () => Promise<void>) => async (): Promise<void> => {
  try {
    await body();
  } catch (err) {
    failed = true;
    throw err;
  }
};
const ignoreNotFound = (err: unknown): void => {
  if (!(err instanceof KubeApiError && err.status === 404)) throw err;
};

function api(): HttpKubeClient {
  if (!admin) throw new Error('no admin client');
  return admin;
}

/** The lines a container printed (CRI log format: `<time> <stream> <tag> <line>`). */
async function containerOutput(pod: Pod, container: string): Promise<string[]> {
  const m = pod.metadata ?? {};
  const file = path.join(POD_LOGS_DIR, `${m.namespace}_${m.name}_${m.uid}`, container, '0.log');
  const text = await readFile(file, 'utf8');
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
    () => h?.logTail(40) ?? '',
  );
}

/** `KEY=value` lines as a record. */
const keyValues = (lines: string[]): Record<string, string> =>
  Object.fromEntries(lines.filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

async function createPod(name: string, container: Record<string, unknown>, spec: Record<string, unknown> = {}): Promise<Pod> {
  return api().request<Pod>('POST', `/api/v1/namespaces/${ns}/pods`, {
    body: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        nodeName: h?.nodeName,
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 2,
        containers: [{ name: 'main', image: BUSYBOX_IMAGE, imagePullPolicy: 'IfNotPresent', ...container }],
        ...spec,
      },
    },
  });
}

before(async () => {
  await assertNodeReady();
  try {
    await access(ADMIN_KUBECONFIG);
    await access(BOOTSTRAP_KUBECONFIG);
  } catch {
    assert.fail(`${ADMIN_KUBECONFIG} or ${BOOTSTRAP_KUBECONFIG} is missing: ${HINT}`);
  }
  admin = await HttpKubeClient.fromKubeconfigFile(ADMIN_KUBECONFIG);
  try {
    await admin.request('GET', '/version', { timeoutMs: 5_000 });
  } catch (err) {
    assert.fail(`the API server at ${admin.server} does not answer (${errorMessage(err)}): ${HINT}`);
  }
  workDir = await mkdtemp(path.join(tmpdir(), 'pod-data-'));
  // A cluster node: TLS bootstrap from the bootstrap token (README: "Joining a cluster").
  h = await Harness.create({
    extraArgs: [
      '--bootstrap-kubeconfig', BOOTSTRAP_KUBECONFIG,
      '--kubeconfig', path.join(workDir, 'kubelet.kubeconfig'),
      '--cert-dir', path.join(workDir, 'pki'),
    ],
  });
  await h.start();
  const nodeName = h.nodeName;
  await poll(
    () => api().request('GET', `/api/v1/nodes/${nodeName}`).then(() => true),
    JOIN_TIMEOUT_MS,
    `node ${nodeName} to register (is cluster mode, --kubeconfig/--bootstrap-kubeconfig, wired in main?)`,
    () => h?.logTail(40) ?? '',
  );

  // A namespace with its default ServiceAccount and kube-root-ca.crt (made by the controller-manager).
  await api().request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } });
  await poll(
    async () => {
      await api().request('GET', `/api/v1/namespaces/${ns}/serviceaccounts/default`);
      await api().request('GET', `/api/v1/namespaces/${ns}/configmaps/kube-root-ca.crt`);
      return true;
    },
    30_000,
    `the default ServiceAccount and kube-root-ca.crt in ${ns}`,
  );
  await api().request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
    body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { greeting: 'hello', 'app.conf': 'level=debug' } },
  });
  await api().request('POST', `/api/v1/namespaces/${ns}/secrets`, {
    body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'app-secret' }, stringData: { password: 's3cret' } },
  });
  await api().request('POST', `/api/v1/namespaces/${ns}/services`, {
    body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web-api' }, spec: { selector: { app: 'nothing' }, ports: [{ name: 'http', port: 8080 }] } },
  });
});

after(async () => {
  const problems: string[] = [];
  const rootDir = h?.rootDir ?? '';
  if (admin) {
    await admin.request('DELETE', `/api/v1/namespaces/${ns}`).catch((err: unknown) => {
      try {
        ignoreNotFound(err);
      } catch {
        problems.push(`namespace: ${errorMessage(err)}`);
      }
    });
  }
  if (h) {
    // The kubelet stops and removes the namespace's pods (graceful deletion): their folders and tmpfs mounts go.
    if (h.running && rootDir) {
      try {
        await poll(
          async () => {
            const left = await readdir(path.join(rootDir, 'pods')).catch(() => [] as string[]);
            const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(rootDir));
            return left.length === 0 && mounts.length === 0;
          },
          60_000,
          'the deleted pods to leave no folders and no tmpfs mounts under the root dir',
        );
      } catch (err) {
        problems.push(errorMessage(err));
      }
    }
    try {
      await h.cleanup();
    } catch (err) {
      problems.push(errorMessage(err));
    }
  }
  if (admin && h) {
    const nodeName = h.nodeName;
    await admin.request('DELETE', `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`).catch(ignoreNotFound).catch((err: unknown) => problems.push(`lease: ${errorMessage(err)}`));
    await admin.request('DELETE', `/api/v1/nodes/${nodeName}`).catch(ignoreNotFound).catch((err: unknown) => problems.push(`node: ${errorMessage(err)}`));
    const ours = encodeSubject(nodeClientSubject(nodeName));
    const list = await admin.request<{ items?: CertificateSigningRequest[] }>('GET', CSR_PATH).catch(() => ({ items: [] as CertificateSigningRequest[] }));
    for (const csr of list.items ?? []) {
      try {
        if (!parseCertificateRequest(Buffer.from(csr.spec?.request ?? '', 'base64').toString()).subject.equals(ours)) continue;
      } catch {
        continue;
      }
      await admin.request('DELETE', `${CSR_PATH}/${csr.metadata?.name}`).catch((err: unknown) => problems.push(`csr: ${errorMessage(err)}`));
    }
  }
  admin?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
  if (problems.length > 0 && !failed) assert.fail(`cleanup: ${problems.join('; ')}`);
  if (problems.length > 0) process.stderr.write(`cleanup problems: ${problems.join('; ')}\n`);
});

test('env from a ConfigMap and a Secret, service links, and a configMap volume', tracked(async () => {
  const pod = await createPod(
    'env-and-volume',
    {
      command: [
        'sh',
        '-c',
        [
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
        ].join('; '),
      ],
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
  const services = await api().request<{ items: { metadata: { name: string }; spec: { clusterIP: string } }[] }>('GET', `/api/v1/namespaces/default/services`);
  const kubernetesIP = services.items.find((s) => s.metadata.name === 'kubernetes')?.spec.clusterIP;
  const web = await api().request<{ spec: { clusterIP: string } }>('GET', `/api/v1/namespaces/${ns}/services/web-api`);

  const out = keyValues(await waitForOutput(pod));
  assert.deepEqual(out, {
    GREETING: 'hello',
    PASSWORD: 's3cret',
    CFG_GREETING: 'hello',
    SEC_PASSWORD: 's3cret',
    EXPANDED: 'hello@8080',
    OPTIONAL: 'unset',
    WEB: `${web.spec.clusterIP}:8080`,
    WEB_LINK: `tcp://${web.spec.clusterIP}:8080`,
    K8S: `${kubernetesIP}:443`,
    FILE: 'level=debug',
    MOUNT: 'ro',
  });
}));

test('the default service-account token volume: token, ca.crt and namespace, on a read-only tmpfs', tracked(async () => {
  const pod = await createPod('service-account', {
    command: [
      'sh',
      '-c',
      [
        `D=${SA_DIR}`,
        'echo TOKEN_BYTES=$(wc -c < $D/token)',
        'echo TOKEN_PARTS=$(awk -F. "{print NF}" $D/token)',
        'echo NAMESPACE=$(cat $D/namespace)',
        'echo CA=$(head -n 1 $D/ca.crt)',
        `echo MOUNT=$(grep " $D " /proc/mounts | cut -d" " -f3,4 | cut -d, -f1)`,
        'echo LINK=$(readlink $D/token)',
        'echo DONE',
      ].join('; '),
    ],
  });
  const volumes = pod.spec?.volumes ?? [];
  assert.ok(volumes.some((v) => v.name.startsWith('kube-api-access-') && v.projected), `the API server injected the service-account volume: ${JSON.stringify(volumes)}`);
  const out = keyValues(await waitForOutput(pod));
  assert.ok(Number(out.TOKEN_BYTES) > 100, `a token was written (${out.TOKEN_BYTES} bytes)`);
  assert.equal(out.TOKEN_PARTS, '3', 'the token is a JWT');
  assert.equal(out.NAMESPACE, ns);
  assert.equal(out.CA, '-----BEGIN CERTIFICATE-----');
  assert.equal(out.MOUNT, 'tmpfs ro');
  assert.equal(out.LINK, '..data/token');
}));

test('a missing ConfigMap keeps the container waiting with CreateContainerConfigError', tracked(async () => {
  const pod = await createPod(
    'missing-config',
    { command: ['sh', '-c', 'echo DONE'], env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'not-there', key: 'k' } } }] },
    { automountServiceAccountToken: false },
  );
  let last: Pod | undefined;
  await poll(
    async () => {
      last = await api().request<Pod>('GET', `/api/v1/namespaces/${ns}/pods/${pod.metadata?.name}`);
      const waiting = last.status?.containerStatuses?.[0]?.state?.waiting;
      return waiting?.reason === 'CreateContainerConfigError' && waiting.message === 'configmap "not-there" not found';
    },
    POD_TIMEOUT_MS,
    'the container to wait with CreateContainerConfigError: configmap "not-there" not found',
    () => summarizePods(last ? [last] : []),
  );
  // Once the ConfigMap exists, the container starts (the retry comes within seconds).
  await api().request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'not-there' }, data: { k: 'v' } } });
  await waitForOutput(pod);
}));
