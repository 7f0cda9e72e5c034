import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { isInvalidInput, isUnsupported } from '../common/errors.ts';
import { generateKeyPairSync } from 'node:crypto';
import {
  digestedName,
  encodeSubject,
  ipAddressBytes,
  kubeletClientUsages,
  makeCertificateRequest,
  nodeClientSubject,
  parseCertificateRequest,
  subjectPublicKeyInfo,
  verifyCertificateRequest,
} from './csr.ts';
import { generateEcKey } from './pem.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'csr-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs openssl; fails the test (never skips) when it is not installed. */
function openssl(args: string[], input?: string): { status: number; out: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    assert.fail('openssl is needed to check certificate requests: install it (apt-get install openssl)');
  }
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

function writeTemp(name: string, data: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, data);
  return file;
}

// A fixed key, and the bootstrap CSR name Go's upstream digestedName computes for it
// (sha512.New512_256 over base64.RawURLEncoding parts), to pin our hash to upstream's.
const FIXED_KEY = `-----BEGIN EC PRIVATE KEY-----
MHcCAQEEIMLjEOxoYjjGh3o6fnOJ2xU5w5gRE+zlPExReJGjPUX8oAoGCCqGSM49
AwEHoUQDQgAEiSpENLEidiwDUI1Jpgm9PAe1G+pCd0c2MTLR+4e0axjsIOEZ40De
/LJpHP5HPmTbiXYge/Tducj2xCYYUKy4fw==
-----END EC PRIVATE KEY-----
`;
const FIXED_KEY_NAME_FOR_NODE_A = 'node-csr-fWBqPez8Mkab5MK6ryeG_lVrMsSxa5uddTGb6fKGBBg';

test('a node client CSR verifies with openssl and carries the node subject, no extensions', () => {
  const { key } = generateEcKey();
  const csr = makeCertificateRequest({ subject: nodeClientSubject('node-1.example') }, key);
  assert.match(csr.pem, /^-----BEGIN CERTIFICATE REQUEST-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE REQUEST-----\n$/);
  const file = writeTemp('client.csr', csr.pem);
  const verified = openssl(['req', '-verify', '-noout', '-in', file]);
  assert.equal(verified.status, 0, verified.out);
  assert.match(verified.out, /verify OK/);
  const text = openssl(['req', '-text', '-noout', '-in', file]).out;
  assert.match(text, /Subject: O = system:nodes, CN = system:node:node-1\.example\n/);
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
  assert.match(text, /NIST CURVE: P-256/);
  assert.match(text, /Attributes:\s+\(none\)/); // (openssl 3.0 prints an empty "Requested Extensions:" anyway)
  assert.doesNotMatch(text, /X509v3/);
  // Go's encoding: PrintableString values, O before CN, attributes `a0 00`.
  const asn1 = openssl(['asn1parse', '-in', file]).out;
  assert.match(asn1, /PRINTABLESTRING\s+:system:nodes[\s\S]*PRINTABLESTRING\s+:system:node:node-1\.example/);
  assert.match(asn1, /cont \[ 0 \]/);
  // Also DER in equals PEM body.
  assert.deepEqual(Buffer.from(csr.pem.split('\n').slice(1, -2).join(''), 'base64'), csr.der);
});

test('subjectAltName DNS names and IP addresses are requested as an extension', () => {
  const { key } = generateEcKey();
  const csr = makeCertificateRequest(
    { subject: nodeClientSubject('n1'), dnsNames: ['n1', 'n1.example.com'], ipAddresses: ['10.0.0.7', '::1', 'fd00::5'] },
    key,
  );
  const file = writeTemp('serving.csr', csr.pem);
  const verified = openssl(['req', '-verify', '-noout', '-in', file]);
  assert.equal(verified.status, 0, verified.out);
  const text = openssl(['req', '-text', '-noout', '-in', file]).out;
  assert.match(text, /Requested Extensions:\s+X509v3 Subject Alternative Name:\s+DNS:n1, DNS:n1\.example\.com, IP Address:10\.0\.0\.7, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:0:5/);
  assert.throws(() => makeCertificateRequest({ subject: nodeClientSubject('n1'), ipAddresses: ['10.0.0.300'] }, key), isInvalidInput);
  assert.throws(() => makeCertificateRequest({ subject: nodeClientSubject('n1'), dnsNames: ['a b'] }, key), isInvalidInput);
});

test('openssl can sign our request (a CA accepts it)', () => {
  const { key } = generateEcKey();
  const csrFile = writeTemp('sign.csr', makeCertificateRequest({ subject: nodeClientSubject('signme') }, key).pem);
  const caKey = path.join(dir, 'ca.key');
  const caCert = path.join(dir, 'ca.crt');
  const r1 = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caCert, '-subj', '/CN=test-ca', '-days', '1']);
  assert.equal(r1.status, 0, r1.out);
  const r2 = openssl(['x509', '-req', '-in', csrFile, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-days', '1', '-out', path.join(dir, 'signed.crt')]);
  assert.equal(r2.status, 0, r2.out);
  const subject = execFileSync('openssl', ['x509', '-noout', '-subject', '-in', path.join(dir, 'signed.crt')], { encoding: 'utf8' });
  assert.equal(subject.trim(), 'subject=O = system:nodes, CN = system:node:signme');
});

test('only EC keys sign requests', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  assert.throws(() => makeCertificateRequest({ subject: nodeClientSubject('x') }, privateKey), isUnsupported);
  assert.throws(() => makeCertificateRequest({ subject: nodeClientSubject('x') }, publicKey), isUnsupported);
});

test('a request parses back: subject, key, signature by its key only', () => {
  const a = generateEcKey().key;
  const b = generateEcKey().key;
  const subject = nodeClientSubject('parse-me');
  const csr = makeCertificateRequest({ subject }, a);
  for (const input of [csr.pem, csr.der]) {
    const parsed = parseCertificateRequest(input);
    assert.deepEqual(parsed.subject, encodeSubject(subject));
    assert.deepEqual(parsed.subjectPublicKeyInfo, subjectPublicKeyInfo(a));
    assert.equal(verifyCertificateRequest(parsed, createPublicKey(a)), true);
    assert.equal(verifyCertificateRequest(parsed, createPublicKey(b)), false);
  }
  assert.throws(() => parseCertificateRequest('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), isInvalidInput);
  assert.throws(() => parseCertificateRequest(Buffer.from('300100', 'hex')), isInvalidInput);
});

test('IP addresses to bytes', () => {
  assert.equal(ipAddressBytes('10.1.2.3').toString('hex'), '0a010203');
  assert.equal(ipAddressBytes('::1').toString('hex'), '00000000000000000000000000000001');
  assert.equal(ipAddressBytes('::').toString('hex'), '0'.repeat(32));
  assert.equal(ipAddressBytes('fe80::').toString('hex'), 'fe80' + '0'.repeat(28));
  assert.equal(ipAddressBytes('2001:db8::8:800:200c:417a').toString('hex'), '20010db80000000000080800200c417a');
  assert.equal(ipAddressBytes('::ffff:1.2.3.4').toString('hex'), '00000000000000000000ffff01020304');
  assert.equal(ipAddressBytes('1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
  for (const bad of ['', 'node', '1.2.3', '1::2::3']) assert.throws(() => ipAddressBytes(bad), isInvalidInput, bad);
});

test('usages for the kubelet client signer: no key encipherment for ECDSA', () => {
  assert.deepEqual(kubeletClientUsages(generateEcKey().key), ['digital signature', 'client auth']);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
  assert.deepEqual(kubeletClientUsages(rsa), ['digital signature', 'key encipherment', 'client auth']);
});

test('the bootstrap CSR name is upstream digestedName', () => {
  const key = createPrivateKey(FIXED_KEY);
  const usages = kubeletClientUsages(key);
  const name = digestedName(subjectPublicKeyInfo(key), nodeClientSubject('node-a'), usages);
  assert.equal(name, FIXED_KEY_NAME_FOR_NODE_A);
  assert.notEqual(digestedName(subjectPublicKeyInfo(key), nodeClientSubject('node-b'), usages), name);
  assert.notEqual(digestedName(subjectPublicKeyInfo(generateEcKey().key), nodeClientSubject('node-a'), usages), name);
});
