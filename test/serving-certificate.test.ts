// serverTLSBootstrap against the REAL control plane: the kubelet files a kubernetes.io/kubelet-serving
// CSR for its names, the kubelet API listens only once an administrator approved it and the
// cluster CA signed it, and the API server then reaches the node through it.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connect } from 'node:tls';
import { after, before, test } from 'node:test';
import type { CertificateSigningRequest } from '../src/certificate/request.ts';
import { CSR_PATH } from '../src/certificate/request.ts';
import { CLUSTER_CA_FILE, ClusterNode, kubectl } from './cluster-harness.ts';

let node: ClusterNode | undefined;
let configDir = '';

before(async () => {
  configDir = await mkdtemp(path.join(tmpdir(), 'tskubelet-serving-'));
  const config = path.join(configDir, 'kubelet-config.yaml');
  await writeFile(config, 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nserverTLSBootstrap: true\n');
  node = await ClusterNode.create({ extraArgs: ['--config', config] });
  await node.start();
  await node.waitForNodeReady();
});

after(async () => {
  await node?.cleanup();
  if (configDir) await rm(configDir, { recursive: true, force: true });
});

/** The certificate the kubelet API presents, or null while it does not listen. */
function servingCertificate(port: number): Promise<X509Certificate | null> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = s.getPeerX509Certificate();
      s.destroy();
      resolve(raw ?? null);
    });
    s.on('error', () => resolve(null));
  });
}

test('serverTLSBootstrap: a kubelet-serving CSR, approved by an administrator, becomes the serving certificate', { timeout: 120_000 }, async () => {
  const n = node!;
  const port = n.harness.kubeletPort;
  const csr = await n.until(async () => {
    const list = await n.admin.request<{ items?: CertificateSigningRequest[] }>('GET', CSR_PATH);
    return list.items?.find((c) => c.spec?.signerName === 'kubernetes.io/kubelet-serving' && c.spec.username === `system:node:${n.nodeName}`);
  }, 20_000, 'the kubelet-serving CSR');
  assert.deepEqual([...(csr.spec?.usages ?? [])].sort(), ['digital signature', 'server auth']);
  assert.equal(await servingCertificate(port), null, 'nothing listens before the certificate is issued');
  await kubectl(['certificate', 'approve', csr.metadata!.name!]);
  const cert = await n.until(() => servingCertificate(port), 30_000, 'the kubelet API to serve the issued certificate');
  const ca = new X509Certificate(await readFile(CLUSTER_CA_FILE));
  assert.ok(cert.checkIssued(ca) && cert.verify(ca.publicKey), 'signed by the cluster CA');
  assert.match(cert.subject, new RegExp(`CN=system:node:${n.nodeName}`));
  const nodeObj = await n.getNode();
  const internalIP = nodeObj?.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '';
  assert.match(cert.subjectAltName ?? '', new RegExp(`DNS:${n.nodeName}`));
  assert.match(cert.subjectAltName ?? '', new RegExp(`IP Address:${internalIP.replace(/\./g, '\\.')}`));
  assert.equal(await kubectl(['get', '--raw', `/api/v1/nodes/${n.nodeName}/proxy/healthz`]), 'ok');
});
