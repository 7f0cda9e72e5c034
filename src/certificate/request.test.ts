import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeClock } from '../common/clock.ts';
import { isInvalidInput, isTransient } from '../common/errors.ts';
import { KubeApiError } from '../kube/client.ts';
import { silentLogger } from '../observability/logger.ts';
import { makeCertificateRequest, nodeClientSubject } from './csr.ts';
import { generateEcKey } from './pem.ts';
import { CSR_PATH, KUBELET_CLIENT_SIGNER, csrVerdict, incompatibility, requestCertificate, waitForCertificate, type CertificateSigningRequest } from './request.ts';
import { FakeCsrApi, TestCa } from './testing.ts';

const ca = new TestCa();

function csrFor(node: string, key = generateEcKey()): { key: ReturnType<typeof generateEcKey>; body: CertificateSigningRequest } {
  const pem = makeCertificateRequest({ subject: nodeClientSubject(node) }, key.key).pem;
  return { key, body: { metadata: { name: 'x', uid: 'u1' }, spec: { request: Buffer.from(pem).toString('base64'), signerName: KUBELET_CLIENT_SIGNER } } };
}

test('verdicts: pending, approved without certificate, issued, denied, failed, replaced', () => {
  const base: CertificateSigningRequest = { metadata: { name: 'c', uid: 'u1' } };
  assert.deepEqual(csrVerdict(base, 'u1'), { kind: 'pending', approved: false });
  assert.deepEqual(csrVerdict({ ...base, status: { conditions: [{ type: 'Approved' }] } }, 'u1'), { kind: 'pending', approved: true });
  assert.deepEqual(csrVerdict({ ...base, status: { conditions: [{ type: 'Approved' }], certificate: Buffer.from('PEM').toString('base64') } }, 'u1'), { kind: 'issued', certificatePem: 'PEM' });
  const denied = csrVerdict({ ...base, status: { conditions: [{ type: 'Approved' }, { type: 'Denied', reason: 'R', message: 'M' }] } }, 'u1');
  assert.deepEqual(denied, { kind: 'error', message: 'certificate signing request c is denied, reason: R, message: M' });
  assert.equal(csrVerdict({ ...base, status: { conditions: [{ type: 'Failed', reason: 'SignerError', message: 'boom' }] } }, 'u1').kind, 'error');
  assert.deepEqual(csrVerdict(base, 'other'), { kind: 'error', message: 'csr c changed UIDs' });
});

test('an existing CSR of the same name is reused only when compatible', () => {
  const mine = csrFor('n1');
  const now = Date.now();
  assert.equal(incompatibility(mine.body, mine.body, mine.key.key, now), '');
  assert.match(incompatibility(csrFor('n2', mine.key).body, mine.body, mine.key.key, now), /subjects differ/);
  assert.match(incompatibility(csrFor('n1').body, mine.body, mine.key.key, now), /not signed by our private key/);
  const otherSigner = structuredClone(mine.body);
  otherSigner.spec!.signerName = 'example.com/other';
  assert.match(incompatibility(otherSigner, mine.body, mine.key.key, now), /signer names differ/);
  const expired = structuredClone(mine.body);
  const pem = Buffer.from(mine.body.spec!.request!, 'base64').toString();
  expired.status = { certificate: Buffer.from(ca.signRequest(pem, now - 7_200_000, now - 3_600_000)).toString('base64') };
  assert.match(incompatibility(expired, mine.body, mine.key.key, now), /expired/);
});

test('requestCertificate: generateName csr- without a name; reuse by name; other errors pass through', async () => {
  const api = new FakeCsrApi({ ca, mode: 'manual' });
  const clock = new FakeClock(Date.now());
  const key = generateEcKey();
  const csrPem = makeCertificateRequest({ subject: nodeClientSubject('n1') }, key.key).pem;
  const params = { csrPem, signerName: KUBELET_CLIENT_SIGNER, usages: ['digital signature', 'client auth'] as const, privateKey: key.key, clock };
  const generated = await requestCertificate(api, { ...params, usages: [...params.usages] });
  assert.match(generated.name, /^csr-/);
  const created = await requestCertificate(api, { ...params, usages: [...params.usages], name: 'node-csr-abc' });
  const again = await requestCertificate(api, { ...params, usages: [...params.usages], name: 'node-csr-abc' });
  assert.deepEqual(again, created);
  const other = generateEcKey();
  await assert.rejects(requestCertificate(api, { ...params, usages: [...params.usages], name: 'node-csr-abc', privateKey: other.key }), isInvalidInput);
  api.postFailures.push(new KubeApiError('Internal', 403, 'Forbidden', 'nope'));
  await assert.rejects(requestCertificate(api, { ...params, usages: [...params.usages] }), (err: unknown) => err instanceof KubeApiError && err.status === 403);
  const body = api.csrs.get(created.name)!;
  assert.deepEqual(body.spec?.usages, ['digital signature', 'client auth']);
  assert.equal(body.spec?.signerName, KUBELET_CLIENT_SIGNER);
  assert.equal('expirationSeconds' in (body.spec ?? {}), false);
});

test('waitForCertificate: resolves once approved and issued, across watch restarts and a 410', async () => {
  const api = new FakeCsrApi({ ca, mode: 'manual' });
  const key = generateEcKey();
  const csrPem = makeCertificateRequest({ subject: nodeClientSubject('n1') }, key.key).pem;
  const { name, uid } = await requestCertificate(api, { csrPem, signerName: KUBELET_CLIENT_SIGNER, usages: ['digital signature', 'client auth'], privateKey: key.key, clock: new FakeClock() });
  // The first watch fails with 410 Gone: the waiter relists.
  const watch = api.watch.bind(api);
  let watches = 0;
  api.watch = (path, query, onEvent, signal) => (++watches === 1 ? Promise.reject(new KubeApiError('Transient', 410, 'Expired', 'gone')) : watch(path, query, onEvent, signal));
  const waiting = waitForCertificate(api, name, uid, { clock: new FakeClock(), logger: silentLogger, timeoutMs: 60_000 });
  await new Promise((r) => setTimeout(r, 20));
  api.approve(name);
  const pem = await waiting;
  assert.match(pem, /BEGIN CERTIFICATE/);
  assert.equal(api.calls.filter((c) => c === `GET ${CSR_PATH}`).length, 2);
  assert.equal(watches, 2);
});

test('waitForCertificate: denied is InvalidInput with the reason; deleted is an error; timeout is Transient', async () => {
  const api = new FakeCsrApi({ ca, mode: 'manual' });
  const key = generateEcKey();
  const csrPem = makeCertificateRequest({ subject: nodeClientSubject('n1') }, key.key).pem;
  const base = { signerName: KUBELET_CLIENT_SIGNER, usages: ['digital signature' as const, 'client auth' as const], privateKey: key.key, clock: new FakeClock() };

  const a = await requestCertificate(api, { ...base, csrPem });
  const denied = waitForCertificate(api, a.name, a.uid, { clock: new FakeClock(), logger: silentLogger, timeoutMs: 60_000 });
  setImmediate(() => api.deny(a.name));
  await assert.rejects(denied, (err: unknown) => isInvalidInput(err) && /denied, reason: TestDenied, message: not you/.test((err as Error).message));

  const b = await requestCertificate(api, { ...base, csrPem });
  const deleted = waitForCertificate(api, b.name, b.uid, { clock: new FakeClock(), logger: silentLogger, timeoutMs: 60_000 });
  setImmediate(() => void api.request('DELETE', `${CSR_PATH}/${b.name}`));
  await assert.rejects(deleted, /was deleted/);

  const c = await requestCertificate(api, { ...base, csrPem });
  const clock = new FakeClock(0);
  const slow = waitForCertificate(api, c.name, c.uid, { clock, logger: silentLogger, timeoutMs: 3_600_000 });
  await new Promise((r) => setTimeout(r, 20));
  clock.advance(3_600_000);
  await assert.rejects(slow, (err: unknown) => isTransient(err) && /timed out after 3600 s/.test((err as Error).message));

  const d = await requestCertificate(api, { ...base, csrPem });
  const ctrl = new AbortController();
  const aborted = waitForCertificate(api, d.name, d.uid, { clock: new FakeClock(), logger: silentLogger, timeoutMs: 60_000, signal: ctrl.signal });
  setImmediate(() => ctrl.abort(new DOMException('stop', 'AbortError')));
  await assert.rejects(aborted, { name: 'AbortError' });
});
