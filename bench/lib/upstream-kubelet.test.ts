import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { PAUSE_IMAGE } from './manifests.ts';
import { agentArgs, kubeletConfigYaml } from './upstream-kubelet.ts';

const dirs = { config: '/tmp/x/kubelet-config.yaml', kubeconfig: '/tmp/x/kubelet.kubeconfig', certDir: '/tmp/x/pki', rootDir: '/tmp/x/root' };
const yamlText = kubeletConfigYaml({ podLogsDir: '/tmp/x/pod-logs', healthzPort: 41000, port: 41001, maxPods: 110 });

test('the shared KubeletConfiguration carries what the upstream kubelet needs here', () => {
  const c = parse(yamlText) as Record<string, unknown>;
  assert.equal(c.kind, 'KubeletConfiguration');
  assert.equal(c.cgroupDriver, 'cgroupfs');
  assert.equal(c.failSwapOn, false);
  assert.equal(c.oomScoreAdj, 0);
  assert.equal(c.makeIPTablesUtilChains, false);
  assert.deepEqual(c.authorization, { mode: 'Webhook' });
  assert.equal((c.authentication as { webhook: { enabled: boolean } }).webhook.enabled, true);
  assert.equal((c.evictionHard as Record<string, string>)['memory.available'], '1Mi');
  assert.equal(c.healthzPort, 41000);
  assert.equal(c.port, 41001);
});

test('tskubelet loads the same configuration and flags', async () => {
  const argv = agentArgs('tskubelet', dirs, '/repo/.cluster/bootstrap.kubeconfig', 'bench-tskubelet-abc123', 'tskubelet-compare-bench=run1', 0);
  const loaded = await loadConfig(argv, { readFile: async () => yamlText, hostname: () => 'host' });
  assert.ok('config' in loaded);
  assert.equal(loaded.config.nodeName, 'bench-tskubelet-abc123');
  assert.equal(loaded.config.healthzPort, 41000);
  assert.equal(loaded.config.podLogsDir, '/tmp/x/pod-logs');
  assert.equal(loaded.config.maxPods, 110);
  assert.equal(loaded.config.cgroupDriver, 'cgroupfs');
});

test('only the upstream kubelet gets --pod-infra-container-image', () => {
  const up = agentArgs('upstream', dirs, '/b', 'n', 'l=v', 2);
  const ts = agentArgs('tskubelet', dirs, '/b', 'n', 'l=v', 2);
  assert.deepEqual(up.slice(-2), ['--pod-infra-container-image', PAUSE_IMAGE]);
  assert.ok(!ts.includes('--pod-infra-container-image'));
  assert.deepEqual(up.slice(0, -2), ts);
  assert.ok(ts.includes('--v=2'));
});
