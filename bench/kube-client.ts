// Compares our REST client (src/kube/client.ts) with @kubernetes/client-node's generated CoreV1Api
// on the kubelet's hot write path: a merge patch of an object, here a ConfigMap in a scratch
// namespace (the same request shape as a pod status patch). Sequential calls against the real
// API server (npm run cluster:up); reports the median latency and the client's CPU per call.
// Usage: bash scripts/node.sh bench/kube-client.ts [--calls N]
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { HttpKubeClient } from '../src/kube/client.ts';

const calls = Number(process.argv[process.argv.indexOf('--calls') + 1]) || 300;
const kubeconfig = new URL('../.cluster/admin.kubeconfig', import.meta.url).pathname;
const ns = `bench-client-${process.pid}`;

const ours = await HttpKubeClient.fromKubeconfigFile(kubeconfig);
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(CoreV1Api);

await ours.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
await ours.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name: 'cm' }, data: { n: '0' } } });

async function measure(name: string, patch: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 20; i++) await patch(i); // warm-up
  const lat: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await patch(i);
    lat.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  lat.sort((a, b) => a - b);
  const p = (q: number): string => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!.toFixed(2);
  console.log(`| ${name} | ${p(0.5)} | ${p(0.9)} | ${p(0.99)} | ${((cpu.user + cpu.system) / 1000 / calls).toFixed(3)} |`);
}

console.log(`${calls} sequential merge patches of a ConfigMap against kube-apiserver on loopback\n`);
console.log('| client | p50 ms | p90 ms | p99 ms | client CPU ms/call |\n| --- | ---: | ---: | ---: | ---: |');
try {
  for (let round = 0; round < 2; round++) {
    await measure('src/kube/client.ts', (i) => ours.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/cm`, { body: { data: { n: String(i) } }, contentType: 'application/merge-patch+json' }));
    await measure('client-node CoreV1Api', (i) => core.patchNamespacedConfigMap({ name: 'cm', namespace: ns, body: { data: { n: String(i) } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)));
  }
} finally {
  await ours.request('DELETE', `/api/v1/namespaces/${ns}`);
  ours.close();
}
