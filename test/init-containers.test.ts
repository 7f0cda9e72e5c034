// Init containers run one after the other, before the main container, sharing an emptyDir
// volume; logs land in /var/log/pods with the /var/log/containers symlink (integration).
import assert from 'node:assert/strict';
import { readFile, readlink } from 'node:fs/promises';
import { before, test } from 'node:test';
import { BUSYBOX_IMAGE, CONTAINER_LOGS_DIR, POD_LOGS_DIR, assertNodeReady, containerIdOf, poll, withKubelet } from './harness.ts';

before(assertNodeReady);

/** The text lines of a CRI-format log file (`<RFC3339Nano> <stream> <P|F> <text>`). */
function criLogLines(content: string): { time: string; stream: string; text: string }[] {
  return content
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const m = /^(\S+) (stdout|stderr) ([PF]) (.*)$/.exec(l);
      assert.ok(m, `not a CRI log line: ${JSON.stringify(l)}`);
      return { time: m[1]!, stream: m[2]!, text: m[4]! };
    });
}

test('init containers run in order, each to completion, before the main container', (t) =>
  withKubelet(t, async (h) => {
    const step = (name: string): string => `echo "${name} $(date +%s)" | tee -a /work/order; sleep 1`;
    await h.writeManifest('init.yaml', `
apiVersion: v1
kind: Pod
metadata:
  name: init
spec:
  terminationGracePeriodSeconds: 1
  volumes:
  - name: work
    emptyDir: {}
  initContainers:
  - name: init1
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(step('init1'))}]
    volumeMounts: [{name: work, mountPath: /work}]
  - name: init2
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", ${JSON.stringify(step('init2'))}]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: main
    image: ${BUSYBOX_IMAGE}
    command: ["sh", "-c", "cat /work/order; trap 'exit 0' TERM; while true; do sleep 1 & wait $!; done"]
    volumeMounts: [{name: work, mountPath: /work}]
`);
    const pod = await h.waitForPod('init', (p) => p.status?.phase === 'Running' && !!p.status.containerStatuses?.[0]?.state?.running, 30_000, 'Running with main running');
    const uid = pod.metadata!.uid!;
    const podName = h.podName('init');

    // Statuses: both init containers terminated with Completed/0, the pod Initialized and Ready.
    const inits = pod.status?.initContainerStatuses ?? [];
    assert.deepEqual(inits.map((s) => s.name), ['init1', 'init2']);
    for (const s of inits) {
      assert.equal(s.state?.terminated?.exitCode, 0, `${s.name} exit code`);
      assert.equal(s.state?.terminated?.reason, 'Completed', `${s.name} reason`);
      assert.equal(s.restartCount, 0, `${s.name} restartCount`);
    }
    // Upstream's prober manager marks a completed (exit 0) regular init container ready.
    await t.test('completed init containers are ready: true', () => {
      for (const s of inits) assert.equal(s.ready, true, `${s.name} ready`);
    });
    const cond = (type: string): string | undefined => pod.status?.conditions?.find((c) => c.type === type)?.status;
    assert.equal(cond('Initialized'), 'True');
    assert.equal(cond('Ready'), 'True');
    assert.equal(cond('ContainersReady'), 'True');
    assert.equal(cond('PodReadyToStartContainers'), 'True');

    // Order, from the runtime's own timestamps (ns): init1 ends before init2 starts, init2 before main.
    const rt = await h.runtimePod(uid);
    const byName = (n: string) => {
      const c = rt.containers.filter((x) => x.name === n);
      assert.equal(c.length, 1, `exactly one ${n} container in the runtime`);
      return c[0]!;
    };
    const [i1, i2, main] = [byName('init1'), byName('init2'), byName('main')];
    assert.ok(i1.finishedAtMs > 0 && i1.finishedAtMs <= i2.startedAtMs, `init1 finished (${i1.finishedAtMs}) before init2 started (${i2.startedAtMs})`);
    assert.ok(i2.finishedAtMs > 0 && i2.finishedAtMs <= main.startedAtMs, `init2 finished (${i2.finishedAtMs}) before main started (${main.startedAtMs})`);
    assert.ok(i2.startedAtMs - i1.startedAtMs >= 900, 'init2 started only after init1 slept its second');
    // The API statuses agree (ms precision).
    const iso = (d: unknown): number => Date.parse(String(d));
    assert.ok(iso(inits[0]!.state!.terminated!.finishedAt) <= iso(inits[1]!.state!.terminated!.startedAt));
    assert.ok(iso(inits[1]!.state!.terminated!.finishedAt) <= iso(pod.status!.containerStatuses![0]!.state!.running!.startedAt));

    // The main container saw both lines in order in the shared emptyDir: read its CRI log file.
    const logDir = `${POD_LOGS_DIR}/default_${podName}_${uid}`;
    const mainLog = `${logDir}/main/0.log`;
    let content = '';
    await poll(async () => (content = await readFile(mainLog, 'utf8')).split('\n').length > 2, 5_000, `two lines in ${mainLog}`, () => `content: ${JSON.stringify(content)}`);
    const lines = criLogLines(content);
    assert.deepEqual(lines.map((l) => l.stream), ['stdout', 'stdout']);
    assert.deepEqual(lines.map((l) => l.text.split(' ')[0]), ['init1', 'init2'], `main's log: ${JSON.stringify(lines)}`);
    const [t1, t2] = lines.map((l) => Number(l.text.split(' ')[1]));
    assert.ok(t1! <= t2!, 'init1 wrote before init2');
    // Each init container's own log has its line too.
    for (const n of ['init1', 'init2']) {
      const own = criLogLines(await readFile(`${logDir}/${n}/0.log`, 'utf8'));
      assert.equal(own[0]?.text.split(' ')[0], n);
    }

    // /var/log/containers/<pod>_<ns>_<container>-<id>.log points at the log file.
    const mainId = containerIdOf(pod.status?.containerStatuses?.[0]?.containerID);
    assert.equal(mainId, main.id);
    assert.equal(await readlink(`${CONTAINER_LOGS_DIR}/${podName}_default_main-${mainId}.log`), mainLog);
    const init1Id = containerIdOf(inits[0]!.containerID);
    assert.equal(await readlink(`${CONTAINER_LOGS_DIR}/${podName}_default_init1-${init1Id}.log`), `${logDir}/init1/0.log`);
  }));
