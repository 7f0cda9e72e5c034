// Integration test against the REAL control plane (npm run cluster:up): the node registers with a
// node identity from TLS bootstrap, reports its status and renews its Lease, and a runtime that
// reports itself not ready makes the node NotReady. It runs the src/node pieces directly (not the
// whole tskubelet process), so each step can be observed from the API server with the admin
// kubeconfig, which is also used to clean up (Node, Lease, CSR).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureClientCertificate } from '../src/certificate/bootstrap.ts';
import { realClock } from '../src/common/clock.ts';
import { errorMessage, isNotFound } from '../src/common/errors.ts';
import { CriClient } from '../src/cri/client.ts';
import type { RuntimeStatus } from '../src/cri/types.ts';
import { HttpKubeClient, type KubeClient } from '../src/kube/client.ts';
import { silentLogger } from '../src/observability/logger.ts';
import { nodeAddress } from '../src/node/address.ts';
import { NodeLeaseController } from '../src/node/lease.ts';
import { readMachineInfo } from '../src/node/machine.ts';
import { buildNode, hugePageResourceName, KUBELET_VERSION } from '../src/node/node-object.ts';
import { formatQuantity, quantitiesEqual } from '../src/node/quantity.ts';
import { tryRegisterNode } from '../src/node/registration.ts';
import { RuntimeHealthTracker } from '../src/node/runtime-health.ts';
import { NodeStatusUpdater } from '../src/node/status-updater.ts';
import type { Lease, Node, NodeCondition } from '../src/node/types.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN_KUBECONFIG = path.join(REPO_ROOT, '.cluster', 'admin.kubeconfig');
const BOOTSTRAP_KUBECONFIG = path.join(REPO_ROOT, '.cluster', 'bootstrap.kubeconfig');
const RUNTIME_ENDPOINT = 'unix:///run/containerd/containerd.sock';
const POLL_MS = 200;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The admin client, or a failure that says how to get a control plane. */
async function adminClient(): Promise<HttpKubeClient> {
  const hint = 'no control plane: run npm run cluster:up';
  try {
    await access(ADMIN_KUBECONFIG);
  } catch {
    throw new Error(`${hint} (${ADMIN_KUBECONFIG} is missing)`);
  }
  const client = await HttpKubeClient.fromKubeconfigFile(ADMIN_KUBECONFIG);
  try {
    await client.request('GET', '/version', { timeoutMs: 5_000 });
  } catch (err) {
    client.close();
    throw new Error(`${hint} (${client.server} does not answer: ${errorMessage(err)})`);
  }
  return client;
}

async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      if (err instanceof assert.AssertionError) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${errorMessage(last)}` : ''}`);
    await sleep(POLL_MS);
  }
}

const condition = (node: Node, type: string): NodeCondition | undefined => node.status?.conditions?.find((c) => c.type === type);

async function deleteQuietly(client: KubeClient, p: string): Promise<void> {
  try {
    await client.request('DELETE', p, { timeoutMs: 10_000 });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

test('the node registers with its own identity, reports its status and renews its lease against the real API server', async (t) => {
  const admin = await adminClient();
  const nodeName = `itest-node-${randomBytes(4).toString('hex')}`;
  const workDir = await mkdtemp(path.join(tmpdir(), 'tsk-node-'));
  const stop = new AbortController();
  const tasks: Promise<void>[] = [];
  const owned: { nodeClient?: HttpKubeClient; csrName?: string } = {};
  const cri = new CriClient({ runtimeEndpoint: RUNTIME_ENDPOINT, requestTimeoutMs: 10_000 });
  t.after(async () => {
    stop.abort();
    await Promise.allSettled(tasks);
    await deleteQuietly(admin, `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`);
    await deleteQuietly(admin, `/api/v1/nodes/${nodeName}`);
    if (owned.csrName) await deleteQuietly(admin, `/apis/certificates.k8s.io/v1/certificatesigningrequests/${owned.csrName}`);
    owned.nodeClient?.close();
    admin.close();
    cri.close();
    await rm(workDir, { recursive: true, force: true });
  });

  // A node identity (system:node:<name>) from the bootstrap token, as tskubelet gets it.
  const kubeconfigPath = path.join(workDir, 'kubelet.kubeconfig');
  const boot = await ensureClientCertificate({
    kubeconfigPath,
    bootstrapKubeconfigPath: BOOTSTRAP_KUBECONFIG,
    certDir: path.join(workDir, 'pki'),
    nodeName,
    logger: silentLogger,
    clock: realClock,
    signal: stop.signal,
    waitTimeoutMs: 60_000,
  });
  owned.csrName = boot.csrName;
  assert.equal(boot.bootstrapped, true);
  const nodeClient = await HttpKubeClient.fromKubeconfigFile(kubeconfigPath);
  owned.nodeClient = nodeClient;

  const rootDir = path.join(workDir, 'root');
  const machine = await readMachineInfo(rootDir);
  const config = { nodeName, nodeIP: '', nodeLabels: { 'tskubelet.test/run': nodeName }, registerNode: true, registerWithTaints: [{ key: 'tskubelet.test/taint', value: 'yes', effect: 'NoSchedule' as const }], maxPods: 57, port: 10250 };

  // The runtime is the real containerd until the test makes it report RuntimeReady=false.
  let runtimeDown = false;
  const downStatus: RuntimeStatus = {
    conditions: [
      { type: 'RuntimeReady', status: false, reason: 'RuntimeStopped', message: 'stopped by the test' },
      { type: 'NetworkReady', status: true, reason: '', message: '' },
    ],
  };
  const tracker = new RuntimeHealthTracker({ runtime: { status: (s) => (runtimeDown ? Promise.resolve(downStatus) : cri.status(s)) }, clock: realClock, logger: silentLogger });
  assert.deepEqual(await tracker.check(), { ready: true, message: '' }, 'containerd must be up for this test');
  const runtimeVersion = await cri.version();

  const updater = new NodeStatusUpdater({
    client: nodeClient,
    nodeName,
    clock: realClock,
    logger: silentLogger,
    machine,
    config,
    runtimeHealth: () => Promise.resolve(tracker.current()),
    plegHealth: () => ({ ok: true, message: '' }),
    runtimeVersion: async (signal) => {
      const v = await cri.version(signal);
      return { type: v.runtime_name, version: v.runtime_version };
    },
  });
  const lease = new NodeLeaseController({ client: nodeClient, nodeName, clock: realClock, logger: silentLogger });
  const started = Date.now();
  // As main should wire them: the lease starts once the Node (its owner) exists; runtime health
  // changes are posted at once.
  tasks.push(
    updater.run(stop.signal),
    updater.whenRegistered(stop.signal).then(() => lease.run(stop.signal)),
    tracker.run(stop.signal, () => updater.updateNow()),
  );

  const nodePath = `/api/v1/nodes/${nodeName}`;
  const getNode = (): Promise<Node> => admin.request<Node>('GET', nodePath);

  let node!: Node;
  await t.test('registered and Ready (KubeletReady) with labels, taints, capacity, allocatable, nodeInfo, addresses', async () => {
    node = await waitFor('the Node to be Ready', 20_000, async () => {
      const n = await getNode();
      return condition(n, 'Ready')?.status === 'True' ? n : undefined;
    });
    const readyAfterMs = Date.now() - started;
    assert.ok(readyAfterMs < 5_000, `Ready after ${readyAfterMs} ms`);
    assert.deepEqual(node.metadata.labels, {
      'kubernetes.io/hostname': nodeName,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': machine.architecture,
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': machine.architecture,
      'tskubelet.test/run': nodeName,
    });
    assert.equal(node.metadata.annotations?.['volumes.kubernetes.io/controller-managed-attach-detach'], 'true');
    const taints = node.spec?.taints ?? [];
    assert.ok(taints.some((x) => x.key === 'tskubelet.test/taint' && x.value === 'yes' && x.effect === 'NoSchedule'), JSON.stringify(taints));

    const st = node.status!;
    const mem = BigInt(machine.memoryCapacityBytes);
    const disk = BigInt(machine.ephemeralStorageCapacityBytes!);
    const expectCapacity: Record<string, string> = {
      cpu: String(machine.numCores),
      memory: formatQuantity(mem, 'BinarySI'),
      pods: '57',
      'ephemeral-storage': formatQuantity(disk, 'BinarySI'),
    };
    for (const hp of machine.hugePages) expectCapacity[hugePageResourceName(hp.pageSizeKiB)] = formatQuantity(BigInt(hp.pageSizeKiB * 1024 * hp.numPages), 'BinarySI');
    assert.deepEqual(st.capacity, expectCapacity, 'capacity, as the API server canonicalizes it');
    const hugeBytes = machine.hugePages.reduce((s, hp) => s + BigInt(hp.pageSizeKiB * 1024 * hp.numPages), 0n);
    assert.ok(quantitiesEqual(st.allocatable?.memory, formatQuantity(mem - 100n * 1024n * 1024n - hugeBytes, 'BinarySI')), `allocatable memory ${st.allocatable?.memory}`);
    const nodefsReserved = BigInt(Math.trunc(Number(disk) * Math.fround(0.1)));
    assert.ok(quantitiesEqual(st.allocatable?.['ephemeral-storage'], formatQuantity(disk - nodefsReserved, 'BinarySI')), `allocatable storage ${st.allocatable?.['ephemeral-storage']}`);
    assert.equal(st.allocatable?.cpu, String(machine.numCores));
    assert.equal(st.allocatable?.pods, '57');

    assert.deepEqual(
      { ...st.nodeInfo, kubeProxyVersion: undefined },
      {
        machineID: machine.machineID,
        systemUUID: machine.systemUUID,
        bootID: machine.bootID,
        kernelVersion: machine.kernelVersion,
        osImage: machine.osImage,
        containerRuntimeVersion: `containerd://${runtimeVersion.runtime_version}`,
        kubeletVersion: KUBELET_VERSION,
        kubeProxyVersion: undefined,
        operatingSystem: 'linux',
        architecture: machine.architecture,
      },
    );
    assert.deepEqual(st.addresses, [
      { type: 'InternalIP', address: nodeAddress('', nodeName) },
      { type: 'Hostname', address: nodeName },
    ]);
    assert.deepEqual(st.daemonEndpoints, { kubeletEndpoint: { Port: 10250 } });
    const want: [string, string, string, string][] = [
      ['MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'],
      ['DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'],
      ['PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'],
      ['Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'],
    ];
    assert.deepEqual(
      st.conditions?.map((c) => [c.type, c.status, c.reason, c.message]),
      want,
    );
  });

  await t.test('the node lifecycle controller removes the not-ready taint the API server added', async () => {
    await waitFor('no node.kubernetes.io/not-ready taint', 30_000, async () => {
      const n = await getNode();
      return !(n.spec?.taints ?? []).some((x) => x.key === 'node.kubernetes.io/not-ready');
    });
  });

  await t.test('the Lease is held by the node, owned by the Node and renewed every 10 s', async () => {
    const leasePath = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${nodeName}`;
    const first = await waitFor('the Lease', 2_000, () => admin.request<Lease>('GET', leasePath));
    assert.equal(first.spec?.holderIdentity, nodeName);
    assert.equal(first.spec?.leaseDurationSeconds, 40);
    assert.match(first.spec?.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.deepEqual(first.metadata.ownerReferences?.map((o) => [o.apiVersion, o.kind, o.name, o.uid]), [['v1', 'Node', nodeName, node.metadata.uid]]);
    const t0 = Date.now();
    const renewed = await waitFor('a renewal', 12_000, async () => {
      const l = await admin.request<Lease>('GET', leasePath);
      return l.spec?.renewTime !== first.spec?.renewTime ? l : undefined;
    });
    const gapMs = Date.parse(renewed.spec!.renewTime!) - Date.parse(first.spec!.renewTime!);
    assert.ok(gapMs >= 9_900 && gapMs <= 10_700, `renewTime moved by ${gapMs} ms`);
    assert.ok(Date.now() - t0 < 11_500);
  });

  await t.test('an unchanged status is not posted again (heartbeat rule)', async () => {
    const a = await getNode();
    assert.ok(Date.now() - Date.parse(condition(a, 'Ready')!.lastHeartbeatTime!) >= 9_000, 'no status post since registration');
    assert.equal(condition(a, 'Ready')!.lastHeartbeatTime, condition(node, 'Ready')!.lastHeartbeatTime);
  });

  await t.test('a runtime that reports not ready makes the node NotReady (KubeletNotReady) at once, and Ready again', async () => {
    runtimeDown = true;
    const down = await waitFor('Ready=False', 10_000, async () => {
      const n = await getNode();
      return condition(n, 'Ready')?.status === 'False' ? n : undefined;
    });
    const c = condition(down, 'Ready')!;
    assert.equal(c.reason, 'KubeletNotReady');
    assert.equal(c.message, 'container runtime not ready: RuntimeReady=false reason:RuntimeStopped message:stopped by the test');
    assert.equal(condition(down, 'MemoryPressure')?.lastTransitionTime, condition(node, 'MemoryPressure')?.lastTransitionTime, 'other conditions keep their transition time');
    runtimeDown = false;
    const up = await waitFor('Ready=True again', 10_000, async () => {
      const n = await getNode();
      return condition(n, 'Ready')?.status === 'True' ? n : undefined;
    });
    assert.equal(condition(up, 'Ready')?.reason, 'KubeletReady');
    assert.ok(Date.parse(condition(up, 'Ready')!.lastTransitionTime!) >= Date.parse(c.lastTransitionTime!));
  });

  await t.test('registering again (a restart) reconciles the default labels of the existing Node', async () => {
    await admin.request('PATCH', nodePath, { body: { metadata: { labels: { 'kubernetes.io/hostname': 'someone-else', 'kubernetes.io/os': null } } }, contentType: 'application/merge-patch+json' });
    const inputs = { nowMs: Date.now(), machine, maxPods: 57, kubeletPort: 10250, addresses: [{ type: 'Hostname' as const, address: nodeName }], runtime: { type: 'containerd', version: runtimeVersion.runtime_version }, readyErrors: [] };
    const again = await tryRegisterNode(nodeClient, buildNode({ nodeName, hostname: nodeName, nodeLabels: config.nodeLabels, registerWithTaints: config.registerWithTaints }, inputs), stop.signal);
    assert.ok(again, 'registered');
    assert.equal(again.metadata.uid, node.metadata.uid, 'the same Node');
    const n = await getNode();
    assert.equal(n.metadata.labels?.['kubernetes.io/hostname'], nodeName);
    assert.equal(n.metadata.labels?.['kubernetes.io/os'], 'linux');
  });
});
