// Private images with the REAL control plane: a second local registry (Debian's docker-registry,
// started by this test on a free port of 127.0.0.1 with htpasswd basic authentication, its data in
// a temp folder) holds busybox under private/ and nodeonly/. containerd reaches it over plain HTTP
// through a hosts.toml this test writes under /etc/containerd/certs.d and removes afterwards.
//   - without a pull secret, and with a wrong password: ErrImagePull / ImagePullBackOff with the
//     registry's 401, the Failed event says so, and the password is nowhere (events, status, log);
//   - with the right kubernetes.io/dockerconfigjson secret: the pod runs;
//   - with no secret but the node's <rootDir>/config.json naming 127.0.0.1:<port>/nodeonly: the
//     pod runs (and that entry does not open private/: path prefixes count).
// The bcrypt hash of the htpasswd file comes from perl's crypt() (libxcrypt), perl being part of
// every Debian system.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Pod } from '../src/kube/types.ts';
import { BUSYBOX_IMAGE, SLEEP_UNTIL_TERM, freePort, newCriClient, poll } from './harness.ts';
import { ClusterNode, eventFrom, isRunningAndReady } from './cluster-harness.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const SKOPEO_POLICY = path.join(REPO_ROOT, 'scripts', 'setup', 'policy.json');
/** containerd's registry host folder (scripts/setup/lib.sh CERTS_DIR). */
const CERTS_DIR = '/etc/containerd/certs.d';
const USER = 'puller';
// Random per run: a leak check must not be fooled by a fixed string appearing elsewhere.
const PASSWORD = `pw-${Math.random().toString(36).slice(2, 12)}-right`;
const WRONG_PASSWORD = `pw-${Math.random().toString(36).slice(2, 12)}-wrong`;
/** A pull of busybox from a local registry takes well under a second; allow a loaded machine. */
const START_TIMEOUT_MS = 60_000;
/** The first pull attempt fails at once (401): the status says so within a sync or two. */
const PULL_FAIL_TIMEOUT_MS = 30_000;

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function run(file: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}\n${stderr}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/** A docker-registry with htpasswd auth, owned by this test. */
interface AuthRegistry {
  host: string; // 127.0.0.1:<port>
  dir: string;
  child: ChildProcess;
  hostsDir: string;
  /** What the registry logged (warnings and errors: each refused login names its user). */
  log(): string;
}

async function startAuthRegistry(): Promise<AuthRegistry> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const dir = await mkdtemp(path.join(tmpdir(), 'tskubelet-authreg-'));
  const alphabet = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const salt = Array.from({ length: 22 }, () => alphabet[Math.floor(Math.random() * 64)]).join('');
  const hash = await run('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', PASSWORD, `$2b$10$${salt}`]);
  assert.match(hash, /^\$2b\$10\$.{53}$/, 'perl crypt() makes bcrypt hashes');
  await writeFile(path.join(dir, 'htpasswd'), `${USER}:${hash}\n`);
  await writeFile(path.join(dir, 'config.yml'), [
    'version: 0.1',
    'log: {level: warn, accesslog: {disabled: true}}',
    `storage: {filesystem: {rootdirectory: ${path.join(dir, 'data')}}}`,
    `http: {addr: "${host}"}`,
    `auth: {htpasswd: {realm: tskubelet-test, path: ${path.join(dir, 'htpasswd')}}}`,
    '',
  ].join('\n'));
  const child = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const hostsDir = path.join(CERTS_DIR, host);
  const reg: AuthRegistry = { host, dir, child, hostsDir, log: () => stderr };
  try {
    await poll(async () => (await fetch(`http://${host}/v2/`)).status === 401, 15_000, `the registry on ${host} to answer 401`, () => stderr);
    await mkdir(hostsDir, { recursive: true });
    await writeFile(path.join(hostsDir, 'hosts.toml'), `server = "http://${host}"\n\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`);
    for (const repo of ['private', 'nodeonly']) {
      await run('skopeo', ['--policy', SKOPEO_POLICY, 'copy', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false', '--dest-creds', `${USER}:${PASSWORD}`,
        `docker://${BUSYBOX_IMAGE}`, `docker://${host}/${repo}/busybox:1.36`], 120_000);
    }
  } catch (err) {
    await stopAuthRegistry(reg);
    throw err;
  }
  return reg;
}

async function stopAuthRegistry(reg: AuthRegistry): Promise<void> {
  if (reg.child.exitCode === null && reg.child.pid) {
    const exited = new Promise((r) => reg.child.once('exit', r));
    reg.child.kill('SIGTERM');
    await Promise.race([exited, sleep(5_000)]);
    if (reg.child.exitCode === null) reg.child.kill('SIGKILL');
  }
  await rm(reg.hostsDir, { recursive: true, force: true });
  await rm(reg.dir, { recursive: true, force: true });
}

let node: ClusterNode | undefined;
let registry: AuthRegistry | undefined;

before(async () => {
  registry = await startAuthRegistry();
  node = await ClusterNode.create();
  // The node's own credentials (read at the first pull, cached 5 minutes): only for nodeonly/.
  await writeFile(path.join(node.harness.rootDir, 'config.json'), JSON.stringify({ auths: { [`http://${registry.host}/nodeonly`]: { auth: b64(`${USER}:${PASSWORD}`) } } }));
  await node.start();
  await node.waitForNodeReady();
});

after(async () => {
  try {
    await node?.cleanup();
  } finally {
    if (registry) {
      const cri = newCriClient();
      for (const repo of ['private', 'nodeonly']) await cri.removeImage(`${registry.host}/${repo}/busybox:1.36`).catch(() => undefined);
      // CRI RemoveImage removes the image with all its names, the node's own busybox included
      // (the same content): put it back from the local registry, as the other tests and the
      // benchmarks expect it present.
      try {
        await cri.pullImage(BUSYBOX_IMAGE, undefined, undefined);
      } finally {
        cri.close();
      }
      await stopAuthRegistry(registry);
    }
  }
});

const waitingOf = (pod: Pod | undefined): { reason?: string; message?: string } | undefined => pod?.status?.containerStatuses?.[0]?.state?.waiting;
const PULL_FAILED = (p: Pod): boolean => ['ErrImagePull', 'ImagePullBackOff'].includes(waitingOf(p)?.reason ?? '') && /401 Unauthorized/.test(waitingOf(p)?.message ?? '');

/** A kubernetes.io/dockerconfigjson (or legacy dockercfg) Secret for the test registry. */
function pullSecret(name: string, host: string, password: string, type: 'kubernetes.io/dockerconfigjson' | 'kubernetes.io/dockercfg'): Record<string, unknown> {
  const entry = { username: USER, password, auth: b64(`${USER}:${password}`) };
  const data = type === 'kubernetes.io/dockerconfigjson' ? { '.dockerconfigjson': b64(JSON.stringify({ auths: { [host]: entry } })) } : { '.dockercfg': b64(JSON.stringify({ [host]: entry })) };
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name }, type, data };
}

test('a private image: refused without a secret or with a wrong password (401, no password anywhere), pulled with the right secret or the node\'s config', { timeout: 240_000 }, async (t) => {
  const n = node!;
  const reg = registry!;
  const image = `${reg.host}/private/busybox:1.36`;
  await n.inNamespace(t, 'pullsecret', async (ns) => {
    await n.admin.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: pullSecret('right', reg.host, PASSWORD, 'kubernetes.io/dockerconfigjson') });
    await n.admin.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: pullSecret('wrong', reg.host, WRONG_PASSWORD, 'kubernetes.io/dockercfg') });
    const main = { name: 'main', image, imagePullPolicy: 'Always', command: ['sh', '-c', SLEEP_UNTIL_TERM] };
    await n.createPod(ns, 'no-secret', { containers: [main] });
    await n.createPod(ns, 'wrong-secret', { containers: [main], imagePullSecrets: [{ name: 'wrong' }] });
    await n.createPod(ns, 'missing-secret', { containers: [main], imagePullSecrets: [{ name: 'does-not-exist' }] });

    for (const name of ['no-secret', 'wrong-secret', 'missing-secret']) {
      // (the wrong secret's credentials reach the registry: it logs a failed login of the user)
      const pod = await n.waitForPod(ns, name, PULL_FAILED, PULL_FAIL_TIMEOUT_MS, 'ErrImagePull or ImagePullBackOff with the registry\'s 401');
      const w = waitingOf(pod)!;
      t.diagnostic(`${name}: ${w.reason}: ${w.message}`);
      assert.match(w.message ?? '', new RegExp(`^(Back-off pulling image "${image}": ErrImagePull: )?rpc error: code = Unknown desc = failed to pull and unpack image "${image}": .*401 Unauthorized$`));
      assert.equal(pod.status?.phase, 'Pending');
    }
    assert.match(reg.log(), new RegExp(`error authenticating user \\W+${USER}\\W+authentication failure.*useragent=\\W?containerd`), 'the wrong password was tried');
    const events = await n.until(async () => {
      const evs = await n.events(ns);
      return evs.filter((e) => e.reason === 'Failed' && /^Failed to pull image/.test(e.message ?? '')).length >= 3 && evs.some((e) => e.reason === 'FailedToRetrieveImagePullSecret') && evs;
    }, 20_000, 'a Failed event per pod and FailedToRetrieveImagePullSecret');
    const failed = events.find((e) => e.reason === 'Failed' && /^Failed to pull image/.test(e.message ?? ''))!;
    assert.equal(failed.type, 'Warning');
    assert.equal(eventFrom(failed), 'kubelet');
    assert.match(failed.message ?? '', new RegExp(`^Failed to pull image "${image}": rpc error: .*401 Unauthorized`));
    assert.ok(events.some((e) => e.reason === 'Failed' && e.message === 'Error: ErrImagePull'), 'upstream\'s second Failed event');
    const retrieve = events.find((e) => e.reason === 'FailedToRetrieveImagePullSecret')!;
    assert.equal(retrieve.message, 'Unable to retrieve some image pull secrets (does-not-exist); attempting to pull the image may not succeed.');

    // The right secret: pulled and running.
    await n.createPod(ns, 'right-secret', { containers: [main], imagePullSecrets: [{ name: 'wrong' }, { name: 'right' }] });
    const ok = await n.waitForPod(ns, 'right-secret', isRunningAndReady, START_TIMEOUT_MS, 'Running and Ready with the right secret');
    assert.match(ok.status?.containerStatuses?.[0]?.imageID ?? '', new RegExp(`^${reg.host}/private/busybox@sha256:`));

    // The node's config.json covers nodeonly/ only: no secret needed there.
    await n.createPod(ns, 'node-config', { containers: [{ ...main, image: `${reg.host}/nodeonly/busybox:1.36` }] });
    await n.waitForPod(ns, 'node-config', isRunningAndReady, START_TIMEOUT_MS, 'Running and Ready with the node\'s credentials');
    const still = await n.getPod(ns, 'no-secret');
    assert.ok(PULL_FAILED(still!), `the node's nodeonly entry does not open private/: ${JSON.stringify(waitingOf(still))}`);

    // No credential anywhere: events, statuses, the kubelet's log.
    const secrets = [PASSWORD, WRONG_PASSWORD, b64(`${USER}:${PASSWORD}`), b64(`${USER}:${WRONG_PASSWORD}`)];
    const allEvents = JSON.stringify(await n.events(ns));
    const statuses = JSON.stringify((await n.listPods(ns)).map((p) => p.status));
    const log = n.harness.logLines.join('\n');
    for (const s of secrets) {
      assert.ok(!allEvents.includes(s), 'no credential in the events');
      assert.ok(!statuses.includes(s), 'no credential in the pod statuses');
      assert.ok(!log.includes(s), 'no credential in the kubelet log');
    }
    assert.ok(log.includes('401 Unauthorized'), 'the log does tell about the refused pulls');
  });
});
