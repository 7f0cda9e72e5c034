// Security contexts against the real containerd (integration, standalone static pods):
//   - runAsUser / runAsGroup / supplementalGroups / fsGroup seen by `id` inside the container;
//     fsGroup ownership (group, setgid) of an emptyDir and of a file created in it;
//     readOnlyRootFilesystem refusing a write;
//   - capabilities: NET_RAW dropped is missing from CapEff (a control container keeps it);
//     allowPrivilegeEscalation false sets NoNewPrivs: 1; seccomp RuntimeDefault and a Localhost
//     profile under <rootDir>/seccomp are in force (Seccomp: 2);
//   - runAsNonRoot with busybox (runs as root): not started, CreateContainerConfigError with
//     upstream's message; a Localhost seccomp profile that does not exist: the same, never run
//     unconfined;
//   - sysctls: a safe one and an allowedUnsafeSysctls one applied (read back from /proc/sys), a
//     forbidden one rejects the pod (Failed, SysctlForbidden);
//   - hostNetwork: the pod sees the node's interfaces and addresses;
//   - hostUsers: false on containerd 1.6 (no user namespace support) and a runtimeClassName
//     without an API server: refused with a clear reason, never run in the host's namespaces.
// The containers print what they see; the test reads their CRI log files under /var/log/pods.
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import type { Pod } from '../src/kube/types.ts';
import { BUSYBOX_IMAGE, POD_LOGS_DIR, SLEEP_UNTIL_TERM, assertNodeReady, poll, withKubelet, type Harness } from './harness.ts';

before(assertNodeReady);

/** A container has printed what it prints (image present: seconds), ms. */
const OUTPUT_TIMEOUT_MS = 30_000;
/** A refused pod or container start shows in the status (first sync), ms. */
const STATUS_TIMEOUT_MS = 30_000;
/** Linux capability numbers (include/uapi/linux/capability.h). */
const CAP_CHOWN = 0;
const CAP_NET_RAW = 13;

/** The text lines a container printed (CRI log format `<time> <stream> <P|F> <text>`). */
async function containerOutput(pod: Pod, container: string): Promise<string[]> {
  const m = pod.metadata ?? {};
  const text = await readFile(path.join(POD_LOGS_DIR, `${m.namespace}_${m.name}_${m.uid}`, container, '0.log'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ').slice(3).join(' '));
}

/** Waits until the container printed DONE; resolves to its `KEY=value` lines as a record. */
async function waitForOutput(h: Harness, pod: Pod, container: string): Promise<Record<string, string>> {
  const lines = await poll(
    async () => {
      const out = await containerOutput(pod, container);
      return out.includes('DONE') ? out : undefined;
    },
    OUTPUT_TIMEOUT_MS,
    `${pod.metadata?.name}/${container} to print DONE`,
    () => h.logTail(40),
  );
  return Object.fromEntries(lines.filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** A busybox container running `script` with sh -c, printing DONE, then sleeping until SIGTERM. */
function container(name: string, script: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, image: BUSYBOX_IMAGE, command: ['sh', '-c', `${script}; echo DONE; ${SLEEP_UNTIL_TERM}`], ...extra };
}

/** A static pod manifest (JSON is YAML). */
function manifest(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 1, ...spec } });
}

/** Writes the manifest and waits until /pods lists the pod with a UID; resolves to it. */
async function createPod(h: Harness, name: string, spec: Record<string, unknown>): Promise<Pod> {
  await h.writeManifest(`${name}.yaml`, manifest(name, spec));
  return h.waitForPod(name, (p) => !!p.metadata?.uid, STATUS_TIMEOUT_MS, 'listed');
}

const waitingOf = (pod: Pod, name: string) => pod.status?.containerStatuses?.find((s) => s.name === name)?.state?.waiting;

/** Whether capability `bit` is set in a /proc/<pid>/status capability mask (hex). */
const hasCap = (hex: string, bit: number): boolean => ((BigInt(`0x${hex}`) >> BigInt(bit)) & 1n) === 1n;

const STATUS_SCRIPT = "grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | sed 's/:[[:space:]]*/=/'";

test('ids, fsGroup on an emptyDir, read-only root, dropped capabilities, no_new_privs and seccomp inside the containers', async (t) => {
  await withKubelet(t, async (h) => {
    // A Localhost profile that allows everything: it must be in force (Seccomp: 2) without breaking the shell.
    await mkdir(path.join(h.rootDir, 'seccomp', 'profiles'), { recursive: true });
    await writeFile(path.join(h.rootDir, 'seccomp', 'profiles', 'allow.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }));
    const pod = await createPod(h, 'sec-ctx', {
      securityContext: { runAsUser: 1000, runAsGroup: 3000, supplementalGroups: [4000, 4001], fsGroup: 2000 },
      volumes: [{ name: 'data', emptyDir: {} }],
      containers: [
        container(
          'ids',
          [
            'echo UID=$(id -u)', 'echo GID=$(id -g)', 'echo GROUPS=$(id -G)',
            "echo DATA=$(stat -c '%g %a' /data)",
            'touch /data/f && echo FILE=$(stat -c %g /data/f)',
            'touch /rootfs-probe 2>/dev/null && echo ROOTFS=writable || echo ROOTFS=read-only',
          ].join('; '),
          { securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 'data', mountPath: '/data' }] },
        ),
        container('hardened', STATUS_SCRIPT, {
          securityContext: { runAsUser: 0, capabilities: { drop: ['NET_RAW'] }, allowPrivilegeEscalation: false, seccompProfile: { type: 'RuntimeDefault' } },
        }),
        container('control', STATUS_SCRIPT, { securityContext: { runAsUser: 0 } }),
        container('localhost-seccomp', STATUS_SCRIPT, { securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'profiles/allow.json' } } }),
      ],
    });

    const ids = await waitForOutput(h, pod, 'ids');
    assert.equal(ids.UID, '1000');
    assert.equal(ids.GID, '3000');
    assert.deepEqual(new Set(ids.GROUPS?.split(' ')), new Set(['3000', '2000', '4000', '4001']), `id -G: ${ids.GROUPS}`);
    assert.equal(ids.DATA, '2000 2777', 'the emptyDir is group fsGroup, setgid, group-writable');
    assert.equal(ids.FILE, '2000', 'a file created in it inherits fsGroup');
    assert.equal(ids.ROOTFS, 'read-only');

    const hardened = await waitForOutput(h, pod, 'hardened');
    const control = await waitForOutput(h, pod, 'control');
    assert.ok(hasCap(control.CapEff ?? '0', CAP_NET_RAW), `control CapEff ${control.CapEff} has NET_RAW`);
    assert.ok(!hasCap(hardened.CapEff ?? '0', CAP_NET_RAW), `hardened CapEff ${hardened.CapEff} lacks NET_RAW`);
    assert.ok(hasCap(hardened.CapEff ?? '0', CAP_CHOWN), 'the other default capabilities stay');
    assert.equal(hardened.NoNewPrivs, '1');
    assert.equal(control.NoNewPrivs, '0');
    assert.equal(hardened.Seccomp, '2', 'RuntimeDefault seccomp filter in force');
    assert.equal(control.Seccomp, '0', 'no seccompProfile: Unconfined (seccompDefault off)');
    const local = await waitForOutput(h, pod, 'localhost-seccomp');
    assert.equal(local.Seccomp, '2', 'the Localhost profile is in force');
  });
});

test('runAsNonRoot with a root image and a missing Localhost seccomp profile: never started, CreateContainerConfigError', async (t) => {
  await withKubelet(t, async (h) => {
    const nonRoot = await createPod(h, 'non-root', { securityContext: { runAsNonRoot: true }, containers: [container('main', 'true')] });
    const waiting = (await h.waitForPod('non-root', (p) => !!waitingOf(p, 'main')?.message, STATUS_TIMEOUT_MS, 'main waiting with a message')).status?.containerStatuses?.[0]?.state?.waiting;
    const m = nonRoot.metadata ?? {};
    assert.deepEqual(waiting, {
      reason: 'CreateContainerConfigError',
      message: `container has runAsNonRoot and image will run as root (pod: "${m.name}_${m.namespace}(${m.uid})", container: main)`,
    });

    const noProfile = await createPod(h, 'no-profile', {
      containers: [container('main', 'true', { securityContext: { seccompProfile: { type: 'Localhost', localhostProfile: 'missing.json' } } })],
    });
    const w2 = waitingOf(await h.waitForPod('no-profile', (p) => !!waitingOf(p, 'main')?.message, STATUS_TIMEOUT_MS, 'main waiting with a message'), 'main');
    assert.equal(w2?.reason, 'CreateContainerConfigError');
    assert.equal(w2?.message, `cannot use Localhost seccomp profile "${path.join(h.rootDir, 'seccomp', 'missing.json')}": the file does not exist`);

    // Neither container was ever created in the runtime.
    for (const p of [nonRoot, noProfile]) assert.deepEqual((await h.runtimePod(p.metadata?.uid ?? '')).containers, []);
  });
});

test('sysctls: safe and allowed unsafe ones applied, a forbidden one rejects the pod (SysctlForbidden)', async (t) => {
  await withKubelet(
    t,
    async (h) => {
      const ok = await createPod(h, 'sysctl-ok', {
        securityContext: {
          sysctls: [
            { name: 'net.ipv4.ip_local_port_range', value: '20000 30000' },
            { name: 'kernel.shm_rmid_forced', value: '1' },
            { name: 'net.core.somaxconn', value: '1234' },
          ],
        },
        containers: [
          container('main', [
            "echo RANGE=$(tr '\\t' ' ' < /proc/sys/net/ipv4/ip_local_port_range)",
            'echo SHM=$(cat /proc/sys/kernel/shm_rmid_forced)',
            'echo SOMAXCONN=$(cat /proc/sys/net/core/somaxconn)',
          ].join('; ')),
        ],
      });
      const out = await waitForOutput(h, ok, 'main');
      assert.deepEqual([out.RANGE, out.SHM, out.SOMAXCONN], ['20000 30000', '1', '1234']);

      await h.writeManifest('sysctl-bad.yaml', manifest('sysctl-bad', { securityContext: { sysctls: [{ name: 'net.ipv4.ip_forward', value: '1' }] }, containers: [container('main', 'true')] }));
      const bad = await h.waitForPod('sysctl-bad', (p) => p.status?.phase === 'Failed', STATUS_TIMEOUT_MS, 'rejected');
      assert.equal(bad.status?.reason, 'SysctlForbidden');
      assert.equal(bad.status?.message, 'Pod was rejected: forbidden sysctl: "net.ipv4.ip_forward" not allowlisted');
      assert.deepEqual((await h.runtimePod(bad.metadata?.uid ?? '')).sandboxes, [], 'a rejected pod never gets a sandbox');
    },
    { extraArgs: ['--allowed-unsafe-sysctls=net.core.somaxconn'] },
  );
});

test('hostNetwork: the pod sees the node\'s interfaces and addresses', async (t) => {
  const hostAddrs = Object.values(networkInterfaces()).flat().filter((a) => a && a.family === 'IPv4' && !a.internal).map((a) => a!.address);
  assert.ok(hostAddrs.length > 0, 'the node has a non-loopback IPv4 address');
  await withKubelet(t, async (h) => {
    const pod = await createPod(h, 'host-net', {
      hostNetwork: true,
      containers: [container('main', "echo ADDRS=$(ip -o -4 addr show | awk '{print $4}' | cut -d/ -f1 | tr '\\n' ' ')")],
    });
    const out = await waitForOutput(h, pod, 'main');
    const seen = (out.ADDRS ?? '').trim().split(' ');
    for (const a of hostAddrs) assert.ok(seen.includes(a), `host address ${a} seen in the pod (${out.ADDRS})`);
  });
});

test('hostUsers: false without runtime support and a runtimeClassName without an API server are refused, not run', async (t) => {
  await withKubelet(t, async (h) => {
    const userns = await createPod(h, 'userns', { hostUsers: false, containers: [container('main', 'true')] });
    const w = waitingOf(await h.waitForPod('userns', (p) => !!waitingOf(p, 'main')?.message, STATUS_TIMEOUT_MS, 'main waiting with a message'), 'main');
    assert.deepEqual(w, { reason: 'ContainerCreating', message: 'Failed to create pod sandbox: RuntimeClass handler "" does not support user namespaces' });
    assert.deepEqual((await h.runtimePod(userns.metadata?.uid ?? '')).sandboxes, []);

    await h.writeManifest('rc.yaml', manifest('rc', { runtimeClassName: 'gvisor', containers: [container('main', 'true')] }));
    const rc = await h.waitForPod('rc', (p) => p.status?.phase === 'Failed', STATUS_TIMEOUT_MS, 'rejected');
    assert.equal(rc.status?.reason, 'RuntimeClassNotAvailable');
    assert.match(rc.status?.message ?? '', /RuntimeClass "gvisor" cannot be resolved: the kubelet runs without an API server/);
  });
});
