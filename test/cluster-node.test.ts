// A tskubelet joins the REAL control plane (npm run cluster:up) as a node: TLS bootstrap from
// the bootstrap token, registration with the well-known labels, capacity and nodeInfo, the Ready
// condition and its siblings with upstream's reasons, and the Lease renewed every 10 s.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { after, before, test } from 'node:test';
import { parse } from 'yaml';
import { parseQuantity } from '../src/cm/quantity.ts';
import { parseCertificates } from '../src/certificate/pem.ts';
import { CSR_PATH, KUBELET_CLIENT_SIGNER, type CertificateSigningRequest } from '../src/certificate/request.ts';
import { ClusterNode, nodeCondition, poll } from './cluster-harness.ts';

/** Lease renewal every 10 s (4 % jitter), plus a poll period and a loaded machine. */
const LEASE_RENEW_WAIT_MS = 16_000;

let node: ClusterNode | undefined;
let failed = false;

before(async () => {
  node = await ClusterNode.create();
  await node.start();
});

after(async () => {
  if (failed && node) process.stderr.write(`\n${node.logTail()}\n`);
  await node?.cleanup();
});

const goArch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

test('the node registers after a TLS bootstrap and becomes Ready, its Lease is renewed', { timeout: 120_000 }, async (t) => {
  try {
    const n = node!;
    const ready = await n.waitForNodeReady();
    t.diagnostic(`node ${n.nodeName} Ready ${Date.now() - n.startedAt} ms after tskubelet was started (TLS bootstrap and registration included)`);

    // TLS bootstrap: a CSR filed with the bootstrap token, approved and issued; the kubelet's own kubeconfig and certificate.
    const csrNames = await n.csrNames();
    assert.ok(csrNames.length >= 1, 'a CSR for this node');
    const csr = await n.admin.request<CertificateSigningRequest>('GET', `${CSR_PATH}/${csrNames[0]}`);
    assert.equal(csr.spec?.signerName, KUBELET_CLIENT_SIGNER);
    assert.match(csr.spec?.username ?? '', /^system:bootstrap:/);
    assert.ok(csr.status?.conditions?.some((c) => c.type === 'Approved' && c.status === 'True'), JSON.stringify(csr.status?.conditions));
    assert.ok(csr.status?.certificate, 'the CSR is issued');
    const kubeconfig = parse(await readFile(n.kubeconfigPath, 'utf8')) as { users: { user: Record<string, string> }[] };
    const certFile = kubeconfig.users[0]!.user['client-certificate'] ?? '';
    assert.ok(certFile.startsWith(n.certDir), `client certificate ${certFile} under --cert-dir`);
    const [cert] = parseCertificates(await readFile(certFile, 'utf8'));
    assert.equal(cert!.subject, `O=system:nodes\nCN=system:node:${n.nodeName}`);

    // Labels.
    const labels = ready.metadata.labels ?? {};
    assert.equal(labels['kubernetes.io/hostname'], n.nodeName);
    assert.equal(labels['kubernetes.io/os'], 'linux');
    assert.equal(labels['kubernetes.io/arch'], goArch[process.arch] ?? process.arch);
    assert.equal(labels['beta.kubernetes.io/os'], 'linux');
    assert.equal(labels['beta.kubernetes.io/arch'], labels['kubernetes.io/arch']);

    // Conditions with upstream's reasons.
    const conditions = Object.fromEntries((ready.status?.conditions ?? []).map((c) => [c.type, c]));
    assert.deepEqual(
      Object.fromEntries(Object.entries(conditions).map(([type, c]) => [type, [c.status, c.reason]])),
      {
        MemoryPressure: ['False', 'KubeletHasSufficientMemory'],
        DiskPressure: ['False', 'KubeletHasNoDiskPressure'],
        PIDPressure: ['False', 'KubeletHasSufficientPID'],
        Ready: ['True', 'KubeletReady'],
      },
    );
    for (const c of Object.values(conditions)) {
      assert.ok(c.lastHeartbeatTime && c.lastTransitionTime, `${c.type} has heartbeat and transition times`);
    }
    // No not-ready taint once Ready (the API server's TaintNodesByCondition removes it).
    await poll(async () => !((await n.getNode())?.spec?.taints ?? []).some((x) => x.key === 'node.kubernetes.io/not-ready'), 20_000, 'the not-ready taint to go');

    // Capacity and allocatable from the machine.
    const capacity = ready.status?.capacity ?? {};
    const allocatable = ready.status?.allocatable ?? {};
    for (const r of ['cpu', 'memory', 'pods', 'ephemeral-storage']) {
      assert.ok(capacity[r], `capacity.${r}`);
      assert.ok(allocatable[r], `allocatable.${r}`);
      assert.ok(parseQuantity(allocatable[r]) <= parseQuantity(capacity[r]), `allocatable.${r} ${allocatable[r]} <= capacity ${capacity[r]}`);
    }
    assert.equal(parseQuantity(capacity['cpu']!), cpus().length);
    const memTotalKi = Number(/MemTotal:\s+(\d+) kB/.exec(await readFile('/proc/meminfo', 'utf8'))?.[1]);
    assert.equal(parseQuantity(capacity['memory']!), memTotalKi * 1024);
    assert.equal(capacity['pods'], '110');
    assert.ok(parseQuantity(allocatable['memory']!) > 0);

    // Addresses, nodeInfo, daemon endpoints.
    const addresses = ready.status?.addresses ?? [];
    assert.ok(addresses.some((a) => a.type === 'InternalIP' && /^\d+\.\d+\.\d+\.\d+$/.test(a.address)), JSON.stringify(addresses));
    assert.ok(addresses.some((a) => a.type === 'Hostname' && a.address === n.nodeName), JSON.stringify(addresses));
    const info = ready.status?.nodeInfo;
    assert.ok(info, 'nodeInfo');
    assert.match(info.kubeletVersion, /^v1\.\d+\.\d+/);
    const runtime = await n.harness.cri.version();
    assert.equal(info.containerRuntimeVersion, `containerd://${runtime.runtime_version}`);
    assert.equal(info.operatingSystem, 'linux');
    assert.equal(info.architecture, labels['kubernetes.io/arch']);
    assert.ok(info.kernelVersion && info.osImage && info.bootID && info.machineID, JSON.stringify(info));
    assert.ok((ready.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 0) > 0, JSON.stringify(ready.status?.daemonEndpoints));

    // The Lease: held by the node, owned by the Node, 40 s, renewed every 10 s.
    const lease = await poll(() => n.getLease(), 20_000, 'the node lease');
    assert.equal(lease.spec?.holderIdentity, n.nodeName);
    assert.equal(lease.spec?.leaseDurationSeconds, 40);
    assert.deepEqual(
      (lease.metadata.ownerReferences ?? []).map((o) => [o.kind, o.name, o.uid]),
      [['Node', n.nodeName, ready.metadata.uid]],
    );
    const firstRenew = Date.parse(lease.spec?.renewTime ?? '');
    assert.ok(Number.isFinite(firstRenew), `renewTime ${lease.spec?.renewTime}`);
    const renewed = await poll(
      async () => {
        const l = await n.getLease();
        const at = Date.parse(l?.spec?.renewTime ?? '');
        return at > firstRenew ? at : undefined;
      },
      LEASE_RENEW_WAIT_MS,
      'the lease to be renewed',
    );
    t.diagnostic(`lease renewed ${renewed - firstRenew} ms after the previous renewal`);
    assert.ok(renewed - firstRenew >= 8_000 && renewed - firstRenew <= 13_000, `renewal interval ${renewed - firstRenew} ms (expected ~10 s)`);

    // Still Ready, heartbeat on the Lease only (node status is posted on change or every 5 min).
    assert.equal(nodeCondition(await n.getNode(), 'Ready'), 'True');
  } catch (err) {
    failed = true;
    throw err;
  }
});
