import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { httpsOptions, parseKubeconfig, readKubeconfig } from './kubeconfig.ts';
import { isInvalidInput, isUnsupported } from '../common/errors.ts';

const doc = (user: string): string => `
apiVersion: v1
kind: Config
clusters:
- name: other
  cluster: {server: https://other:1}
- name: c
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority: pki/ca.crt
    tls-server-name: kubernetes
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
users:
- name: u
  user:
${user}
`;

test('parseKubeconfig: current context, relative paths from the kubeconfig folder, server without trailing slash', () => {
  const kc = parseKubeconfig(doc('    client-certificate: /abs/cert.pem\n    client-key: key.pem'), '/etc/k', 'kubeconfig x');
  assert.deepEqual(kc.cluster, { server: 'https://10.0.0.1:6443', caFile: '/etc/k/pki/ca.crt', caData: undefined, insecureSkipTLSVerify: false, tlsServerName: 'kubernetes' });
  assert.equal(kc.user.certFile, '/abs/cert.pem');
  assert.equal(kc.user.keyFile, '/etc/k/key.pem');
});

test('parseKubeconfig: missing context, cluster or server is InvalidInput; exec users Unsupported', () => {
  assert.throws(() => parseKubeconfig('kind: Config\n', '/', 'k'), isInvalidInput);
  assert.throws(() => parseKubeconfig('current-context: x\ncontexts: []\n', '/', 'k'), isInvalidInput);
  assert.throws(() => parseKubeconfig('current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]\n', '/', 'k'), isInvalidInput);
  assert.throws(() => parseKubeconfig('a: [', '/', 'k'), isInvalidInput);
  assert.throws(() => parseKubeconfig(doc('    exec: {command: x}'), '/', 'k'), isUnsupported);
});

test('httpsOptions: data, files and token-file', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'kubeconfig-test-'));
  try {
    await writeFile(path.join(dir, 'ca.crt'), 'CA');
    await writeFile(path.join(dir, 'token'), 'tok\n');
    const file = path.join(dir, 'kubeconfig');
    await writeFile(file, `
clusters: [{name: c, cluster: {server: https://s, certificate-authority: ca.crt, insecure-skip-tls-verify: true}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
users: [{name: u, user: {client-certificate-data: ${Buffer.from('CERT').toString('base64')}, client-key-data: ${Buffer.from('KEY').toString('base64')}, tokenFile: token}}]
`);
    const opts = await httpsOptions(await readKubeconfig(file));
    assert.equal(String(opts.ca), 'CA');
    assert.equal(String(opts.cert), 'CERT');
    assert.equal(String(opts.key), 'KEY');
    assert.equal(opts.rejectUnauthorized, false);
    assert.deepEqual(opts.headers, { Authorization: 'Bearer tok' });
    await assert.rejects(readKubeconfig(path.join(dir, 'missing')), isInvalidInput);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
