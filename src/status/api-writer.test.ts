import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mergeStatus, needsReconcile } from './api-writer.ts';

void test('conditions the kubelet does not own are kept from the API', () => {
  const apiPod = { status: { conditions: [{ type: 'Ready', status: 'False' }, { type: 'example.com/gate', status: 'True' }] } };
  const merged = mergeStatus(apiPod, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] });
  assert.deepEqual(merged.conditions, [{ type: 'Ready', status: 'True' }, { type: 'example.com/gate', status: 'True' }]);
});

void test('a status another writer changed needs reconciling; a terminal API phase never does', () => {
  const want = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }] };
  assert.equal(needsReconcile({ phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }, { type: 'ContainersReady', status: 'True' }, { type: 'example.com/gate', status: 'False' }] }, want), false);
  // The node lifecycle controller marks the pods of a lost node not Ready.
  assert.equal(needsReconcile({ phase: 'Running', conditions: [{ type: 'Ready', status: 'False' }, { type: 'ContainersReady', status: 'True' }] }, want), true);
  assert.equal(needsReconcile({ phase: 'Pending', conditions: want.conditions }, want), true);
  assert.equal(needsReconcile({ phase: 'Failed', conditions: [] }, want), false);
});
