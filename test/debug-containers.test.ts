// Ephemeral containers with the REAL control plane: `kubectl debug --target` adds a debugger to a
// running pod (the ephemeralcontainers subresource); tskubelet starts it once inside the pod's
// sandbox, in the target container's PID namespace, reports it in ephemeralContainerStatuses,
// serves its logs, exec and attach, and never restarts it after it exits.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import type { ContainerStatus, Pod } from '../src/kube/types.ts';
import { BUSYBOX_IMAGE, SLEEP_UNTIL_TERM, containerIdOf } from './harness.ts';
import { ADMIN_KUBECONFIG, ClusterNode, KUBECTL, busybox, isRunningAndReady, kubectl } from './cluster-harness.ts';

/** A pod starts within seconds with the image present; allow a loaded 2-core machine. */
const START_TIMEOUT_MS = 60_000;
/** How long a stopped debugger is watched for a restart: several sync and PLEG periods, ms. */
const NO_RESTART_WATCH_MS = 8_000;

let node: ClusterNode | undefined;

before(async () => {
  node = await ClusterNode.create();
  await node.start();
  await node.waitForNodeReady();
});

after(async () => {
  await node?.cleanup();
});

const ephemeralStatus = (pod: Pod | undefined, name: string): ContainerStatus | undefined => pod?.status?.ephemeralContainerStatuses?.find((s) => s.name === name);

/**
 * Runs kubectl with stdin: writes `input`, and once stdout matches `until` writes `finally` and
 * closes stdin; resolves with its output once it exits. (stdin must stay open until the output
 * arrived: containerd ends an attach session when its stdin closes, unless stdinOnce is set,
 * which `kubectl debug` does not set.)
 */
function kubectlInteractive(args: string[], io: { input: string; until: RegExp; finally: string }, timeoutMs = 60_000): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, ['--kubeconfig', ADMIN_KUBECONFIG, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let ended = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kubectl ${args.join(' ')} timed out; stdout: ${out}\nstderr: ${err}`));
    }, timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!ended && io.until.test(out)) {
        ended = true;
        child.stdin.end(io.finally);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ out, err, code });
    });
    child.stdin.write(io.input);
  });
}

test('kubectl debug --target: the debugger sees the target\'s processes, answers exec and logs, and is never restarted', { timeout: 240_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'debug', async (ns) => {
    await n.createPod(ns, 'app', { containers: [busybox('main', SLEEP_UNTIL_TERM)] });
    await n.waitForPod(ns, 'app', isRunningAndReady, START_TIMEOUT_MS, 'Running and Ready');

    // Non-interactive: the debugger lists the processes, then waits for /tmp/stop.
    const script = 'ps; while [ ! -e /tmp/stop ]; do sleep 0.2; done; echo debugger-done';
    await kubectl(['debug', '-n', ns, 'app', `--image=${BUSYBOX_IMAGE}`, '--target=main', '-c', 'debugger', '--profile=general', '--', 'sh', '-c', script]);
    const running = await n.waitForPod(ns, 'app', (p) => !!ephemeralStatus(p, 'debugger')?.state?.running, START_TIMEOUT_MS, 'the debugger running');
    const st = ephemeralStatus(running, 'debugger')!;
    assert.equal(st.ready, false);
    assert.equal(st.restartCount, 0);
    assert.match(st.containerID ?? '', /^containerd:\/\/[0-9a-f]{64}$/);
    assert.equal(st.image, BUSYBOX_IMAGE);
    assert.ok(isRunningAndReady(running), 'the pod stays Running and Ready');
    assert.equal(running.status?.containerStatuses?.[0]?.restartCount, 0, 'the target is untouched');

    // The shared PID namespace: the target's shell (its trap loop) is in the debugger's `ps`.
    const logs = await n.until(async () => {
      const out = await kubectl(['logs', '-n', ns, 'app', '-c', 'debugger']);
      return /trap 'exit 0' TERM/.test(out) && out;
    }, 20_000, 'the debugger\'s ps output in its logs');
    t.diagnostic(`debugger ps:\n${logs.trim()}`);
    assert.match(logs, /^\s*1\s+\S+\s+sh -c trap/m, 'PID 1 is the target\'s shell');

    // exec into the ephemeral container ends it.
    await kubectl(['exec', '-n', ns, 'app', '-c', 'debugger', '--', 'touch', '/tmp/stop']);
    const stopped = await n.waitForPod(ns, 'app', (p) => !!ephemeralStatus(p, 'debugger')?.state?.terminated, 30_000, 'the debugger terminated');
    const term = ephemeralStatus(stopped, 'debugger')!.state!.terminated!;
    assert.equal(term.exitCode, 0);
    assert.equal(term.reason, 'Completed');
    assert.equal(containerIdOf(term.containerID), containerIdOf(st.containerID));
    assert.match(await kubectl(['logs', '-n', ns, 'app', '-c', 'debugger']), /debugger-done/);

    // Never restarted: the runtime keeps the one exited container and the status stays terminated.
    await new Promise((r) => setTimeout(r, NO_RESTART_WATCH_MS));
    const later = await n.getPod(ns, 'app');
    const again = ephemeralStatus(later, 'debugger');
    assert.ok(again?.state?.terminated, JSON.stringify(again));
    assert.equal(again.restartCount, 0);
    const rt = await n.runtimePod(stopped.metadata!.uid!);
    const debuggers = rt.containers.filter((c) => c.name === 'debugger');
    assert.deepEqual(debuggers.map((c) => [c.id, c.state]), [[containerIdOf(st.containerID), 'CONTAINER_EXITED']]);
    assert.ok(isRunningAndReady(later), 'the pod is still Running and Ready');

    // Interactive (-i): kubectl attaches to the debugger's stdin once it runs.
    const interactive = await kubectlInteractive(
      ['debug', '-i', '-n', ns, 'app', `--image=${BUSYBOX_IMAGE}`, '--target=main', '-c', 'shell', '--profile=general', '--', 'sh'],
      { input: 'ps -o pid,args | grep -c "sleep 1" ; echo interactive-$((6 * 7))\n', until: /interactive-42/, finally: 'exit\n' },
    );
    t.diagnostic(`kubectl debug -i: exit ${interactive.code}\n${interactive.out}\n${interactive.err}`);
    assert.match(interactive.out, /interactive-42/, interactive.err);
    // `grep -c` counts itself, and only with the target's processes the shell and its sleep too.
    assert.ok(Number(/(\d+)\s*\ninteractive-42/.exec(interactive.out)?.[1]) >= 2, `the target's processes are seen: ${interactive.out}`);
    const shell = await n.waitForPod(ns, 'app', (p) => !!ephemeralStatus(p, 'shell')?.state?.terminated, 30_000, 'the interactive debugger terminated');
    assert.equal(ephemeralStatus(shell, 'shell')?.state?.terminated?.exitCode, 0);
    assert.deepEqual((shell.status?.ephemeralContainerStatuses ?? []).map((s) => s.name), ['debugger', 'shell']);
  });
});

test('an ephemeral container whose target does not run waits with CreateContainerConfigError', { timeout: 120_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'debug-notarget', async (ns) => {
    // The target is an init container that has finished: never running again.
    await n.createPod(ns, 'app', { initContainers: [busybox('setup', 'true')], containers: [busybox('main', SLEEP_UNTIL_TERM)] });
    await n.waitForPod(ns, 'app', isRunningAndReady, START_TIMEOUT_MS, 'Running and Ready');
    await kubectl(['debug', '-n', ns, 'app', `--image=${BUSYBOX_IMAGE}`, '--target=setup', '-c', 'debugger', '--profile=general', '--', 'sleep', '3600']);
    const pod = await n.waitForPod(ns, 'app', (p) => !!ephemeralStatus(p, 'debugger')?.state?.waiting?.reason, START_TIMEOUT_MS, 'the debugger waiting');
    assert.deepEqual(ephemeralStatus(pod, 'debugger')?.state?.waiting, { reason: 'CreateContainerConfigError', message: 'unable to find target container setup' });
    const rt = await n.runtimePod(pod.metadata!.uid!);
    assert.equal(rt.containers.filter((c) => c.name === 'debugger').length, 0, 'not created');
  });
});
