import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeStatus } from './api-writer.ts';

void test('conditions the kubelet does not own are kept from the API', () => {
  const apiPod = { status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'example.com/gate', status: 'True' }] } };
  const merged = mergeStatus(apiPod, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] });
  assert.deepEqual(merged.conditions, [{ type: 'Ready', status: 'True' }, { type: 'example.com/gate', status: 'True' }]);
});
