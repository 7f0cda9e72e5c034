import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configzView } from './configz.ts';
import { parseKubeletConfigFile } from './file.ts';
import { resolveConfig } from './load.ts';

void test('configz nests fields, formats durations and keeps pass-through fields', () => {
  const file = parseKubeletConfigFile('apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthorization: {mode: AlwaysAllow}\nfailSwapOn: false\nlogging: {format: text, verbosity: 2}\n');
  const config = resolveConfig(file, {}, 'node-a');
  const c = configzView(config).kubeletconfig;
  assert.equal(c.syncFrequency, '1m0s');
  assert.deepEqual(c.authorization, { mode: 'AlwaysAllow', webhook: { cacheAuthorizedTTL: '5m0s', cacheUnauthorizedTTL: '30s' } });
  assert.deepEqual(c.authentication, { x509: { clientCAFile: '' }, webhook: { enabled: true, cacheTTL: '2m0s' }, anonymous: { enabled: false } });
  assert.deepEqual(c.logging, { format: 'text', verbosity: 2 });
  assert.equal(c.failSwapOn, false);
  assert.equal(c.port, 10250);
});
