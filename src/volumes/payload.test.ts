import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1ProjectedVolumeSource as ProjectedVolumeSource } from '@kubernetes/client-node';
import type { Pod } from '../kube/types.ts';
import type { ConfigMap, Secret } from '../kube/object-cache.ts';
import { isInvalidInput } from '../common/errors.ts';
import type { Payload } from './atomic-writer.ts';
import { configMapPayload, downwardAPIPayload, fsUserFrom, projectedPayload, secretPayload, type ProjectionInputs } from './payload.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
/** A payload as { path: [text, mode] } for comparisons. */
const view = (p: Payload): Record<string, [string, string, number?]> =>
  Object.fromEntries([...p].map(([k, f]) => [k, f.fsUser === undefined ? [f.data.toString(), f.mode.toString(8)] : [f.data.toString(), f.mode.toString(8), f.fsUser]]));

const cm: ConfigMap = { data: { 'app.conf': 'x=1', other: 'o' }, binaryData: { 'logo.bin': b64('\x00\x01') } };
const secret: Secret = { data: { password: b64('hunter2'), user: b64('admin') } };

test('configMapPayload: all keys with defaultMode, or items with paths and modes', () => {
  assert.deepEqual(view(configMapPayload(undefined, cm, 0o644, false)), { 'app.conf': ['x=1', '644'], other: ['o', '644'], 'logo.bin': ['\x00\x01', '644'] });
  assert.deepEqual(view(configMapPayload([{ key: 'app.conf', path: 'etc/app.conf', mode: 0o400 }, { key: 'logo.bin', path: 'logo' }], cm, 0o440, false)), {
    'etc/app.conf': ['x=1', '400'],
    logo: ['\x00\x01', '440'],
  });
  assert.throws(() => configMapPayload([{ key: 'nope', path: 'n' }], cm, 0o644, false), (err: unknown) => isInvalidInput(err) && (err as Error).message === 'configmap references non-existent config key: nope');
  assert.deepEqual(view(configMapPayload([{ key: 'nope', path: 'n' }, { key: 'other', path: 'o' }], cm, 0o644, true)), { o: ['o', '644'] });
  assert.throws(() => configMapPayload(undefined, cm, 0o1000, false), /between 0 and 0777/);
  assert.throws(() => configMapPayload([{ key: 'other', path: 'o', mode: -1 }], cm, 0o644, false), /between 0 and 0777/);
});

test('secretPayload: base64 data decoded; items; optional', () => {
  assert.deepEqual(view(secretPayload(undefined, secret, 0o400, false)), { password: ['hunter2', '400'], user: ['admin', '400'] });
  assert.deepEqual(view(secretPayload([{ key: 'user', path: 'creds/user', mode: 0o600 }], secret, 0o400, false)), { 'creds/user': ['admin', '600'] });
  assert.throws(() => secretPayload([{ key: 'nope', path: 'n' }], secret, 0o644, false), /references non-existent secret key: nope/);
  assert.deepEqual(view(secretPayload([{ key: 'nope', path: 'n' }], secret, 0o644, true)), {});
  assert.deepEqual(view(secretPayload(undefined, {}, 0o644, true)), {});
});

const pod: Pod = {
  metadata: { name: 'web', namespace: 'prod', uid: 'u1', labels: { app: 'web', tier: 'fe' }, annotations: { a: '1' } },
  spec: {
    serviceAccountName: 'builder',
    containers: [{ name: 'app', resources: { limits: { memory: '64Mi' }, requests: { cpu: '250m' } } }],
    initContainers: [{ name: 'init' }],
  },
};

test('downwardAPIPayload: metadata fields and container resources, per-item modes; errors together', () => {
  const items = [
    { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
    { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' }, mode: 0o400 },
    { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
    { path: 'app', fieldRef: { fieldPath: "metadata.labels['app']" } },
    { path: 'mem', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } },
    { path: 'cpu', resourceFieldRef: { containerName: 'app', resource: 'limits.cpu', divisor: '1m' } },
    { path: 'req', resourceFieldRef: { containerName: 'app', resource: 'requests.cpu', divisor: '1m' } },
  ];
  assert.deepEqual(view(downwardAPIPayload(items, pod, 0o644, { cpu: '2' })), {
    name: ['web', '644'],
    ns: ['prod', '400'],
    labels: ['app="web"\ntier="fe"', '644'],
    app: ['web', '644'],
    mem: ['64', '644'],
    cpu: ['2000', '644'], // no limit: node allocatable
    req: ['250', '644'],
  });
  assert.throws(
    () => downwardAPIPayload([{ path: 'a', fieldRef: { fieldPath: 'spec.nodeName' } }, { path: 'b', resourceFieldRef: { containerName: 'ghost', resource: 'limits.cpu' } }], pod, 0o644, undefined),
    (err: unknown) => (err as Error).message === '[unsupported fieldPath: spec.nodeName, container ghost not found]',
  );
});

test('fsUserFrom: the user all containers agree on', () => {
  assert.equal(fsUserFrom(pod), undefined);
  const withUser = (podUser: number | undefined, users: (number | undefined)[]): Pod => ({
    spec: { securityContext: podUser === undefined ? {} : { runAsUser: podUser }, containers: users.map((u, i) => ({ name: `c${i}`, ...(u === undefined ? {} : { securityContext: { runAsUser: u } }) })) },
  });
  assert.equal(fsUserFrom(withUser(1000, [undefined, undefined])), 1000);
  assert.equal(fsUserFrom(withUser(1000, [undefined, 1000])), 1000);
  assert.equal(fsUserFrom(withUser(1000, [undefined, 2000])), undefined);
  assert.equal(fsUserFrom(withUser(undefined, [3000, 3000])), 3000);
  assert.equal(fsUserFrom(withUser(undefined, [3000, undefined])), undefined);
});

/** The volume the API server injects into every pod (kube-api-access-xxxxx). */
const kubeApiAccess: ProjectedVolumeSource = {
  defaultMode: 0o644,
  sources: [
    { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
    { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
    { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
  ],
};
const inputs = (extra: Partial<ProjectionInputs> = {}): ProjectionInputs => ({
  configMaps: new Map([['kube-root-ca.crt', { data: { 'ca.crt': '-----BEGIN CERTIFICATE-----' } }]]),
  secrets: new Map(),
  tokens: new Map([[0, 'eyJhbGciOi.token']]),
  fetchErrors: new Map(),
  ...extra,
});

test('projectedPayload: the default service-account volume', () => {
  assert.deepEqual(view(projectedPayload(kubeApiAccess, pod, inputs())), {
    token: ['eyJhbGciOi.token', '644'],
    'ca.crt': ['-----BEGIN CERTIFICATE-----', '644'],
    namespace: ['prod', '644'],
  });
  // With fsGroup or a common user the token is 0600 (fsGroup ownership makes it 0640), owned by that user.
  assert.deepEqual(view(projectedPayload(kubeApiAccess, pod, inputs({ fsGroup: 2000 }))).token, ['eyJhbGciOi.token', '600']);
  assert.deepEqual(view(projectedPayload(kubeApiAccess, pod, inputs({ fsUser: 1000 }))).token, ['eyJhbGciOi.token', '600', 1000]);
});

test('projectedPayload: optional sources, later sources win, errors of all sources together', () => {
  const source: ProjectedVolumeSource = {
    defaultMode: 0o440,
    sources: [
      { secret: { name: 's', items: [{ key: 'user', path: 'shared' }] } },
      { configMap: { name: 'missing', optional: true } },
      { secret: { name: 'gone', optional: true, items: [{ key: 'k', path: 'k' }] } },
      { configMap: { name: 'c', items: [{ key: 'other', path: 'shared', mode: 0o444 }] } },
    ],
  };
  const got = projectedPayload(source, pod, inputs({ configMaps: new Map<string, ConfigMap | null>([['missing', null], ['c', cm]]), secrets: new Map<string, Secret | null>([['s', secret], ['gone', null]]), tokens: new Map() }));
  assert.deepEqual(view(got), { shared: ['o', '444'] });

  const failing: ProjectedVolumeSource = {
    sources: [{ configMap: { name: 'absent' } }, { secret: { name: 'nosecret' } }, { serviceAccountToken: { path: 'token' } }],
  };
  assert.throws(
    () => projectedPayload(failing, pod, inputs({ configMaps: new Map([['absent', null]]), secrets: new Map([['nosecret', null]]), tokens: new Map(), fetchErrors: new Map([[2, new Error('failed to fetch token: forbidden')]]) })),
    (err: unknown) => (err as Error).message === '[configmap "absent" not found, secret "nosecret" not found, failed to fetch token: forbidden]',
  );
});
