// The runtime manager refuses what it cannot apply: runAsNonRoot against the image's user, a
// missing Localhost seccomp profile (CreateContainerConfigError), an unknown RuntimeClass and a
// user namespace the runtime cannot give (the sandbox is not created); and passes the handler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Backoff, CRASH_LOOP_BACKOFF } from '../common/backoff.ts';
import { FakeClock } from '../common/clock.ts';
import type { RuntimeService } from '../cri/client.ts';
import type { ContainerConfig, Image, PodSandboxConfig } from '../cri/types.ts';
import type { EventRecorder } from '../kube/events.ts';
import type { Container, Pod } from '../kube/types.ts';
import { silentLogger } from '../observability/logger.ts';
import type { PodRuntimeState } from '../pleg/runtime-state.ts';
import type { ImageManager } from './images.ts';
import { KubeRuntimeManager } from './runtime-manager.ts';
import { runtimeClassNotFound, type RuntimeClassLookup } from './runtime-class.ts';
import { NO_RUNTIME_FEATURES } from './runtime-features.ts';

class FakeRuntime {
  sandboxes: { config: PodSandboxConfig; handler: string }[] = [];
  containers = new Map<string, ContainerConfig>();
  async runPodSandbox(config: PodSandboxConfig, handler: string): Promise<string> {
    this.sandboxes.push({ config, handler });
    return 'sb1';
  }
  async podSandboxStatus(): Promise<unknown> {
    return { network: { ip: '10.88.0.9', additional_ips: [] } };
  }
  async listPodSandbox(): Promise<unknown[]> {
    return [];
  }
  async createContainer(_sb: string, config: ContainerConfig): Promise<string> {
    this.containers.set(config.metadata?.name ?? '', config);
    return `id-${config.metadata?.name}`;
  }
  async startContainer(): Promise<void> {}
}

async function setup(t: { after: (fn: () => Promise<void>) => void }, opts: { image?: Partial<Image>; runtimeClasses?: RuntimeClassLookup } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'secsync-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const runtime = new FakeRuntime();
  const events: string[] = [];
  const recorder: EventRecorder = { event: (_p, type, reason, message) => events.push(`${type} ${reason}: ${message}`) };
  const clock = new FakeClock(1_000_000);
  const m = new KubeRuntimeManager({
    runtime: runtime as unknown as RuntimeService,
    imageManager: { ensureImage: async () => 'sha256:img' } as unknown as ImageManager,
    crashBackoff: new Backoff(CRASH_LOOP_BACKOFF, clock),
    clock,
    recorder,
    logger: silentLogger,
    hooks: { run: async () => undefined },
    security: {
      images: { imageStatus: async () => ({ id: 'sha256:img', uid: null, username: '', ...opts.image }) as Image },
      runtimeClasses: opts.runtimeClasses ?? { lookupRuntimeHandler: async (n) => (n ? `h-${n}` : '') },
      features: { get: async () => NO_RUNTIME_FEATURES },
    },
    config: {
      nodeName: 'n', nodeHostname: 'n', rootDir: path.join(dir, 'root'), podLogsDir: path.join(dir, 'pods'), containerLogsDir: path.join(dir, 'containers'),
      cgroupRoot: '/', cgroupsPerQOS: false, clusterDNS: [], clusterDomain: 'cluster.local', resolvConf: '', podPidsLimit: -1, memoryCapacityBytes: 1 << 30, hostIP: '192.0.2.1',
    },
  });
  return { dir, runtime, events, m };
}

const pod = (spec: Partial<NonNullable<Pod['spec']>>, containers: Container[] = [{ name: 'app', image: 'busybox' }]): Pod => ({
  metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { restartPolicy: 'Always', containers, ...spec },
});
const empty: PodRuntimeState = { uid: 'u1', name: 'p', namespace: 'default', sandboxes: [], containers: [] };
const sync = (m: KubeRuntimeManager, p: Pod) => m.syncPod(p, empty, new AbortController().signal);

void test('runAsNonRoot with a root image: not created, CreateContainerConfigError with upstream message and a Failed event', async (t) => {
  const s = await setup(t);
  const r = await sync(s.m, pod({ securityContext: { runAsNonRoot: true } }));
  const msg = 'container has runAsNonRoot and image will run as root (pod: "p_default(u1)", container: app)';
  assert.deepEqual(r.waiting.get('app'), { reason: 'CreateContainerConfigError', message: msg });
  assert.equal(s.runtime.containers.size, 0);
  assert.ok(s.events.includes(`Warning Failed: Error: ${msg}`));
});

void test('runAsNonRoot with a non-numeric image user: refused; with a numeric non-root user: runs as that uid', async (t) => {
  const named = await setup(t, { image: { username: 'nginx' } });
  const r = await sync(named.m, pod({ securityContext: { runAsNonRoot: true } }));
  assert.match(r.waiting.get('app')?.message ?? '', /image has non-numeric user \(nginx\), cannot verify user is non-root/);
  const numeric = await setup(t, { image: { uid: { value: 1000 } } });
  const ok = await sync(numeric.m, pod({ securityContext: { runAsNonRoot: true } }));
  assert.equal(ok.waiting.size, 0);
  assert.deepEqual(numeric.runtime.containers.get('app')?.linux?.security_context?.run_as_user, { value: 1000 });
});

void test('Localhost seccomp: a missing or empty profile is refused (CreateContainerConfigError); an existing one is passed by path', async (t) => {
  const s = await setup(t);
  const c = (profile: string): Container[] => [{ name: 'app', image: 'busybox', securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: profile } } }];
  const missing = await sync(s.m, pod({}, c('nope.json')));
  assert.equal(missing.waiting.get('app')?.reason, 'CreateContainerConfigError');
  assert.match(missing.waiting.get('app')?.message ?? '', /seccomp\/nope.json": the file does not exist/);
  await mkdir(path.join(s.dir, 'root', 'seccomp'), { recursive: true });
  await writeFile(path.join(s.dir, 'root', 'seccomp', 'empty.json'), '');
  assert.match((await sync(s.m, pod({}, c('empty.json')))).waiting.get('app')?.message ?? '', /the file is empty/);
  assert.equal(s.runtime.containers.size, 0);
  await writeFile(path.join(s.dir, 'root', 'seccomp', 'ok.json'), '{"defaultAction":"SCMP_ACT_ERRNO"}');
  assert.equal((await sync(s.m, pod({}, c('ok.json')))).waiting.size, 0);
  assert.deepEqual(s.runtime.containers.get('app')?.linux?.security_context?.seccomp, { profile_type: 'Localhost', localhost_ref: path.join(s.dir, 'root', 'seccomp', 'ok.json') });
});

void test('RuntimeClass: its handler goes to RunPodSandbox; an unknown class fails the sandbox creation (the pod waits)', async (t) => {
  const s = await setup(t);
  await sync(s.m, pod({ runtimeClassName: 'gvisor' }));
  assert.equal(s.runtime.sandboxes[0]?.handler, 'h-gvisor');
  const unknown = await setup(t, { runtimeClasses: { lookupRuntimeHandler: async (n) => Promise.reject(runtimeClassNotFound(n ?? '')) } });
  const r = await sync(unknown.m, pod({ runtimeClassName: 'x' }));
  assert.deepEqual(r.waiting.get('app'), { reason: 'ContainerCreating', message: 'Failed to create pod sandbox: runtimeclass.node.k8s.io "x" not found' });
  assert.equal(unknown.runtime.sandboxes.length, 0);
  assert.ok(unknown.events.includes('Warning FailedCreatePodSandBox: Failed to create pod sandbox: runtimeclass.node.k8s.io "x" not found'));
});

void test('hostUsers false on a runtime without user namespaces: no sandbox, a clear reason', async (t) => {
  const s = await setup(t);
  const r = await sync(s.m, pod({ hostUsers: false }));
  assert.equal(s.runtime.sandboxes.length, 0);
  assert.deepEqual(r.waiting.get('app'), { reason: 'ContainerCreating', message: 'Failed to create pod sandbox: RuntimeClass handler "" does not support user namespaces' });
});

void test('a setHostnameAsFQDN name over 64 characters fails the sandbox creation with upstream message', async (t) => {
  const s = await setup(t);
  const r = await sync(s.m, pod({ hostname: 'x'.repeat(50), subdomain: 'sub', setHostnameAsFQDN: true }));
  assert.equal(s.runtime.sandboxes.length, 0);
  assert.match(r.waiting.get('app')?.message ?? '', /Failed to create pod sandbox: failed to construct FQDN from pod hostname and cluster domain, FQDN x+\.sub\.default\.svc\.cluster\.local is too long \(64 characters is the max, 80 characters requested\)/);
});
