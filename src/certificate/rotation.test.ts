import assert from 'node:assert/strict';
import { mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { FakeClock } from '../common/clock.ts';
import { KubeApiError } from '../kube/client.ts';
import { silentLogger } from '../observability/logger.ts';
import { makeCertificateRequest, nodeClientSubject } from './csr.ts';
import { generateEcKey, parseCertificates } from './pem.ts';
import { KUBELET_CLIENT_SIGNER } from './request.ts';
import { ClientCertificateRotator, rotationDeadline, rotationRetryDelayMs, satisfiesNodeClientTemplate } from './rotation.ts';
import { CertificateFileStore } from './store.ts';
import { FakeCsrApi, TestCa } from './testing.ts';

const ca = new TestCa();
const T0 = Date.UTC(2025, 0, 1);
const HOUR = 3_600_000;
let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rotation-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A FakeClock that records every sleep, so a test can wait until the code under test sleeps. */
class RecordingClock extends FakeClock {
  readonly sleeps: number[] = [];
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return super.sleep(ms, signal);
  }
  async untilSleeps(n: number): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (this.sleeps.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} sleeps, saw ${JSON.stringify(this.sleeps)}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

async function seed(node: string, notBefore: number, notAfter: number): Promise<string> {
  const key = generateEcKey();
  const cert = ca.signRequest(makeCertificateRequest({ subject: nodeClientSubject(node) }, key.key).pem, notBefore, notAfter);
  return new CertificateFileStore(dir).update(cert, key.pem, notBefore);
}

test('rotation deadline: 70 % to 90 % of the validity after notBefore', () => {
  assert.equal(rotationDeadline(1000, 11_000, 0), 8000);
  assert.equal(rotationDeadline(1000, 11_000, 0.5), 9000);
  assert.equal(rotationDeadline(1000, 11_000, 0.999999), 9999);
  const year = 365 * 24 * HOUR;
  for (let i = 0; i < 100; i++) {
    const d = rotationDeadline(T0, T0 + year, Math.random());
    assert.ok(d >= T0 + 0.7 * year && d < T0 + 0.9 * year);
  }
});

test('retry delays: 2, 4, 8, 16 s with up to 10 % jitter, then every 32 s', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 50].map((n) => rotationRetryDelayMs(n, 0)), [2000, 4000, 8000, 16000, 32000, 32000, 32000]);
  assert.equal(rotationRetryDelayMs(1, 0.99), 2198);
});

test('template check: CN system:node:<name> and O system:nodes', () => {
  const key = generateEcKey();
  const good = parseCertificates(ca.signRequest(makeCertificateRequest({ subject: nodeClientSubject('n1') }, key.key).pem, T0, T0 + HOUR))[0]!;
  assert.equal(satisfiesNodeClientTemplate(good, 'n1'), true);
  assert.equal(satisfiesNodeClientTemplate(good, 'n2'), false);
  const noOrg = parseCertificates(ca.signRequest(makeCertificateRequest({ subject: { commonName: 'system:node:n1', organizations: [] } }, key.key).pem, T0, T0 + HOUR))[0]!;
  assert.equal(satisfiesNodeClientTemplate(noOrg, 'n1'), false);
});

test('the rotator sleeps until the deadline, rotates with the current client, swaps the symlink and calls onRotated', async () => {
  const clock = new RecordingClock(T0);
  const api = new FakeCsrApi({ ca, now: () => clock.now(), validityMs: 10 * HOUR });
  const oldFile = await seed('n1', T0, T0 + 10 * HOUR);
  let rotated = 0;
  const rotator = new ClientCertificateRotator({
    client: api,
    certDir: dir,
    nodeName: 'n1',
    logger: silentLogger,
    clock,
    random: () => 0.5,
    onRotated: async () => {
      rotated++;
      await api.reload();
    },
  });
  const ctrl = new AbortController();
  const running = rotator.run(ctrl.signal);
  await clock.untilSleeps(1);
  assert.equal(clock.sleeps[0], HOUR); // 8 h away: slept in one-hour steps
  for (let h = 1; h < 8; h++) {
    clock.advance(HOUR);
    await clock.untilSleeps(h + 1);
  }
  assert.equal(api.csrs.size, 0);
  assert.equal(clock.now(), T0 + 7 * HOUR);
  clock.advance(HOUR); // the deadline: 80 % of 10 h
  while (rotated === 0) await new Promise((r) => setTimeout(r, 2));
  assert.equal(api.csrs.size, 1);
  const csr = [...api.csrs.values()][0]!;
  assert.match(csr.metadata!.name!, /^csr-/);
  assert.equal(csr.spec?.signerName, KUBELET_CLIENT_SIGNER);
  assert.deepEqual(csr.spec?.usages, ['digital signature', 'client auth']);
  const store = new CertificateFileStore(dir);
  const newFile = await readlink(store.currentPath());
  assert.notEqual(newFile, oldFile);
  assert.equal(api.reloads, 1);
  // Sleeps so far: 8 hourly ones and the CSR wait's 15-minute timeout; then the next deadline,
  // drawn for the new certificate (valid 10 h from T0 + 8 h - 1 s), is again hours away.
  assert.equal(clock.sleeps[8], 15 * 60_000);
  await clock.untilSleeps(10);
  assert.equal(clock.sleeps[9], HOUR);
  ctrl.abort();
  await running;
});

test('forced rotation at start; failures back off 2 s, 4 s and never end the loop; onRotated errors are logged', async () => {
  const clock = new RecordingClock(T0);
  const api = new FakeCsrApi({ ca, now: () => clock.now() });
  await seed('n1', T0, T0 + 10 * HOUR);
  api.postFailures.push(new KubeApiError('Internal', 403, 'Forbidden', 'no'), new KubeApiError('Transient', 500, 'InternalError', 'boom'));
  let rotated = 0;
  const rotator = new ClientCertificateRotator({
    client: api,
    certDir: dir,
    nodeName: 'n1',
    logger: silentLogger,
    clock,
    random: () => 0,
    forceRotation: true,
    onRotated: () => {
      rotated++;
      return Promise.reject(new Error('reload failed'));
    },
  });
  const ctrl = new AbortController();
  const running = rotator.run(ctrl.signal);
  await clock.untilSleeps(1);
  assert.equal(clock.sleeps[0], 2000);
  clock.advance(2000);
  await clock.untilSleeps(2);
  assert.equal(clock.sleeps[1], 4000);
  clock.advance(4000);
  while (rotated === 0) await new Promise((r) => setTimeout(r, 2));
  assert.equal(api.csrs.size, 1);
  await clock.untilSleeps(3); // back to waiting for the next deadline: the loop survived
  ctrl.abort();
  await running;
});

test('a missing or foreign certificate is rotated at once', async () => {
  const clock = new RecordingClock(T0);
  const api = new FakeCsrApi({ ca, now: () => clock.now() });
  await seed('someone-else', T0, T0 + 10 * HOUR);
  let rotated = 0;
  const ctrl = new AbortController();
  const running = new ClientCertificateRotator({
    client: api,
    certDir: dir,
    nodeName: 'n1',
    logger: silentLogger,
    clock,
    random: () => 0,
    onRotated: () => {
      rotated++;
      return Promise.resolve();
    },
  }).run(ctrl.signal);
  while (rotated === 0) await new Promise((r) => setTimeout(r, 2));
  const cur = await new CertificateFileStore(dir).current();
  assert.equal(satisfiesNodeClientTemplate(cur.certificates[0]!, 'n1'), true);
  ctrl.abort();
  await running;
});
