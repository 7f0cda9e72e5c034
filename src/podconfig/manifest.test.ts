import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONFIG_HASH_ANNOTATION,
  CONFIG_SEEN_ANNOTATION,
  CONFIG_SOURCE_ANNOTATION,
  MAX_MANIFEST_BYTES,
  canonicalJson,
  parseManifestFile,
  staticPodUID,
  withConfigSeen,
} from './manifest.ts';

const NODE = 'node-1';
const FILE = '/etc/kubernetes/manifests/web.yaml';

const WEB = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: httpd
    image: 127.0.0.1:5000/busybox:1.36
    ports:
    - containerPort: 8080
`;

const parse = (text: string, file = FILE, node = NODE) => parseManifestFile(file, text, node);

test('parseManifestFile: one pod gets defaults and its static identity', () => {
  const { pods, errors } = parse(WEB);
  assert.deepEqual(errors, []);
  assert.equal(pods.length, 1);
  const pod = pods[0]!;
  assert.equal(pod.metadata?.name, 'web-node-1');
  assert.equal(pod.metadata?.namespace, 'default');
  assert.match(pod.metadata?.uid ?? '', /^[0-9a-f]{32}$/);
  assert.equal(pod.metadata?.annotations?.[CONFIG_HASH_ANNOTATION], pod.metadata?.uid);
  assert.equal(pod.metadata?.annotations?.[CONFIG_SOURCE_ANNOTATION], 'file');
  assert.equal(pod.metadata?.annotations?.[CONFIG_SEEN_ANNOTATION], undefined, 'the source stamps seen');
  assert.deepEqual(pod.metadata?.labels, { app: 'web' });
  assert.equal(pod.spec?.nodeName, NODE);
  assert.deepEqual(pod.spec?.tolerations, [{ operator: 'Exists', effect: 'NoExecute' }]);
  assert.equal(pod.spec?.restartPolicy, 'Always');
  assert.equal(pod.spec?.containers[0]?.imagePullPolicy, 'IfNotPresent');
  assert.equal(pod.spec?.containers[0]?.ports?.[0]?.protocol, 'TCP');
  assert.deepEqual(pod.status, { phase: 'Pending' });
  assert.equal(pod.metadata?.selfLink, undefined);
  assert.equal(pod.metadata?.creationTimestamp, undefined);
});

test('parseManifestFile: the node name is lowercased in the pod name, as upstream', () => {
  assert.equal(parse(WEB, FILE, 'Node-A').pods[0]?.metadata?.name, 'web-node-a');
});

test('parseManifestFile: several documents, empty ones skipped', () => {
  const text = `---\n# nothing here\n---\n${WEB}---\n${WEB.replace('name: web\n', 'name: other\n')}---\n`;
  const { pods, errors } = parse(text);
  assert.deepEqual(errors, []);
  assert.deepEqual(pods.map((p) => p.metadata?.name), ['web-node-1', 'other-node-1']);
  assert.notEqual(pods[0]?.metadata?.uid, pods[1]?.metadata?.uid);
});

test('parseManifestFile: JSON, and a v1 List / PodList of pods', () => {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'j' }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } };
  const json = parse(JSON.stringify(pod, null, 2), '/m/j.json');
  assert.deepEqual(json.errors, []);
  assert.equal(json.pods[0]?.metadata?.name, 'j-node-1');
  const { kind: _k, apiVersion: _a, ...bare } = pod;
  const list = parse(JSON.stringify({ apiVersion: 'v1', kind: 'PodList', items: [bare, { ...pod, metadata: { name: 'k' } }] }));
  assert.deepEqual(list.errors, []);
  assert.deepEqual(list.pods.map((p) => p.metadata?.name), ['j-node-1', 'k-node-1']);
  const bad = parse(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ ...pod, kind: 'Service' }] }));
  assert.equal(bad.pods.length, 0);
  assert.match(bad.errors[0] ?? '', /document 1 item 1.*kind "Pod"/);
});

test('parseManifestFile: the same YAML and JSON pod get the same UID', () => {
  const yamlPod = parse(WEB).pods[0];
  const jsonPod = parse(JSON.stringify({
    kind: 'Pod',
    apiVersion: 'v1',
    spec: { containers: [{ image: '127.0.0.1:5000/busybox:1.36', name: 'httpd', ports: [{ containerPort: 8080 }] }] },
    metadata: { labels: { app: 'web' }, name: 'web' },
  })).pods[0];
  assert.equal(jsonPod?.metadata?.uid, yamlPod?.metadata?.uid);
});

test('parseManifestFile: invalid documents give messages naming file, document and field; valid ones still parse', () => {
  const bad = `apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  restartPolicy: Sometimes
  containers:
  - name: c
    image: ""
`;
  const { pods, errors } = parse(`${WEB}---\n${bad}`);
  assert.equal(pods.length, 1);
  assert.ok(errors.includes(`${FILE}: document 2 (pod "bad"): spec.restartPolicy: unsupported value "Sometimes": must be one of "Always", "OnFailure", "Never"`), errors.join('\n'));
  assert.ok(errors.includes(`${FILE}: document 2 (pod "bad"): spec.containers[0].image: required`), errors.join('\n'));
});

test('parseManifestFile: rejects other kinds, versions, non-objects and YAML errors', () => {
  const cases: [string, RegExp][] = [
    [WEB.replace('kind: Pod', 'kind: Deployment'), /must be apiVersion "v1", kind "Pod"/],
    [WEB.replace('apiVersion: v1', 'apiVersion: apps/v1'), /must be apiVersion "v1", kind "Pod"/],
    ['- a\n- b\n', /must be an object \(a Pod\), got a list/],
    ['just text\n', /must be an object/],
    ['a: 1\na: 2\n', /YAML: Map keys must be unique/],
    ['a: [1, 2\n', /YAML:/],
    ['a: !!binary aGVsbG8=\n', /not plain data/],
    ['a: .inf\n', /numbers must be finite/],
    [WEB.replace('name: web\n', 'name: web\n  namespace: Kube_System\n'), /metadata\.namespace: "Kube_System" is not a DNS-1123 label/],
    [WEB.replace('name: web\n', `name: ${'a'.repeat(250)}\n`), /with the node name/],
    ['', /no pod in the file/],
    ['# only a comment\n---\n---\n', /no pod in the file/],
  ];
  for (const [text, re] of cases) {
    const { pods, errors } = parse(text);
    assert.equal(pods.length, 0, text);
    assert.ok(errors.some((e) => e.startsWith(`${FILE}: `) && re.test(e)), `${re} in ${JSON.stringify(errors)}`);
  }
});

test('parseManifestFile: a manifest for another node is rejected, for this node accepted', () => {
  const other = parse(WEB.replace('spec:\n', 'spec:\n  nodeName: node-2\n'));
  assert.equal(other.pods.length, 0);
  assert.match(other.errors[0] ?? '', /spec\.nodeName: the manifest is for node "node-2"/);
  const same = parse(WEB.replace('spec:\n', 'spec:\n  nodeName: node-1\n'));
  assert.deepEqual(same.errors, []);
  assert.equal(same.pods[0]?.metadata?.uid, parse(WEB).pods[0]?.metadata?.uid, 'an explicit nodeName does not change the UID');
});

test('parseManifestFile: duplicate pods within a file', () => {
  const { pods, errors } = parse(`${WEB}---\n${WEB.replace('8080', '9090')}`);
  assert.equal(pods.length, 1);
  assert.match(errors[0] ?? '', /: document 2: metadata\.name: pod default\/web-node-1 is already defined by document 1$/);
});

test('parseManifestFile: alias bombs and huge files are refused', () => {
  let bomb = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n';
  const letters = 'abcdefghij';
  for (let i = 1; i < letters.length; i++) {
    const prev = letters[i - 1]!;
    bomb += `${letters[i]}: &${letters[i]} [${Array(10).fill(`*${prev}`).join(',')}]\n`;
  }
  const res = parse(bomb);
  assert.equal(res.pods.length, 0);
  assert.match(res.errors[0] ?? '', /YAML: .*alias/i);
  const huge = parse('#'.repeat(MAX_MANIFEST_BYTES + 1));
  assert.match(huge.errors[0] ?? '', /larger than/);
});

test('parseManifestFile: server-owned metadata and kubelet annotations in a manifest are dropped', () => {
  const text = WEB.replace(
    'name: web\n',
    `name: web\n  uid: 1234\n  resourceVersion: "9"\n  creationTimestamp: "2020-01-01T00:00:00Z"\n  annotations:\n    ${CONFIG_SEEN_ANNOTATION}: "2020-01-01T00:00:00Z"\n    keep: me\n`,
  );
  const pod = parse(text).pods[0];
  assert.equal(pod?.metadata?.resourceVersion, undefined);
  assert.equal(pod?.metadata?.creationTimestamp, undefined);
  assert.match(pod?.metadata?.uid ?? '', /^[0-9a-f]{32}$/);
  assert.equal(pod?.metadata?.annotations?.keep, 'me');
  assert.equal(pod?.metadata?.annotations?.[CONFIG_SEEN_ANNOTATION], undefined);
});

test('UID: stable across calls, key order, comments and seen times; changes with content, node and file', () => {
  const uid = (text: string, file = FILE, node = NODE): string => parse(text, file, node).pods[0]?.metadata?.uid ?? '';
  const base = uid(WEB);
  assert.equal(uid(WEB), base);
  assert.equal(uid(`# a comment\n${WEB}\n# trailing\n`), base);
  const reordered = `kind: Pod\nspec:\n  containers:\n  - ports:\n    - containerPort: 8080\n    image: 127.0.0.1:5000/busybox:1.36\n    name: httpd\nmetadata:\n  labels: {app: web}\n  name: web\napiVersion: v1\n`;
  assert.equal(uid(reordered), base);
  assert.equal(uid(WEB.replace('name: web\n', 'name: web\n  namespace: default\n')), base, 'explicit default = default');
  assert.notEqual(uid(WEB.replace('8080', '8081')), base);
  assert.notEqual(uid(WEB.replace('app: web', 'app: web2')), base);
  assert.notEqual(uid(WEB, '/etc/kubernetes/manifests/other.yaml'), base);
  assert.notEqual(uid(WEB, FILE, 'node-2'), base);
  // Pinned: if this changes (defaults, canonical form, hash input), every static pod gets a new
  // UID on upgrade, so every static pod restarts. Change it only on purpose.
  assert.equal(base, 'b7f3380621e4b37624e6ad37bf9b87aa');
  const pod = parse(WEB).pods[0]!;
  const a = withConfigSeen(pod, '2024-01-01T00:00:00.000Z');
  const b = withConfigSeen(pod, '2025-06-01T12:00:00.000Z');
  assert.equal(staticPodUID(a, NODE, FILE), staticPodUID(b, NODE, FILE));
  assert.equal(a.metadata?.annotations?.[CONFIG_SEEN_ANNOTATION], '2024-01-01T00:00:00.000Z');
  assert.equal(pod.metadata?.annotations?.[CONFIG_SEEN_ANNOTATION], undefined, 'withConfigSeen copies');
});

test('canonicalJson sorts keys at every level', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [{ y: 1, x: 2 }], c: undefined } }), '{"a":{"d":[{"x":2,"y":1}]},"b":1}');
});

test('the example manifests in examples/static-pods are valid', async () => {
  const { readdir, readFile } = await import('node:fs/promises');
  const dir = new URL('../../examples/static-pods/', import.meta.url);
  const files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();
  assert.deepEqual(files, ['counter.yaml', 'job.yaml', 'web.yaml']);
  for (const f of files) {
    const { pods, errors } = parseManifestFile(f, await readFile(new URL(f, dir), 'utf8'), NODE);
    assert.deepEqual(errors, [], f);
    assert.equal(pods.length, 1, f);
    for (const c of [...(pods[0]?.spec?.initContainers ?? []), ...(pods[0]?.spec?.containers ?? [])]) {
      assert.equal(c.image, '127.0.0.1:5000/busybox:1.36', f);
      assert.equal(c.imagePullPolicy, 'IfNotPresent', f);
    }
  }
});
