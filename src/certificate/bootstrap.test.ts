import assert from 'node:assert/strict';
import { lstat, mkdtemp, readFile, readlink, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { parse } from 'yaml';
import { FakeClock, realClock } from '../common/clock.ts';
import { isInvalidInput, isTransient } from '../common/errors.ts';
import { silentLogger } from '../observability/logger.ts';
import { BOOTSTRAP_WAIT_TIMEOUT_MS, TMP_PRIVATE_KEY_FILE, ensureClientCertificate, kubeconfigProblem, kubeletKubeconfig, type EnsureClientCertificateOptions } from './bootstrap.ts';
import { digestedName, kubeletClientUsages, nodeClientSubject, parseCertificateRequest, subjectPublicKeyInfo } from './csr.ts';
import { parseCertificates, parsePrivateKey, pemDecodeAll } from './pem.ts';
import { KUBELET_CLIENT_SIGNER } from './request.ts';
import { CertificateFileStore } from './store.ts';
import { FakeCsrApi, TestCa } from './testing.ts';

const ca = new TestCa();
const CA_DATA = Buffer.from(ca.certPem).toString('base64');
let dir = '';
let bootstrapKubeconfig = '';

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'bootstrap-test-'));
  bootstrapKubeconfig = path.join(dir, 'bootstrap.kubeconfig');
  await writeFile(
    bootstrapKubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443", certificate-authority-data: ' + CA_DATA + '}}]',
      'users: [{name: u, user: {token: abcdef.0123456789abcdef}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
      '',
    ].join('\n'),
  );
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(api: FakeCsrApi, extra: Partial<EnsureClientCertificateOptions> = {}): EnsureClientCertificateOptions {
  return {
    kubeconfigPath: path.join(dir, 'kubelet.kubeconfig'),
    bootstrapKubeconfigPath: bootstrapKubeconfig,
    certDir: path.join(dir, 'pki'),
    nodeName: 'node-a',
    logger: silentLogger,
    clock: realClock,
    newClient: () => Promise.resolve(api),
    ...extra,
  };
}

test('bootstrap: files the node CSR, stores the pair and writes the kubeconfig like upstream', async () => {
  const api = new FakeCsrApi({ ca });
  const opts = options(api);
  const result = await ensureClientCertificate(opts);
  assert.equal(result.bootstrapped, true);

  // The CSR: digested name, signer, usages exactly as upstream for ECDSA, no expirationSeconds.
  assert.equal(api.csrs.size, 1);
  const csr = [...api.csrs.values()][0]!;
  assert.equal(csr.metadata?.name, result.csrName);
  assert.equal(csr.spec?.signerName, KUBELET_CLIENT_SIGNER);
  assert.deepEqual(csr.spec?.usages, ['digital signature', 'client auth']);
  assert.equal(csr.spec?.expirationSeconds, undefined);

  // Files: cert dir 0700, pair 0600 (cert then key), -current symlink, no pending key left.
  const certDir = opts.certDir;
  assert.equal((await stat(certDir)).mode & 0o777, 0o700);
  const files = (await readdir(certDir)).sort();
  assert.equal(files.length, 2);
  assert.match(files[0]!, /^kubelet-client-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.pem$/);
  assert.equal(files[1], 'kubelet-client-current.pem');
  const pairFile = path.join(certDir, files[0]!);
  assert.equal((await stat(pairFile)).mode & 0o777, 0o600);
  assert.equal((await lstat(path.join(certDir, files[1]!))).isSymbolicLink(), true);
  assert.equal(await readlink(path.join(certDir, files[1]!)), pairFile);
  const pair = await readFile(pairFile, 'utf8');
  assert.deepEqual(pemDecodeAll(pair).map((b) => b.type), ['CERTIFICATE', 'EC PRIVATE KEY']);
  const [cert] = parseCertificates(pair);
  assert.equal(cert!.subject, 'O=system:nodes\nCN=system:node:node-a');
  const key = parsePrivateKey(pair).key;
  assert.equal(csr.metadata?.name, digestedName(subjectPublicKeyInfo(key), nodeClientSubject('node-a'), kubeletClientUsages(key)));

  // The kubeconfig: 0600, bootstrap's server and CA data, both client paths = -current.pem.
  assert.equal((await stat(opts.kubeconfigPath)).mode & 0o777, 0o600);
  const kc = parse(await readFile(opts.kubeconfigPath, 'utf8')) as Record<string, unknown>;
  assert.deepEqual(kc, parse(kubeletKubeconfig({ server: 'https://127.0.0.1:6443', caData: CA_DATA }, path.join(certDir, 'kubelet-client-current.pem'))));
  const text = await readFile(opts.kubeconfigPath, 'utf8');
  assert.match(text, /client-certificate: .*kubelet-client-current\.pem/);
  assert.match(text, /client-key: .*kubelet-client-current\.pem/);
  assert.doesNotMatch(text, /token|PRIVATE/);
  assert.equal(await kubeconfigProblem(opts.kubeconfigPath, Date.now()), '');

  // A second start finds a valid kubeconfig: no API call.
  const calls = api.calls.length;
  assert.deepEqual(await ensureClientCertificate(opts), { bootstrapped: false });
  assert.equal(api.calls.length, calls);
});

test('no bootstrap kubeconfig: nothing is checked or written', async () => {
  const api = new FakeCsrApi({ ca });
  assert.deepEqual(await ensureClientCertificate(options(api, { bootstrapKubeconfigPath: '' })), { bootstrapped: false });
  assert.deepEqual(api.calls, []);
  assert.deepEqual(await readdir(dir), ['bootstrap.kubeconfig']);
});

test('a restart while waiting for approval reuses the pending key and the same CSR', async () => {
  const api = new FakeCsrApi({ ca, mode: 'manual' });
  const ctrl = new AbortController();
  const first = ensureClientCertificate(options(api, { signal: ctrl.signal }));
  while (api.csrs.size === 0) await new Promise((r) => setTimeout(r, 5));
  ctrl.abort(new DOMException('stopped', 'AbortError'));
  await assert.rejects(first, { name: 'AbortError' });
  const tmpKey = path.join(dir, 'pki', TMP_PRIVATE_KEY_FILE);
  assert.equal((await stat(tmpKey)).mode & 0o777, 0o600);
  const pendingKey = await readFile(tmpKey, 'utf8');
  assert.match(pendingKey, /BEGIN EC PRIVATE KEY/);

  api.mode = 'approve';
  const name = [...api.csrs.keys()][0]!;
  setTimeout(() => api.approve(name), 20);
  const second = await ensureClientCertificate(options(api));
  assert.equal(second.csrName, name);
  assert.equal(api.csrs.size, 1);
  assert.equal((await new CertificateFileStore(path.join(dir, 'pki')).current()).keyPem, pendingKey);
  await assert.rejects(stat(tmpKey), { code: 'ENOENT' });
});

test('a denied CSR is an InvalidInput error with the reason; nothing but the pending key is written', async () => {
  const api = new FakeCsrApi({ ca, mode: 'deny' });
  const opts = options(api);
  await assert.rejects(ensureClientCertificate(opts), (err: unknown) => isInvalidInput(err) && /denied, reason: TestDenied/.test((err as Error).message));
  assert.deepEqual(await readdir(opts.certDir), [TMP_PRIVATE_KEY_FILE]);
  await assert.rejects(stat(opts.kubeconfigPath), { code: 'ENOENT' });
});

test('no approval within the timeout (default one hour) is a Transient error', async () => {
  const api = new FakeCsrApi({ ca, mode: 'manual' });
  const clock = new FakeClock(Date.now());
  const pending = ensureClientCertificate(options(api, { clock }));
  while (!api.calls.some((c) => c.startsWith('WATCH'))) await new Promise((r) => setTimeout(r, 5));
  clock.advance(BOOTSTRAP_WAIT_TIMEOUT_MS);
  await assert.rejects(pending, isTransient);
});

test('an expired certificate is replaced, reusing its key (upstream takes the key from the store)', async () => {
  const api = new FakeCsrApi({ ca, validityMs: 3_600_000 });
  const opts = options(api);
  await ensureClientCertificate(opts);
  const oldKey = (await new CertificateFileStore(opts.certDir).current()).keyPem;
  const later = Date.now() + 2 * 3_600_000;
  assert.match(await kubeconfigProblem(opts.kubeconfigPath, later), /expired/);

  const api2 = new FakeCsrApi({ ca, now: () => later });
  const clock = { now: () => later, sleep: realClock.sleep };
  const result = await ensureClientCertificate({ ...opts, clock, newClient: () => Promise.resolve(api2) });
  assert.equal(result.bootstrapped, true);
  const current = await new CertificateFileStore(opts.certDir).current();
  assert.equal(current.keyPem, oldKey);
  const req = parseCertificateRequest(Buffer.from([...api2.csrs.values()][0]!.spec!.request!, 'base64').toString());
  assert.deepEqual(req.subjectPublicKeyInfo, subjectPublicKeyInfo(current.key));
  assert.equal((await readdir(opts.certDir)).length, 3); // two pairs + the symlink
});

test('kubeconfigProblem: missing, token-only, mismatched key', async () => {
  assert.match(await kubeconfigProblem(path.join(dir, 'none'), Date.now()), /does not exist/);
  assert.match(await kubeconfigProblem(bootstrapKubeconfig, Date.now()), /names no client certificate/);
  const api = new FakeCsrApi({ ca });
  const opts = options(api);
  await ensureClientCertificate(opts);
  const other = new FakeCsrApi({ ca });
  await ensureClientCertificate({ ...opts, kubeconfigPath: path.join(dir, 'other.kubeconfig'), certDir: path.join(dir, 'pki2'), newClient: () => Promise.resolve(other) });
  const pair1 = await readFile(path.join(dir, 'pki', 'kubelet-client-current.pem'), 'utf8');
  const pair2 = await readFile(path.join(dir, 'pki2', 'kubelet-client-current.pem'), 'utf8');
  const certOnly = pemDecodeAll(pair1).filter((b) => b.type === 'CERTIFICATE');
  assert.equal(certOnly.length, 1);
  const mixed = pair1.slice(0, pair1.indexOf('-----BEGIN EC')) + pair2.slice(pair2.indexOf('-----BEGIN EC'));
  await writeFile(path.join(dir, 'mixed.pem'), mixed);
  await writeFile(path.join(dir, 'mixed.kubeconfig'), kubeletKubeconfig({ server: 'https://x' }, path.join(dir, 'mixed.pem')));
  assert.match(await kubeconfigProblem(path.join(dir, 'mixed.kubeconfig'), Date.now()), /does not match/);
});
