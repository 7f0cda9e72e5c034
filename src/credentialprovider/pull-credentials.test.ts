import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EventType } from '../kube/events.ts';
import type { Secret } from '../kube/object-cache.ts';
import type { Pod } from '../kube/types.ts';
import { silentLogger } from '../observability/logger.ts';
import { DockerKeyring } from './keyring.ts';
import { keyringFromSecrets, PodPullCredentials } from './pull-credentials.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const jsonSecret = (name: string, auths: Record<string, unknown>): Secret => ({
  metadata: { name, namespace: 'ns' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': b64(JSON.stringify({ auths })) },
});
const pod = (secrets: string[]): Pod => ({ metadata: { name: 'p', namespace: 'ns', uid: 'u1' }, spec: { containers: [], imagePullSecrets: secrets.map((name) => ({ name })) } });

function recorder(): { events: [EventType, string, string][]; event(p: Pod, type: EventType, reason: string, message: string): void } {
  const events: [EventType, string, string][] = [];
  return { events, event: (_p, type, reason, message) => events.push([type, reason, message]) };
}

void test('keyringFromSecrets: dockerconfigjson and dockercfg secrets; other types and empty data ignored', () => {
  const k = keyringFromSecrets([
    jsonSecret('a', { 'r.io': { auth: b64('json:1') } }),
    { metadata: { name: 'b', namespace: 'ns' }, type: 'kubernetes.io/dockercfg', data: { '.dockercfg': b64(JSON.stringify({ 'r.io': { username: 'cfg', password: '2' } })) } },
    { metadata: { name: 'c', namespace: 'ns' }, type: 'Opaque', data: { '.dockerconfigjson': b64(JSON.stringify({ auths: { 'r.io': { username: 'opaque', password: '3' } } })) } },
    { metadata: { name: 'd', namespace: 'ns' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': '' } },
  ]);
  assert.deepEqual(k.lookup('r.io/app').map((c) => c.username), ['json', 'cfg']);
  assert.throws(() => keyringFromSecrets([{ ...jsonSecret('bad', {}), data: { '.dockerconfigjson': b64('{"auths": ') } }]), /^KubeletError|secret "ns\/bad": .dockerconfigjson: not valid JSON/);
});

void test('credentialsFor: pod secrets first, then the node config; missing secrets give one event', async () => {
  const secrets = new Map([
    ['good', jsonSecret('good', { '127.0.0.1:5000': { username: 'pod', password: 'podpw' } })],
    ['other', jsonSecret('other', { 'elsewhere.io': { username: 'x', password: 'y' } })],
  ]);
  const asked: string[] = [];
  const source = {
    getSecret: (ns: string, name: string): Promise<Secret | null> => {
      asked.push(`${ns}/${name}`);
      if (name === 'broken') return Promise.reject(new Error('connection refused'));
      return Promise.resolve(secrets.get(name) ?? null);
    },
  };
  const nodeKeyring = new DockerKeyring();
  nodeKeyring.add(new Map([['127.0.0.1:5000', { username: 'node', password: 'nodepw' }]]));
  const rec = recorder();
  const creds = new PodPullCredentials({ secrets: source, node: { keyring: () => Promise.resolve(nodeKeyring) }, recorder: rec, logger: silentLogger });
  const signal = new AbortController().signal;

  const auths = await creds.credentialsFor(pod(['good', 'missing', '', 'other', 'broken']), '127.0.0.1:5000/busybox:1.36', signal);
  assert.deepEqual(auths, [{ username: 'pod', password: 'podpw' }, { username: 'node', password: 'nodepw' }]);
  assert.deepEqual(asked, ['ns/good', 'ns/missing', 'ns/other', 'ns/broken']);
  assert.deepEqual(rec.events, [['Warning', 'FailedToRetrieveImagePullSecret', 'Unable to retrieve some image pull secrets (missing, broken); attempting to pull the image may not succeed.']]);

  assert.deepEqual(await creds.credentialsFor(pod([]), 'docker.io/library/busybox', signal), [], 'no match: anonymous');
  await assert.rejects(creds.credentialsFor(pod([]), 'Not An Image', signal), /invalid reference format/);
});

void test('standalone (no API): pull secrets cannot be read, the node config still applies', async () => {
  const rec = recorder();
  const creds = new PodPullCredentials({ secrets: null, node: null, recorder: rec, logger: silentLogger });
  assert.deepEqual(await creds.credentialsFor(pod(['s']), 'r.io/app', new AbortController().signal), []);
  assert.equal(rec.events[0]?.[1], 'FailedToRetrieveImagePullSecret');
});
