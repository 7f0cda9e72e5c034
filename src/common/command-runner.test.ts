import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { CommandRunner } from './command-runner.ts';
import { isInvalidInput, isTransient } from './errors.ts';

void test('arguments reach the command verbatim: spaces, quotes, $, globs, newlines, empty ones', async () => {
  const r = new CommandRunner();
  const args = ['a b', `it's "quoted"`, '$HOME $(id) `id`', '*', 'line1\nline2', '', '-n'];
  const res = await r.run('printf', ['[%s]', ...args], 5000);
  assert.deepEqual(res, { exitCode: 0, output: args.map((a) => `[${a}]`).join('') });
  r.close();
});

void test('exit status and output (stdout and stderr together) come back; a missing command is 127', async () => {
  const r = new CommandRunner();
  assert.deepEqual(await r.run('sh', ['-c', 'echo out; echo err >&2; exit 3'], 5000), { exitCode: 3, output: 'out\nerr' });
  const missing = await r.run('no-such-command-here', [], 5000);
  assert.equal(missing.exitCode, 127);
  assert.match(missing.output, /not found/);
  r.close();
});

void test('calls made together run one at a time, in call order', async () => {
  const r = new CommandRunner();
  const results = await Promise.all([0, 1, 2, 3].map((i) => r.run('sh', ['-c', `sleep 0.0${3 - i}; echo ${i}`], 5000)));
  assert.deepEqual(results.map((x) => x.output), ['0', '1', '2', '3']);
  r.close();
});

void test('a command past its timeout is killed with the helper; the next call gets a new helper', async () => {
  const r = new CommandRunner();
  const marker = `/tmp/command-runner-test-${process.pid}`;
  const started = Date.now();
  await assert.rejects(r.run('sh', ['-c', `sleep 2; touch ${marker}`], 200), (err: unknown) => isTransient(err) && /did not finish within 200 ms/.test(String(err)));
  assert.ok(Date.now() - started < 1500);
  assert.deepEqual(await r.run('echo', ['again'], 5000), { exitCode: 0, output: 'again' });
  await new Promise((resolve) => setTimeout(resolve, 2500));
  assert.equal(existsSync(marker), false, 'the timed-out command was killed, not left running');
  r.close();
});

void test('an argument with a NUL byte is refused without running anything', async () => {
  const r = new CommandRunner();
  await assert.rejects(r.run('echo', ['a\0b'], 5000), (err: unknown) => isInvalidInput(err));
  assert.deepEqual(await r.run('echo', ['ok'], 5000), { exitCode: 0, output: 'ok' });
  r.close();
});
