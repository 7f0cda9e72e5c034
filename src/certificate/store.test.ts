import assert from 'node:assert/strict';
import { lstat, mkdtemp, readFile, readlink, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import { isInvalidInput, isNotFound } from '../common/errors.ts';
import { makeCertificateRequest, nodeClientSubject } from './csr.ts';
import { generateEcKey, pemDecodeAll } from './pem.ts';
import { CertificateFileStore, timestampName } from './store.ts';
import { TestCa } from './testing.ts';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'certstore-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ca = new TestCa();
function issue(node = 'n1', notBefore = Date.now() - 1000, notAfter = Date.now() + 3_600_000): { certPem: string; keyPem: string } {
  const key = generateEcKey();
  return { certPem: ca.signRequest(makeCertificateRequest({ subject: nodeClientSubject(node) }, key.key).pem, notBefore, notAfter), keyPem: key.pem };
}

test('timestamps use the Go layout 2006-01-02-15-04-05 (local time)', () => {
  const ms = new Date(2025, 0, 2, 3, 4, 5).getTime();
  assert.equal(timestampName(ms), '2025-01-02-03-04-05');
});

test('update writes the pair 0600 and points the -current symlink at it, atomically replacing the old one', async () => {
  const certDir = path.join(dir, 'pki');
  const store = new CertificateFileStore(certDir);
  await assert.rejects(store.current(), isNotFound);
  const first = issue();
  const t1 = new Date(2025, 5, 1, 12, 0, 0).getTime();
  const file1 = await store.update(first.certPem, first.keyPem, t1);
  assert.equal(file1, path.join(certDir, 'kubelet-client-2025-06-01-12-00-00.pem'));
  assert.equal((await stat(certDir)).mode & 0o777, 0o700);
  assert.equal((await stat(file1)).mode & 0o777, 0o600);
  assert.deepEqual(pemDecodeAll(await readFile(file1, 'utf8')).map((b) => b.type), ['CERTIFICATE', 'EC PRIVATE KEY']);
  assert.equal((await lstat(store.currentPath())).isSymbolicLink(), true);
  assert.equal(await readlink(store.currentPath()), file1);
  const cur = await store.current();
  assert.equal(cur.keyPem, first.keyPem);

  const second = issue();
  const file2 = await store.update(second.certPem, second.keyPem, t1 + 61_000);
  assert.equal(await readlink(store.currentPath()), file2);
  assert.equal((await store.current()).keyPem, second.keyPem);
  assert.deepEqual((await readdir(certDir)).sort(), ['kubelet-client-2025-06-01-12-00-00.pem', 'kubelet-client-2025-06-01-12-01-01.pem', 'kubelet-client-current.pem']);
});

test('update refuses a key that does not match, before writing anything', async () => {
  const store = new CertificateFileStore(dir);
  const a = issue();
  const b = issue();
  await assert.rejects(store.update(a.certPem, b.keyPem, Date.now()), isInvalidInput);
  await assert.rejects(store.update('garbage', a.keyPem, Date.now()), isInvalidInput);
  assert.deepEqual(await readdir(dir), []);
});

test('a regular file where the symlink belongs is an error, not overwritten', async () => {
  const store = new CertificateFileStore(dir);
  await writeFile(store.currentPath(), 'x');
  const a = issue();
  await assert.rejects(store.update(a.certPem, a.keyPem, Date.now()), /expected .* to be a symlink/);
  assert.equal(await readFile(store.currentPath(), 'utf8'), 'x');
});

test('recover finishes an interrupted swap (-updated left without -current)', async () => {
  const store = new CertificateFileStore(dir);
  const a = issue();
  const file = await store.update(a.certPem, a.keyPem, Date.now());
  await rm(store.currentPath());
  await symlink(file, path.join(dir, 'kubelet-client-updated.pem'));
  await store.recover();
  assert.equal(await readlink(store.currentPath()), file);
});

test('current falls back to kubelet-client.crt + .key and reports a corrupt pair', async () => {
  const store = new CertificateFileStore(dir);
  const a = issue();
  await writeFile(path.join(dir, 'kubelet-client.crt'), a.certPem);
  await writeFile(path.join(dir, 'kubelet-client.key'), a.keyPem);
  assert.equal((await store.current()).file, path.join(dir, 'kubelet-client.crt'));
  await writeFile(path.join(dir, 'kubelet-client-current.pem'), 'not a pem');
  await assert.rejects(store.current(), isInvalidInput);
});
