import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DockerKeyring, decodeAuthField, imageRepository, isDefaultRegistryMatch, locationKey, parseDockercfg, parseDockerConfigJson, redactCredentials, urlsMatch,
} from './keyring.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const cfg = (entries: Record<string, [string, string]>) => new Map(Object.entries(entries).map(([k, [u, p]]) => [k, { username: u, password: p }]));

void test('config.json: auth wins over username/password, padded or not; other fields ignored', () => {
  const doc = JSON.stringify({
    auths: {
      'a.example.com': { auth: b64('alice:pa:ss'), username: 'ignored', password: 'ignored', email: 'a@example.com' },
      'b.example.com': { username: 'bob', password: 'pw', identitytoken: 'tok' },
      'c.example.com': { auth: b64('carol:x1').replace(/=+$/, '') },
      'd.example.com': null,
    },
    HttpHeaders: { 'User-Agent': 'x' },
  });
  const parsed = parseDockerConfigJson(doc, 'test');
  assert.deepEqual([...parsed], [
    ['a.example.com', { username: 'alice', password: 'pa:ss' }],
    ['b.example.com', { username: 'bob', password: 'pw' }],
    ['c.example.com', { username: 'carol', password: 'x1' }],
    ['d.example.com', { username: '', password: '' }],
  ]);
  assert.deepEqual([...parseDockerConfigJson('{}', 't')], []);
  assert.deepEqual([...parseDockerConfigJson('{"auths": null}', 't')], []);
  assert.deepEqual([...parseDockercfg(JSON.stringify({ 'r.io': { auth: b64('u:p') } }), 't')], [['r.io', { username: 'u', password: 'p' }]]);
});

void test('parse errors name the config, never its content', () => {
  const secret = 'hunter2-very-secret';
  for (const text of [`{"auths": {"r.io": {"password": "${secret}"`, `{"auths": {"r.io": {"auth": "${b64(secret)}"}}}`, `{"auths": {"r.io": {"auth": "${secret}!"}}}`, `["${secret}"]`, `{"auths": {"r.io": {"password": 1}}}`]) {
    assert.throws(
      () => parseDockerConfigJson(text, 'secret "ns/pull"'),
      (err: Error) => err.message.startsWith('secret "ns/pull"') && !err.message.includes(secret) && !err.message.includes(b64(secret)),
      text,
    );
  }
  assert.throws(() => decodeAuthField(b64('nocolon'), 'x'), /must be formatted as base64\(username:password\)/);
  assert.throws(() => decodeAuthField('abc=d', 'x'), /not valid base64/);
});

void test('location keys: scheme dropped, /v1/ and /v2/ mean the registry itself, paths kept', () => {
  assert.equal(locationKey('https://index.docker.io/v1/'), 'index.docker.io');
  assert.equal(locationKey('http://127.0.0.1:5000'), '127.0.0.1:5000');
  assert.equal(locationKey('registry.example.com/v2/team'), 'registry.example.com/team');
  assert.equal(locationKey('quay.io/coreos/'), 'quay.io/coreos/');
  assert.equal(locationKey('user:pw@host.io'), 'host.io');
  assert.equal(locationKey('bad host'), null);
});

void test('urlsMatch as upstream: ports, host part count, globs per part, path prefixes', () => {
  assert.equal(urlsMatch('127.0.0.1:5000', '127.0.0.1:5000/busybox'), true);
  assert.equal(urlsMatch('127.0.0.1:5000', '127.0.0.1:5001/busybox'), false, 'port differs');
  assert.equal(urlsMatch('127.0.0.1', '127.0.0.1:5000/busybox'), false, 'a port must be named');
  assert.equal(urlsMatch('*.example.com', 'registry.example.com/app'), true);
  assert.equal(urlsMatch('*.example.com', 'example.com/app'), false, 'as many parts');
  assert.equal(urlsMatch('*.example.com', 'a.b.example.com/app'), false);
  assert.equal(urlsMatch('registry-[0-9].example.com', 'registry-1.example.com/app'), true);
  assert.equal(urlsMatch('registry-?.example.com', 'registry-1.example.com/app'), false, 'a ? starts the query, as in Go\'s url.Parse');
  assert.equal(urlsMatch('registry-[0-9].example.com', 'registry-x.example.com/app'), false);
  assert.equal(urlsMatch('quay.io/coreos', 'quay.io/coreos/etcd'), true);
  assert.equal(urlsMatch('quay.io/coreos', 'quay.io/other/etcd'), false);
  assert.equal(urlsMatch('docker.io', 'docker.io/library/busybox'), true);
  assert.equal(urlsMatch('[bad', 'x.io/a'), false);
});

void test('image repositories are normalized as the docker reference library does', () => {
  assert.equal(imageRepository('busybox'), 'docker.io/library/busybox');
  assert.equal(imageRepository('busybox:1.36'), 'docker.io/library/busybox');
  assert.equal(imageRepository('team/app@sha256:' + 'a'.repeat(64)), 'docker.io/team/app');
  assert.equal(imageRepository('index.docker.io/busybox'), 'docker.io/library/busybox');
  assert.equal(imageRepository('127.0.0.1:5000/busybox:1.36'), '127.0.0.1:5000/busybox');
  assert.equal(imageRepository('localhost/app'), 'localhost/app');
  assert.equal(imageRepository('registry.example.com/a/b/c:v1'), 'registry.example.com/a/b/c');
  assert.throws(() => imageRepository('Busy Box'), /couldn't parse image name "Busy Box": invalid reference format/);
  assert.throws(() => imageRepository('r.io/UPPER'), /invalid reference format/);
  assert.equal(isDefaultRegistryMatch('docker.io/library/busybox'), true);
  assert.equal(isDefaultRegistryMatch('team/app'), true);
  assert.equal(isDefaultRegistryMatch('127.0.0.1:5000/busybox'), false);
});

void test('lookup: every matching location, most specific first; Docker Hub falls back to index.docker.io', () => {
  const k = new DockerKeyring();
  k.add(cfg({ 'quay.io': ['all', '1'], 'quay.io/coreos': ['coreos', '2'], 'https://index.docker.io/v1/': ['hub', '3'], '*.example.com': ['wild', '4'] }));
  k.add(cfg({ 'http://quay.io': ['all2', '5'] }));
  assert.deepEqual(k.lookup('quay.io/coreos/etcd').map((c) => c.username), ['coreos', 'all', 'all2']);
  assert.deepEqual(k.lookup('quay.io/other/x').map((c) => c.username), ['all', 'all2']);
  assert.deepEqual(k.lookup(imageRepository('busybox')).map((c) => c.username), ['hub']);
  assert.deepEqual(k.lookup('r.example.com/app').map((c) => c.username), ['wild']);
  assert.deepEqual(k.lookup('127.0.0.1:5000/busybox'), []);
  const hub = new DockerKeyring();
  hub.add(cfg({ 'docker.io': ['dio', '6'] }));
  assert.deepEqual(hub.lookup('docker.io/library/busybox').map((c) => c.username), ['dio'], 'docker.io matches by host');
});

void test('redaction: passwords, tokens, auth strings and base64(user:pass), but not short words', () => {
  const auths = [{ username: 'tester', password: 's3cretPW' }, { auth: 'QUJDREVGRw==', identity_token: 'tok-123456' }, { username: 'u', password: 'ab' }];
  const text = `failed: s3cretPW in ${b64('tester:s3cretPW')} and QUJDREVGRw== and tok-123456; about ab`;
  assert.equal(redactCredentials(text, auths), 'failed: <redacted> in <redacted> and <redacted> and <redacted>; about ab');
  assert.equal(redactCredentials('nothing here', []), 'nothing here');
});
