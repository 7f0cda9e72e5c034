import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test } from 'node:test';
import { generateEcKey } from './pem.ts';
import { makeSelfSignedCertificate } from './self-signed.ts';

void test('a self-signed serving certificate that node:crypto parses and verifies', () => {
  const { key } = generateEcKey();
  const now = Date.UTC(2026, 10, 28, 12, 0, 0);
  const pem = makeSelfSignedCertificate({ commonName: 'node-a@1796000000', dnsNames: ['node-a', 'localhost'], ipAddresses: ['192.0.2.2', '127.0.0.1', '::1'], notBeforeMs: now, notAfterMs: now + 365 * 86_400_000 }, key);
  const cert = new X509Certificate(pem);
  assert.equal(cert.subject, 'CN=node-a@1796000000');
  assert.equal(cert.issuer, cert.subject);
  assert.equal(cert.subjectAltName, 'DNS:node-a, DNS:localhost, IP Address:192.0.2.2, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(new Date(cert.validFrom).getTime(), now);
  assert.equal(new Date(cert.validTo).getTime(), now + 365 * 86_400_000);
  assert.deepEqual(cert.keyUsage, ['1.3.6.1.5.5.7.3.1']);
  assert.equal(cert.ca, false);
  assert.ok(cert.verify(cert.publicKey));
  assert.ok(cert.checkPrivateKey(key));
  assert.ok(cert.checkHost('node-a'));
  assert.ok(cert.checkIP('192.0.2.2'));
});
