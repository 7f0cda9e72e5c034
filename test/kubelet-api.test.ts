// The kubelet API (HTTPS, --port) with the real clients through the REAL API server: kubectl logs
// (-f, --previous, --tail, --since), exec (interactive and not), attach, port-forward carrying
// bytes both ways; and the server's own guard: 401 without credentials, 403 for a token without
// RBAC, a log file swapped for a symlink never served; a WebSocket client straight to the kubelet.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rename, symlink, unlink } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { after, before, test } from 'node:test';
import { SLEEP_UNTIL_TERM } from './harness.ts';
import { ADMIN_KUBECONFIG, ClusterNode, KUBECTL, busybox, isRunningAndReady, kubectl } from './cluster-harness.ts';

const START_TIMEOUT_MS = 60_000;
const PKI = '/var/lib/tskubelet-cluster/pki';

let node: ClusterNode | undefined;

before(async () => {
  node = await ClusterNode.create();
  await node.start();
  await node.waitForNodeReady();
});

after(async () => {
  await node?.cleanup();
});

/** Runs kubectl with stdin and collects its output until it exits or `until` matches (then it is killed). */
function kubectlStream(args: string[], opts: { stdin?: string; until?: RegExp; timeoutMs?: number } = {}): Promise<{ out: string; err: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(KUBECTL, ['--kubeconfig', ADMIN_KUBECONFIG, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kubectl ${args.join(' ')} timed out; stdout: ${out}\nstderr: ${err}`));
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (opts.until?.test(out)) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ out, err, code });
    });
    if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
  });
}

/** One HTTPS GET to the kubelet API with the given credentials; the serving certificate is self-signed. */
function kubeletGet(port: number, path: string, creds: { token?: string; cert?: string; key?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path, method: 'GET', rejectUnauthorized: false, cert: creds.cert, key: creds.key,
      headers: creds.token ? { authorization: `Bearer ${creds.token}` } : {},
    }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('kubectl logs, exec, attach and port-forward through the API server', { timeout: 240_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'api', async (ns) => {
    const talker = busybox('talker', 'for i in 1 2 3; do echo out-$i; echo err-$i >&2; done; while true; do echo tick; sleep 1; done');
    const crasher = busybox('crasher', 'echo run-$(cat /proc/sys/kernel/random/uuid); sleep 1; exit 3');
    const echo = busybox('echo', 'nc -ll -p 9090 -e cat');
    await n.admin.request('POST', `/api/v1/namespaces/${ns}/pods`, {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { nodeName: n.nodeName, terminationGracePeriodSeconds: 1, containers: [talker, echo, busybox('main', SLEEP_UNTIL_TERM)] } },
    });
    await n.admin.request('POST', `/api/v1/namespaces/${ns}/pods`, {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'crash' }, spec: { nodeName: n.nodeName, terminationGracePeriodSeconds: 1, containers: [crasher] } },
    });
    await n.waitForPod(ns, 'p', isRunningAndReady, START_TIMEOUT_MS, 'Running and Ready');

    // logs: both streams in order, --tail, --since, -f
    const logs = await n.until(async () => {
      const out = await kubectl(['logs', '-n', ns, 'p', '-c', 'talker']);
      return /tick\ntick\n/.test(out) && out;
    }, 15_000, 'the talker to log two ticks');
    // Each stream keeps its order; the runtime reads stdout and stderr from two pipes, so the two interleave as they came.
    const lines = logs.split('\n');
    assert.deepEqual(lines.filter((l) => l.startsWith('out-')), ['out-1', 'out-2', 'out-3']);
    assert.deepEqual(lines.filter((l) => l.startsWith('err-')), ['err-1', 'err-2', 'err-3']);
    assert.ok(lines.indexOf('out-3') < lines.indexOf('tick'), 'stdout in order');
    assert.equal(await kubectl(['logs', '-n', ns, 'p', '-c', 'talker', '--tail=1']), 'tick\n');
    assert.match(await kubectl(['logs', '-n', ns, 'p', '-c', 'talker', '--since=1h']), /out-1\n/);
    assert.equal(await kubectl(['logs', '-n', ns, 'p', '-c', 'talker', `--since-time=${new Date(Date.now() + 3_600_000).toISOString()}`]), '');
    assert.match(await kubectl(['logs', '-n', ns, 'p', '-c', 'talker', '--timestamps', '--tail=1']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick\n$/);
    const followStart = Date.now();
    const followed = await kubectlStream(['logs', '-f', '-n', ns, 'p', '-c', 'talker', '--tail=0'], { until: /tick\n.*tick\n/s, timeoutMs: 20_000 });
    t.diagnostic(`logs -f: two new lines in ${Date.now() - followStart} ms`);
    assert.match(followed.out, /^tick\ntick\n/);

    // --previous: after the crasher restarted, its previous instance's output
    await n.waitForPod(ns, 'crash', (p) => (p.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1, 60_000, 'restarted once');
    const previous = await kubectl(['logs', '-n', ns, 'crash', '--previous']);
    assert.match(previous, /^run-[0-9a-f-]{36}\n$/);
    await assert.rejects(kubectl(['logs', '-n', ns, 'p', '-c', 'talker', '--previous']), /previous terminated container "talker" in pod "p" not found/);

    // exec, non-interactive and interactive
    assert.equal(await kubectl(['exec', '-n', ns, 'p', '-c', 'main', '--', 'sh', '-c', 'echo hello; echo oops >&2; id -u']), 'hello\n0\n');
    const interactive = await kubectlStream(['exec', '-i', '-n', ns, 'p', '-c', 'main', '--', 'sh', '-c', 'read a; read b; echo got-$a-$b'], { stdin: 'x\ny\n' });
    assert.equal(interactive.out, 'got-x-y\n', interactive.err);
    const failing = await kubectlStream(['exec', '-n', ns, 'p', '-c', 'main', '--', 'sh', '-c', 'exit 7']);
    assert.equal(failing.code, 7, 'the exit code reaches kubectl');

    // attach: the talker's live output
    const attached = await kubectlStream(['attach', '-n', ns, 'p', '-c', 'talker'], { until: /tick/, timeoutMs: 20_000 });
    assert.match(attached.out, /tick/);

    // port-forward: bytes both ways through the echo server
    const pf = spawn(KUBECTL, ['--kubeconfig', ADMIN_KUBECONFIG, 'port-forward', '-n', ns, 'pod/p', ':9090'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const localPort = await new Promise<number>((resolve, reject) => {
        let out = '';
        pf.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        pf.on('exit', (code) => reject(new Error(`kubectl port-forward exited ${code}: ${out}`)));
      });
      const payload = randomBytes(64 * 1024).toString('hex');
      const echoed = await new Promise<string>((resolve, reject) => {
        const s = connect(localPort, '127.0.0.1');
        let got = '';
        s.on('data', (d: Buffer) => {
          got += d.toString();
          if (got.length >= payload.length) {
            s.destroy();
            resolve(got);
          }
        });
        s.on('error', reject);
        s.write(payload);
        setTimeout(() => reject(new Error(`echo incomplete: ${got.length} of ${payload.length} bytes`)), 20_000).unref();
      });
      assert.equal(echoed, payload);
    } finally {
      pf.kill();
    }
  });
});

test('the kubelet API refuses anonymous and unauthorised callers, and never serves a swapped log file', { timeout: 180_000 }, async (t) => {
  const n = node!;
  await n.inNamespace(t, 'authz', async (ns) => {
    const port = n.harness.kubeletPort;
    const anonymous = await kubeletGet(port, '/pods');
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body, 'Unauthorized\n');
    assert.equal((await kubeletGet(port, '/metrics', { token: 'not-a-token' })).status, 401);
    const token = (await kubectl(['create', 'token', 'default', '-n', ns])).trim();
    const denied = await kubeletGet(port, '/pods', { token });
    assert.equal(denied.status, 403);
    assert.match(denied.body, new RegExp(`^Forbidden \\(user=system:serviceaccount:${ns}:default, verb=get, resource=nodes, subresource\\(s\\)=\\[pods proxy\\]\\)`));
    assert.doesNotMatch(JSON.stringify(n.harness.logLines), new RegExp(token.slice(-20)), 'the token is never logged');
    const [cert, key] = await Promise.all([readFile(`${PKI}/apiserver-kubelet-client.crt`, 'utf8'), readFile(`${PKI}/apiserver-kubelet-client.key`, 'utf8')]);
    const allowed = await kubeletGet(port, '/pods', { cert, key });
    assert.equal(allowed.status, 200, allowed.body);
    assert.equal(JSON.parse(allowed.body).kind, 'PodList');
    const configz = JSON.parse(await kubectl(['get', '--raw', `/api/v1/nodes/${n.nodeName}/proxy/configz`])) as { kubeletconfig: Record<string, unknown> };
    assert.equal(configz.kubeletconfig.port, port);
    assert.deepEqual(configz.kubeletconfig.authorization, { mode: 'Webhook', webhook: { cacheAuthorizedTTL: '5m0s', cacheUnauthorizedTTL: '30s' } });

    // A log file replaced by a symlink to a host file: an error, never the host file's content.
    await n.admin.request('POST', `/api/v1/namespaces/${ns}/pods`, {
      body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { nodeName: n.nodeName, terminationGracePeriodSeconds: 1, containers: [busybox('main', `echo hi; ${SLEEP_UNTIL_TERM}`)] } },
    });
    const pod = await n.waitForPod(ns, 'p', isRunningAndReady, START_TIMEOUT_MS, 'Running and Ready');
    await n.until(async () => (await kubectl(['logs', '-n', ns, 'p'])) === 'hi\n', 10_000, 'the log line');
    const logFile = `/var/log/pods/${ns}_p_${pod.metadata!.uid}/main/0.log`;
    await rename(logFile, `${logFile}.moved`);
    try {
      await symlink('/etc/passwd', logFile);
      const err = await kubectl(['logs', '-n', ns, 'p']).then((out) => `served: ${out}`, (e: Error) => e.message);
      assert.doesNotMatch(err, /root:/, 'the host file is never served');
      assert.match(err, /symlink|symbolic link|unsafe|not a regular file/i);
    } finally {
      await unlink(logFile).catch(() => {});
      await rename(`${logFile}.moved`, logFile);
    }
    const traversal = await kubeletGet(port, `/containerLogs/${ns}/p/..%2F..%2F..%2Fetc%2Fpasswd`, { cert, key });
    assert.equal(traversal.status, 404);
    assert.doesNotMatch(traversal.body, /root:/);
    const badQuery = await kubeletGet(port, `/containerLogs/${ns}/p/main?tailLines=-3`, { cert, key });
    assert.equal(badQuery.status, 400, badQuery.body);

    // A WebSocket client straight to the kubelet (kubectl itself speaks SPDY to the kubelet through
    // the API server): the upgrade is proxied to the runtime, which answers 101 and streams the output.
    const ws = await webSocketExec(port, `/exec/${ns}/p/main?command=echo&command=hello-ws&output=1&error=1`, { cert, key });
    assert.match(ws.head, /^HTTP\/1\.1 101 /);
    assert.match(ws.head, /sec-websocket-protocol: v4\.channel\.k8s\.io/i);
    assert.ok(ws.payload.includes('hello-ws'), `the command's output in the frames: ${JSON.stringify(ws.payload)}`);
    const wsDenied = await webSocketExec(port, `/exec/${ns}/p/main?command=true&output=1`, { token });
    assert.match(wsDenied.head, /^HTTP\/1\.1 403 /, 'an upgrade is authorized like any request');
  });
});

/** A raw WebSocket upgrade to the kubelet API (RFC 6455 handshake); resolves to the response head and what followed it. */
function webSocketExec(port: number, path: string, creds: { token?: string; cert?: string; key?: string }): Promise<{ head: string; payload: string }> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, cert: creds.cert, key: creds.key }, () => {
      s.write([
        `GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13',
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Protocol: v4.channel.k8s.io',
        ...(creds.token ? [`Authorization: Bearer ${creds.token}`] : []), '', '',
      ].join('\r\n'));
    });
    let data = Buffer.alloc(0);
    const done = (): void => {
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      resolve({ head: end < 0 ? text : text.slice(0, end), payload: end < 0 ? '' : text.slice(end + 4) });
    };
    s.on('data', (d: Buffer) => {
      data = Buffer.concat([data, d]);
      if (data.includes('hello-ws') || /^HTTP\/1\.1 [45]/.test(data.toString('latin1'))) {
        s.destroy();
        done();
      }
    });
    s.on('close', done);
    s.on('error', reject);
    setTimeout(() => {
      s.destroy();
      done();
    }, 15_000).unref();
  });
}
