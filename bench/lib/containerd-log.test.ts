import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseContainerdLog, parseLogTime } from './containerd-log.ts';

const SB = 'a4955024';
const CT = '442e7332';
const LOG = [
  'time="2026-11-28T22:00:35.663850880Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:p1,Uid:u1,Namespace:ns,Attempt:0,}"',
  'time="2026-11-28T22:00:35.700000000Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:p1,Uid:u9,Namespace:other,Attempt:0,}"',
  `time="2026-11-28T22:00:36.500515915Z" level=info msg="starting signal loop" namespace=k8s.io path=/run/x/${SB} pid=24520`,
  `time="2026-11-28T22:00:36.927297165Z" level=info msg="RunPodSandbox for &PodSandboxMetadata{Name:p1,Uid:u1,Namespace:ns,Attempt:0,} returns sandbox id \\"${SB}\\""`,
  `time="2026-11-28T22:00:36.984569405Z" level=info msg="CreateContainer within sandbox \\"${SB}\\" for container &ContainerMetadata{Name:sleep,Attempt:0,}"`,
  `time="2026-11-28T22:00:37.252825386Z" level=info msg="CreateContainer within sandbox \\"${SB}\\" for &ContainerMetadata{Name:sleep,Attempt:0,} returns container id \\"${CT}\\""`,
  `time="2026-11-28T22:00:37.275389579Z" level=info msg="StartContainer for \\"${CT}\\""`,
  `time="2026-11-28T22:00:37.932443663Z" level=info msg="StartContainer for \\"${CT}\\" returns successfully"`,
  `time="2026-11-28T22:00:41.627554863Z" level=info msg="StopContainer for \\"${CT}\\" with timeout 30 (s)"`,
  `time="2026-11-28T22:00:41.930146369Z" level=info msg="StopContainer for \\"${CT}\\" returns successfully"`,
  `time="2026-11-28T22:00:41.933418144Z" level=info msg="StopPodSandbox for \\"${SB}\\""`,
  `time="2026-11-28T22:00:42.561859557Z" level=info msg="StopPodSandbox for \\"${SB}\\" returns successfully"`,
  `time="2026-11-28T22:00:42.600000000Z" level=info msg="StopPodSandbox for \\"${SB}\\""`,
  `time="2026-11-28T22:00:42.644487425Z" level=info msg="RemovePodSandbox for \\"${SB}\\""`,
  `time="2026-11-28T22:00:42.669068825Z" level=info msg="RemovePodSandbox \\"${SB}\\" returns successfully"`,
].join('\n');

test('parseLogTime keeps the sub-millisecond digits', () => {
  assert.ok(Math.abs(parseLogTime('2026-11-28T22:00:35.663850880Z') - Date.parse('2026-11-28T22:00:35Z') - 663.85088) < 1e-3); // a double holds epoch ms to about 0.25 µs
  assert.ok(Number.isNaN(parseLogTime('yesterday')));
});

test('parseContainerdLog: every CRI call of a pod of the namespace, first of each kind', () => {
  const pods = parseContainerdLog(LOG, 'ns');
  assert.deepEqual([...pods.keys()], ['p1']);
  const p = pods.get('p1')!;
  const t = (s: string): number => parseLogTime(`2026-11-28T22:00:${s}Z`);
  assert.equal(p.sandboxId, SB);
  assert.deepEqual(p.runSandbox, { startMs: t('35.663850880'), endMs: t('36.927297165') });
  assert.deepEqual(p.createContainer, { startMs: t('36.984569405'), endMs: t('37.252825386') });
  assert.deepEqual(p.startContainer, { startMs: t('37.275389579'), endMs: t('37.932443663') });
  assert.deepEqual(p.stopContainer, { startMs: t('41.627554863'), endMs: t('41.930146369') });
  assert.deepEqual(p.stopSandbox, { startMs: t('41.933418144'), endMs: t('42.561859557') });
  assert.deepEqual(p.removeSandbox, { startMs: t('42.644487425'), endMs: t('42.669068825') });
});
