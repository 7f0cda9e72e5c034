// TLS bootstrap and client certificate rotation against the REAL control plane (npm run
// cluster:up): a bootstrap token files the node's CSR, the controller-manager approves and signs
// it, and the node then acts with a node's rights only (Node authorizer + NodeRestriction).
// Everything it creates (CSRs, Nodes) is removed afterwards with the admin kubeconfig.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, lstat, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parse } from 'yaml';
import { realClock } from '../src/common/clock.ts';
import { errorMessage } from '../src/common/errors.ts';
import { HttpKubeClient, KubeApiError } from '../src/kube/client.ts';
import { ensureClientCertificate } from '../src/certificate/bootstrap.ts';
import { encodeSubject, nodeClientSubject, parseCertificateRequest } from '../src/certificate/csr.ts';
import { parseCertificates } from '../src/certificate/pem.ts';
import { CSR_PATH, KUBELET_CLIENT_SIGNER, type CertificateSigningRequest } from '../src/certificate/request.ts';
import { ClientCertificateRotator } from '../src/certificate/rotation.ts';
import { CertificateFileStore } from '../src/certificate/store.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLUSTER_DIR = path.join(REPO_ROOT, '.cluster');
const ADMIN_KUBECONFIG = path.join(CLUSTER_DIR, 'admin.kubeconfig');
const BOOTSTRAP_KUBECONFIG = path.join(CLUSTER_DIR, 'bootstrap.kubeconfig');
const HINT = 'run npm run cluster:up (it starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler on 127.0.0.1)';
/** Approval by the controller-manager normally takes well under a second; allow a loaded machine. */
const CSR_TIMEOUT_MS = 120_000;

const nodeName = `tls-itest-${randomBytes(4).toString('hex')}`;
const otherNode = `${nodeName}-other`;
let dir = '';
let admin: HttpKubeClient | undefined;
const logLines: string[] = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
let failed = false;

before(async () => {
  for (const file of [BOOTSTRAP_KUBECONFIG, ADMIN_KUBECONFIG]) {
    try {
      await access(file);
    } catch {
      assert.fail(`${file} is missing: ${HINT}`);
    }
  }
  admin = await HttpKubeClient.fromKubeconfigFile(ADMIN_KUBECONFIG);
  try {
    await admin.request('GET', '/version', { timeoutMs: 5_000 });
  } catch (err) {
    assert.fail(`the API server at ${admin.server} does not answer (${errorMessage(err)}): ${HINT}`);
  }
  dir = await mkdtemp(path.join(tmpdir(), 'tls-bootstrap-'));
});

after(async () => {
  if (admin) {
    const problems: string[] = [];
    for (const name of [nodeName, otherNode]) {
      await admin.request('DELETE', `/api/v1/nodes/${name}`).catch((err: unknown) => {
        if (!(err instanceof KubeApiError && err.status === 404)) problems.push(`node ${name}: ${errorMessage(err)}`);
      });
    }
    // Every CSR whose request names this node (the bootstrap's and the rotation's).
    const ours = encodeSubject(nodeClientSubject(nodeName));
    const list = await admin.request<{ items?: CertificateSigningRequest[] }>('GET', CSR_PATH).catch(() => ({ items: [] }));
    for (const csr of list.items ?? []) {
      let subject: Buffer;
      try {
        subject = parseCertificateRequest(Buffer.from(csr.spec?.request ?? '', 'base64').toString()).subject;
      } catch {
        continue;
      }
      if (!subject.equals(ours)) continue;
      await admin.request('DELETE', `${CSR_PATH}/${csr.metadata?.name}`).catch((err: unknown) => problems.push(`csr ${csr.metadata?.name}: ${errorMessage(err)}`));
    }
    admin.close();
    if (problems.length) console.error(`cleanup problems:\n${problems.join('\n')}`);
  }
  if (failed) console.error(`tskubelet log lines:\n${logLines.slice(-60).join('')}`);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function getCsr(name: string): Promise<CertificateSigningRequest> {
  return admin!.request<CertificateSigningRequest>('GET', `${CSR_PATH}/${name}`);
}

test('TLS bootstrap from a bootstrap token to a signed node client certificate, then a rotation', { timeout: 5 * 60_000 }, async (t) => {
  try {
    await bootstrapAndRotate(t);
  } catch (err) {
    failed = true; // print the kubelet log lines in after()
    throw err;
  }
});

async function bootstrapAndRotate(t: TestContext): Promise<void> {
  const certDir = path.join(dir, 'pki');
  const kubeconfigPath = path.join(dir, 'kubelet.kubeconfig');
  const currentPath = path.join(certDir, 'kubelet-client-current.pem');

  // 1. Bootstrap.
  const started = Date.now();
  const result = await ensureClientCertificate({
    kubeconfigPath,
    bootstrapKubeconfigPath: BOOTSTRAP_KUBECONFIG,
    certDir,
    nodeName,
    logger,
    clock: realClock,
    waitTimeoutMs: CSR_TIMEOUT_MS,
  });
  t.diagnostic(`bootstrap: CSR ${result.csrName} issued ${result.waitedMs} ms after filing; whole bootstrap ${Date.now() - started} ms`);
  assert.equal(result.bootstrapped, true);
  assert.match(result.csrName ?? '', /^node-csr-/);

  const csr = await getCsr(result.csrName!);
  assert.equal(csr.spec?.signerName, KUBELET_CLIENT_SIGNER);
  assert.deepEqual(csr.spec?.usages, ['digital signature', 'client auth']);
  assert.match(csr.spec?.username ?? '', /^system:bootstrap:/);
  assert.ok(csr.status?.conditions?.some((c) => c.type === 'Approved' && c.status === 'True'), JSON.stringify(csr.status?.conditions));

  // Files and kubeconfig.
  assert.equal((await stat(kubeconfigPath)).mode & 0o777, 0o600);
  const kc = parse(await readFile(kubeconfigPath, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };
  const boot = parse(await readFile(BOOTSTRAP_KUBECONFIG, 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
  assert.equal(kc.clusters[0]!.cluster['server'], boot.clusters[0]!.cluster['server']);
  assert.equal(kc.clusters[0]!.cluster['certificate-authority-data'], boot.clusters[0]!.cluster['certificate-authority-data']);
  assert.equal(kc.users[0]!.user['client-certificate'], currentPath);
  assert.equal(kc.users[0]!.user['client-key'], currentPath);
  assert.equal((await lstat(currentPath)).isSymbolicLink(), true);
  const firstFile = await readlink(currentPath);
  assert.equal((await stat(firstFile)).mode & 0o777, 0o600);
  const [cert] = parseCertificates(await readFile(currentPath, 'utf8'));
  assert.equal(cert!.subject, `O=system:nodes\nCN=system:node:${nodeName}`);
  assert.ok(cert!.validToDate.getTime() > Date.now() + 3_600_000, `certificate valid until ${cert!.validTo}`);

  // 2. The node's rights with its certificate: its own Node yes, another node's no.
  const node = await HttpKubeClient.fromKubeconfigFile(kubeconfigPath);
  try {
    await node.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName } } });
    const got = await admin!.request<{ metadata?: { name?: string } }>('GET', `/api/v1/nodes/${nodeName}`);
    assert.equal(got.metadata?.name, nodeName);
    await assert.rejects(
      node.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: otherNode } } }),
      (err: unknown) => err instanceof KubeApiError && err.status === 403,
    );

    // 3. One forced rotation with the node's own credentials (selfnodeclient approval).
    // Pair files are named by the second: start in a new second so the new file has a new name.
    await new Promise((r) => setTimeout(r, 1_050 - (Date.now() % 1_000)));
    const ctrl = new AbortController();
    let reloaded!: () => void;
    const rotatedOnce = new Promise<void>((resolve) => (reloaded = resolve));
    const rotator = new ClientCertificateRotator({
      client: node,
      certDir,
      nodeName,
      logger,
      clock: realClock,
      forceRotation: true,
      waitTimeoutMs: CSR_TIMEOUT_MS,
      onRotated: async () => {
        await node.reload();
        reloaded();
      },
    });
    const rotationStarted = Date.now();
    const running = rotator.run(ctrl.signal);
    const timer = setTimeout(() => ctrl.abort(new Error(`no rotation within ${CSR_TIMEOUT_MS} ms`)), CSR_TIMEOUT_MS);
    try {
      await Promise.race([rotatedOnce, running.then(() => assert.fail(`rotation loop ended: ${errorMessage(ctrl.signal.reason)}`))]);
    } finally {
      clearTimeout(timer);
      ctrl.abort();
      await running;
    }
    t.diagnostic(`rotation: new certificate stored and client reloaded ${Date.now() - rotationStarted} ms after the forced deadline`);

    const secondFile = await readlink(currentPath);
    assert.notEqual(secondFile, firstFile);
    assert.match(path.basename(secondFile), /^kubelet-client-\d{4}(-\d\d){5}\.pem$/);
    const [rotated] = parseCertificates(await readFile(currentPath, 'utf8'));
    assert.notEqual(rotated!.serialNumber, cert!.serialNumber);
    assert.equal(rotated!.subject, cert!.subject);
    const current = await new CertificateFileStore(certDir).current();
    assert.equal(current.file, currentPath);

    // The rotation CSR was filed by the node itself.
    const all = await admin!.request<{ items?: CertificateSigningRequest[] }>('GET', CSR_PATH);
    const selfFiled = (all.items ?? []).filter((c) => c.spec?.username === `system:node:${nodeName}`);
    assert.equal(selfFiled.length, 1, 'one CSR filed with the node credentials');
    assert.match(selfFiled[0]!.metadata?.name ?? '', /^csr-/);

    // The reloaded client still acts as the node.
    const own = await node.request<{ metadata?: { name?: string } }>('GET', `/api/v1/nodes/${nodeName}`);
    assert.equal(own.metadata?.name, nodeName);
    await node.request('PATCH', `/api/v1/nodes/${nodeName}`, { body: { metadata: { labels: { 'tskubelet.test/rotated': 'true' } } }, contentType: 'application/merge-patch+json' });
  } finally {
    node.close();
  }

  // Secrets never reach the logs.
  const token = /token:\s*(\S+)/.exec(await readFile(BOOTSTRAP_KUBECONFIG, 'utf8'))?.[1] ?? '';
  assert.ok(token.length > 0);
  const logs = logLines.join('');
  assert.ok(!logs.includes(token), 'the bootstrap token is logged');
  assert.ok(!logs.includes('PRIVATE KEY'), 'key material is logged');
  assert.match(logs, /client certificate issued, kubeconfig written/);
  assert.match(logs, /client certificate rotated/);
}
