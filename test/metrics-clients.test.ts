// tskubelet's HTTPS kubelet API proven with REAL clients, on a node of the REAL control plane
// (npm run cluster:up) running a busybox pod on the real containerd:
// - authentication and authorization as upstream configures them for a cluster node (client CA,
//   TokenReview, no anonymous, SubjectAccessReview): no credentials -> 401; a ServiceAccount
//   token without RBAC -> 403; with `get nodes/metrics` -> 200 on the metrics endpoints only;
// - metrics-server v0.8.0 (built from its Go module, run on this host by scripts/addons.sh behind
//   the aggregator) scrapes the node's /metrics/resource: `kubectl top node` and `kubectl top
//   pod` print numbers;
// - Prometheus (Debian's package) scrapes /metrics, /metrics/cadvisor, /metrics/probes and
//   /metrics/resource with a bearer token: every target up, kubelet_running_pods >= 1.
// Missing pieces fail with what to run: npm run cluster:up, bash scripts/addons.sh build,
// npm run setup (prometheus).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { parseQuantity } from '../src/cm/quantity.ts';
import { errorMessage } from '../src/common/errors.ts';
import { SLEEP_UNTIL_TERM } from './harness.ts';
import { CLUSTER_DIR, ClusterNode, assertClusterUp, busybox, isRunningAndReady, kubectl } from './cluster-harness.ts';
import {
  KUBELET_METRICS_PATHS,
  Prometheus,
  assertPrometheusInstalled,
  kubeletGet,
  kubeletScrapeConfig,
  metricsServerDown,
  metricsServerLogTail,
  metricsServerUp,
  pollEvery,
  type PromTarget,
} from './metrics-clients-harness.ts';

/** A pod starts within seconds with the image present; allow a loaded 2-core machine. */
const START_TIMEOUT_MS = 60_000;
/**
 * metrics-server scrapes every 15 s (scripts/addons/lib.sh); a node's CPU is a rate between two
 * scrapes, so the first numbers come 15-30 s after the node is first scraped. Allow 90 s.
 */
const TOP_TIMEOUT_MS = 90_000;
/** Prometheus scrapes every 3 s; a target is up after its first good scrape. */
const PROMETHEUS_TIMEOUT_MS = 60_000;
/**
 * A new ClusterRoleBinding is seen by the API server's RBAC within a second, but a kubelet caches
 * a denied SubjectAccessReview for 30 s (upstream's cacheUnauthorizedTTL): allow that once.
 */
const RBAC_TIMEOUT_MS = 45_000;
/** kubectl polls: each one is a process start, so not every POLL_MS. */
const KUBECTL_POLL_MS = 2_000;

/**
 * The kubelet API as a cluster node runs it (upstream's KubeletConfiguration defaults): on every
 * address (the harness binds 127.0.0.1; metrics-server and the API server call the node's
 * InternalIP), client certificates of the cluster CA, bearer tokens by TokenReview, no anonymous
 * requests, authorization by SubjectAccessReview.
 */
const KUBELET_API_ARGS = [
  '--address', '0.0.0.0',
  '--client-ca-file', path.join(CLUSTER_DIR, 'ca.crt'),
  '--authentication-token-webhook=true',
  '--anonymous-auth=false',
  '--authorization-mode', 'Webhook',
];

let node: ClusterNode | undefined;
/** https://<InternalIP>:<kubelet port> of the node. */
let kubeletUrl = '';
let metricsServerStartedAt = 0;

before(async () => {
  // Fail fast with the cluster hint; then metrics-server (it may restart the API server once when
  // the cluster's flags changed: before the node joins, not under it).
  (await assertClusterUp()).close();
  await metricsServerUp();
  metricsServerStartedAt = Date.now();
  node = await ClusterNode.create({ extraArgs: KUBELET_API_ARGS });
  await node.start();
  const ready = await node.waitForNodeReady();
  const ip = ready.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  assert.ok(ip, `the node has an InternalIP: ${JSON.stringify(ready.status?.addresses)}`);
  const port = ready.status?.daemonEndpoints?.kubeletEndpoint?.Port || 10250;
  kubeletUrl = `https://${ip}:${port}`;
});

after(async () => {
  const problems: string[] = [];
  // The APIService first: without its backend it breaks discovery (and namespace deletion).
  await metricsServerDown().catch((err: unknown) => problems.push(`metrics-server-down: ${errorMessage(err)}`));
  await node?.cleanup().catch((err: unknown) => problems.push(errorMessage(err)));
  if (problems.length > 0) throw new Error(problems.join('\n'));
});

// --- helpers ------------------------------------------------------------------------------------------

/** Creates ServiceAccount `name` in `ns` and resolves to a token of it (1 h). */
async function serviceAccountToken(n: ClusterNode, ns: string, name: string): Promise<string> {
  await n.admin.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name } } });
  const token = (await kubectl(['create', 'token', name, '-n', ns, '--duration=1h'])).trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'kubectl create token prints a JWT');
  return token;
}

/**
 * Lets ServiceAccount ns/sa `get nodes/metrics` (what Prometheus' kubelet jobs need, nothing
 * more); resolves to a function deleting the ClusterRole and its binding.
 */
async function grantNodesMetrics(n: ClusterNode, ns: string, sa: string): Promise<() => Promise<void>> {
  const name = `tskubelet-test:${ns}:${sa}:nodes-metrics`;
  const rbac = '/apis/rbac.authorization.k8s.io/v1';
  await n.admin.request('POST', `${rbac}/clusterroles`, {
    body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules: [{ apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] }] },
  });
  await n.admin.request('POST', `${rbac}/clusterrolebindings`, {
    body: {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name: sa, namespace: ns }],
    },
  });
  return async () => {
    await n.admin.request('DELETE', `${rbac}/clusterrolebindings/${name}`).catch(() => undefined);
    await n.admin.request('DELETE', `${rbac}/clusterroles/${name}`).catch(() => undefined);
  };
}

/** Runs a busybox pod `busy` on the node and waits until it is Running and Ready. */
async function runBusybox(n: ClusterNode, ns: string): Promise<void> {
  await n.createPod(ns, 'busy', { containers: [busybox('main', SLEEP_UNTIL_TERM)], terminationGracePeriodSeconds: 5 });
  await n.waitForPod(ns, 'busy', isRunningAndReady, START_TIMEOUT_MS, 'Running and Ready');
}

const describeTargets = (targets: PromTarget[]): string =>
  targets.map((t) => `  ${t.labels['job']} ${t.scrapeUrl}: ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).join('\n');

// --- tests --------------------------------------------------------------------------------------------

test('the kubelet API: 401 without credentials, 403 for a ServiceAccount without RBAC, 200 with nodes/metrics', { timeout: 120_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'kapi', async (ns) => {
    const nobody = await serviceAccountToken(n, ns, 'nobody');
    const scraper = await serviceAccountToken(n, ns, 'scraper');
    const revoke = await grantNodesMetrics(n, ns, 'scraper');
    try {
      const anonymous = await kubeletGet(`${kubeletUrl}/metrics`);
      assert.equal(anonymous.status, 401, `GET /metrics without credentials: ${anonymous.status} ${anonymous.body.slice(0, 200)}`);
      const denied = await kubeletGet(`${kubeletUrl}/metrics`, nobody);
      assert.equal(denied.status, 403, `GET /metrics as ${ns}/nobody (no RBAC): ${denied.status} ${denied.body.slice(0, 200)}`);
      t.diagnostic(`403 body: ${denied.body.trim().slice(0, 200)}`);
      const bogus = await kubeletGet(`${kubeletUrl}/metrics`, `${nobody.slice(0, -4)}AAAA`);
      assert.equal(bogus.status, 401, `GET /metrics with a forged token: ${bogus.status}`);

      for (const metricsPath of Object.values(KUBELET_METRICS_PATHS)) {
        let last = '';
        const ok = await pollEvery(
          async () => {
            const r = await kubeletGet(`${kubeletUrl}${metricsPath}`, scraper);
            last = `${r.status} ${r.body.slice(0, 300)}`;
            assert.notEqual(r.status, 401, `GET ${metricsPath} with a valid token: ${last}`);
            return r.status === 200 && r;
          },
          1_000,
          RBAC_TIMEOUT_MS,
          `GET ${metricsPath} as ${ns}/scraper (get nodes/metrics) to answer 200`,
          () => `last answer: ${last}`,
        );
        assert.match(ok.body, /^# (HELP|TYPE) /m, `${metricsPath} is in the Prometheus text format`);
      }
      // nodes/metrics does not open nodes/stats (upstream's subresources by path).
      const stats = await kubeletGet(`${kubeletUrl}/stats/summary`, scraper);
      assert.equal(stats.status, 403, `GET /stats/summary with only nodes/metrics: ${stats.status} ${stats.body.slice(0, 200)}`);
    } finally {
      await revoke();
    }
  });
});

test('metrics-server scrapes the node: kubectl top node and kubectl top pod print numbers', { timeout: 240_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'top', async (ns) => {
    await runBusybox(n, ns);
    const podRunningAt = Date.now();

    let lastNode = '';
    const nodeLine = await pollEvery(
      async () => {
        lastNode = (await kubectl(['top', 'node', n.nodeName, '--no-headers'], 30_000)).trim();
        return /^\S+\s+\d+m\s+\S+\s+\d+Mi\s+\S+$/.test(lastNode) && lastNode;
      },
      KUBECTL_POLL_MS,
      TOP_TIMEOUT_MS,
      `kubectl top node ${n.nodeName} to print numbers`,
      () => `last output: ${lastNode}`,
    ).catch(async (err: unknown) => {
      throw new Error(`${errorMessage(err)}\n${await metricsServerLogTail()}`, { cause: err });
    });
    const [name, cpu, , memory] = nodeLine.split(/\s+/);
    assert.equal(name, n.nodeName);
    t.diagnostic(`kubectl top node: ${nodeLine} (${Date.now() - podRunningAt} ms after the pod ran, ${Date.now() - metricsServerStartedAt} ms after metrics-server was up)`);
    assert.ok(parseQuantity(memory!) > 0, `node memory ${memory} > 0`);
    assert.ok(parseQuantity(cpu!) >= 0, `node cpu ${cpu}`);

    let lastPod = '';
    const podLine = await pollEvery(
      async () => {
        lastPod = (await kubectl(['top', 'pod', '-n', ns, '--no-headers'], 30_000)).trim();
        return lastPod.split('\n').find((l) => /^busy\s+\d+m\s+\d+Mi$/.test(l.trim()));
      },
      KUBECTL_POLL_MS,
      TOP_TIMEOUT_MS,
      `kubectl top pod -n ${ns} to print numbers for busy`,
    ).catch(async (err: unknown) => {
      throw new Error(`${errorMessage(err)}\nlast output: ${lastPod}\n${await metricsServerLogTail()}`, { cause: err });
    });
    t.diagnostic(`kubectl top pod: ${podLine.trim()} (${Date.now() - podRunningAt} ms after the pod ran)`);

    // The same through the aggregated API, with the units kubectl rounds away.
    const nodeMetrics = JSON.parse(await kubectl(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/nodes/${n.nodeName}`])) as { usage: Record<string, string>; window: string };
    assert.ok(parseQuantity(nodeMetrics.usage['cpu'] ?? '0') > 0, `node cpu usage ${nodeMetrics.usage['cpu']} > 0`);
    assert.ok(parseQuantity(nodeMetrics.usage['memory'] ?? '0') > 0, `node memory usage ${nodeMetrics.usage['memory']} > 0`);
    const podMetrics = JSON.parse(await kubectl(['get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/${ns}/pods/busy`])) as {
      containers: { name: string; usage: Record<string, string> }[];
    };
    assert.deepEqual(podMetrics.containers.map((c) => c.name), ['main']);
    assert.ok(parseQuantity(podMetrics.containers[0]!.usage['memory'] ?? '0') > 0, `container memory ${podMetrics.containers[0]!.usage['memory']} > 0`);
    t.diagnostic(`metrics.k8s.io: node ${JSON.stringify(nodeMetrics.usage)} window ${nodeMetrics.window}; pod busy ${JSON.stringify(podMetrics.containers[0]!.usage)}`);
  });
});

test('Prometheus scrapes the kubelet with a bearer token: every target up, kubelet_running_pods >= 1', { timeout: 180_000 }, async (t) => {
  const n = node!;
  await assertPrometheusInstalled();
  await n.inNamespace(t, 'prom', async (ns) => {
    await runBusybox(n, ns);
    const token = await serviceAccountToken(n, ns, 'prometheus');
    const revoke = await grantNodesMetrics(n, ns, 'prometheus');
    let prom: Prometheus | undefined;
    try {
      // Wait out RBAC propagation here, so Prometheus' first scrapes are not denied and cached.
      await pollEvery(async () => (await kubeletGet(`${kubeletUrl}/metrics`, token)).status === 200, 1_000, RBAC_TIMEOUT_MS, 'the prometheus ServiceAccount to be allowed nodes/metrics');
      const target = new URL(kubeletUrl).host;
      prom = await Prometheus.start((dir) => kubeletScrapeConfig({ target, tokenFile: path.join(dir, 'token'), labels: { node: n.nodeName } }), { token });
      const started = Date.now();
      const p = prom;

      let last: PromTarget[] = [];
      await pollEvery(
        async () => {
          last = await p.targets();
          return last.length === Object.keys(KUBELET_METRICS_PATHS).length && last.every((x) => x.health === 'up');
        },
        1_000,
        PROMETHEUS_TIMEOUT_MS,
        'every kubelet target to be up in Prometheus',
        () => `targets:\n${describeTargets(last)}\n${p.logTail()}`,
      );
      t.diagnostic(`all ${last.length} targets up ${Date.now() - started} ms after Prometheus started:\n${describeTargets(last)}`);

      const running = await pollEvery(
        async () => {
          const samples = await p.query(`kubelet_running_pods{job="kubelet",node="${n.nodeName}"}`);
          return samples.length === 1 && Number(samples[0]!.value[1]) >= 1 && samples[0]!;
        },
        1_000,
        PROMETHEUS_TIMEOUT_MS,
        'kubelet_running_pods >= 1 in Prometheus',
      );
      t.diagnostic(`kubelet_running_pods = ${running.value[1]}`);

      // /metrics/resource carries the busybox container, as metrics-server reads it.
      const memory = await pollEvery(
        async () => {
          const samples = await p.query(`container_memory_working_set_bytes{job="kubelet-resource",namespace="${ns}",pod="busy",container="main"}`);
          return samples.length === 1 && samples[0]!;
        },
        1_000,
        PROMETHEUS_TIMEOUT_MS,
        `container_memory_working_set_bytes of ${ns}/busy/main in Prometheus`,
      );
      assert.ok(Number(memory.value[1]) > 0, `working set ${memory.value[1]} > 0`);
      const up = await p.query('up');
      assert.deepEqual(up.map((s) => [s.metric['job'], s.value[1]]).sort(), Object.keys(KUBELET_METRICS_PATHS).map((job) => [job, '1']).sort());
    } finally {
      await prom?.stop();
      await revoke();
    }
  });
});
