import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeletLog, parseLogLine } from './kubelet-log.ts';

const line = (o: Record<string, unknown>): string => JSON.stringify({ level: 30, time: '2026-01-01T00:00:01.250Z', component: 'tskubelet', ...o });

test('parseLogLine reads pino JSON and refuses anything else', () => {
  const l = parseLogLine(line({ msg: 'pod status', pod: 'default/a-n', status: 'Running' }));
  assert.equal(l?.timeMs, Date.parse('2026-01-01T00:00:01.250Z'));
  assert.equal(l?.pod, 'default/a-n');
  assert.equal(parseLogLine('not json'), null);
  assert.equal(parseLogLine('{"broken'), null);
  assert.equal(parseLogLine(JSON.stringify({ msg: 'no time' })), null);
});

test('KubeletLog sums runtime time per pod and keeps the first Running', () => {
  const log = new KubeletLog();
  log.addLine(line({ msg: 'tskubelet started' }));
  log.addLine(line({ level: 20, msg: 'runtime time in this sync', pod: 'default/a-n', podUID: 'u1', runtimeMs: 500.5 }));
  log.addLine(line({ msg: 'pod status', pod: 'default/a-n', status: 'ContainerCreating', time: '2026-01-01T00:00:01.000Z' }));
  log.addLine(line({ msg: 'pod status', pod: 'default/a-n', status: 'Running', time: '2026-01-01T00:00:02.000Z' }));
  log.addLine(line({ msg: 'pod status', pod: 'default/a-n', status: 'Running', time: '2026-01-01T00:00:03.000Z' }));
  log.addLine(line({ level: 20, msg: 'runtime time in this sync', pod: 'default/a-n', runtimeMs: 100 }));
  log.addLine(line({ msg: 'Started container sleep', component: 'events', reason: 'Started', pod: 'default/a-n' }));
  log.addLine(line({ level: 50, msg: 'syncing pod failed', pod: 'default/a-n' }));
  log.addLine(line({ level: 50, msg: 'relist failed', err: 'boom' }));
  const t = log.pods.get('default/a-n');
  assert.ok(log.started);
  assert.equal(t?.podUID, 'u1');
  assert.equal(t?.runtimeMs, 600.5);
  assert.equal(t?.syncsWithRuntime, 2);
  assert.equal(t?.reportedRunningMs, Date.parse('2026-01-01T00:00:02.000Z'));
  assert.equal(t?.lastStatus, 'Running');
  assert.equal(t?.startedMs, Date.parse('2026-01-01T00:00:01.250Z'));
  assert.deepEqual(t?.problems, ['syncing pod failed']);
  assert.deepEqual(log.errors, ['relist failed: boom']);
});
