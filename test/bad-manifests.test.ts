// Bad manifests next to good ones: the good pods run, each bad file is logged with its reason
// and gives no pod; fixing a file starts its pod (integration).
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { BUSYBOX_IMAGE, SLEEP_UNTIL_TERM, assertNodeReady, poll, type Harness, type LogRecord, withKubelet } from './harness.ts';

before(assertNodeReady);

const pod = (name: string, opts: { image?: string; restartPolicy?: string } = {}): string => `
apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  restartPolicy: ${opts.restartPolicy ?? 'Always'}
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
${opts.image === '' ? '' : `    image: ${opts.image ?? BUSYBOX_IMAGE}\n`}    command: ["sh", "-c", ${JSON.stringify(SLEEP_UNTIL_TERM)}]
`;

/** The error records logged for a manifest file. */
const errorsFor = (h: Harness, file: string): LogRecord[] =>
  h.logRecords().filter((r) => r.level === 50 && r.file === file && r.msg === 'invalid static pod manifest, ignored');

test('invalid manifests are logged and ignored while the valid ones run; fixing a file starts its pod', (t) =>
  withKubelet(t, async (h) => {
    const goodFile = await h.writeManifest('good.yaml', pod('good'));
    const yamlFile = await h.writeManifest('broken-yaml.yaml', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: brokenyaml\nspec: [unclosed\n');
    const noImageFile = await h.writeManifest('no-image.yaml', pod('noimage', { image: '' }));
    const policyFile = await h.writeManifest('bad-policy.yaml', pod('badpolicy', { restartPolicy: 'Sometimes' }));
    const badFiles = [yamlFile, noImageFile, policyFile];

    await h.waitForPod('good', (p) => p.status?.phase === 'Running', 30_000, 'Running');
    // Each bad file is named in an error line with its reason.
    const reasons = await poll(
      () => (badFiles.every((f) => errorsFor(h, f).length > 0) ? badFiles.map((f) => String(errorsFor(h, f)[0]!.reason)) : undefined),
      5_000,
      'an error log line for each bad file',
      () => h.logTail(30),
    );
    assert.match(reasons[0]!, /YAML|parse/i, `reason for ${yamlFile}: ${reasons[0]}`);
    assert.match(reasons[1]!, /spec\.containers\[0\]\.image: required/, `reason for ${noImageFile}: ${reasons[1]}`);
    assert.match(reasons[2]!, /spec\.restartPolicy: unsupported value "Sometimes"/, `reason for ${policyFile}: ${reasons[2]}`);
    for (const [i, f] of badFiles.entries()) assert.ok(reasons[i]!.includes(f), `the reason names the file ${f}: ${reasons[i]}`);
    assert.equal(errorsFor(h, goodFile).length, 0);

    // The bad pods never show up: not on /pods, not in the runtime (sampled for a second).
    const goodName = h.podName('good');
    const until = Date.now() + 1_000;
    while (Date.now() < until) {
      const names = (await h.getPods()).map((p) => p.metadata?.name);
      assert.deepEqual(names, [goodName]);
      const left = await h.runtimeLeftovers();
      assert.deepEqual([...new Set(left.sandboxes.map((s) => s.metadata?.name))], [goodName]);
      await new Promise((r) => setTimeout(r, 150));
    }
    // Logged once, not at every rescan.
    for (const f of badFiles) assert.equal(errorsFor(h, f).length, 1, `one error line for ${f}`);

    // Fixing the files starts their pods; the good pod is untouched.
    const goodBefore = (await h.getPod('good'))!.status!.containerStatuses![0]!.containerID;
    await h.writeManifest('no-image.yaml', pod('noimage'));
    await h.writeManifest('bad-policy.yaml', pod('badpolicy', { restartPolicy: 'OnFailure' }));
    await h.writeManifest('broken-yaml.yaml', pod('brokenyaml'));
    for (const name of ['noimage', 'badpolicy', 'brokenyaml']) await h.waitForPod(name, (p) => p.status?.phase === 'Running', 30_000, 'Running after its manifest was fixed');
    const goodAfter = (await h.getPod('good'))!.status!.containerStatuses![0]!;
    assert.equal(goodAfter.containerID, goodBefore);
    assert.equal(goodAfter.restartCount, 0);
    for (const f of badFiles) {
      assert.ok(h.logRecords().some((r) => r.file === f && r.msg === 'static pod manifest is valid again'), `'valid again' logged for ${f}`);
    }
  }));
