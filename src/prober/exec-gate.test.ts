import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../common/clock.ts';
import type { ExecRunner } from './exec.ts';
import { ExecGate } from './exec-gate.ts';

const flush = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

/** A runtime whose execs finish only when the test says so; records the order they started in. */
class HeldRuntime implements ExecRunner {
  started: string[] = [];
  private readonly pending = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  execSync(containerId: string): ReturnType<ExecRunner['execSync']> {
    this.started.push(containerId);
    return new Promise((resolve, reject) => {
      this.pending.set(containerId, { resolve: () => resolve({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 }), reject });
    });
  }
  finish(id: string): void {
    this.pending.get(id)!.resolve();
  }
  fail(id: string): void {
    this.pending.get(id)!.reject(new Error('runtime said no'));
  }
}

const setup = (limit: number): { clock: FakeClock; rt: HeldRuntime; gate: ExecGate } => {
  const clock = new FakeClock();
  const rt = new HeldRuntime();
  return { clock, rt, gate: new ExecGate(rt, { limit, releaseAfterMs: 1000, clock }) };
};

void test('at most `limit` execs run at once; the rest start first come first served as places free up', async () => {
  const { rt, gate } = setup(2);
  const done = ['a', 'b', 'c', 'd'].map((id) => gate.execSync(id, ['true'], 1).then(() => 'ok', () => 'failed'));
  await flush();
  assert.deepEqual(rt.started, ['a', 'b']);
  assert.equal(gate.queued, 2);
  rt.finish('b');
  await flush();
  assert.deepEqual(rt.started, ['a', 'b', 'c']);
  rt.fail('a'); // a failed exec frees its place too
  await flush();
  assert.deepEqual(rt.started, ['a', 'b', 'c', 'd']);
  rt.finish('c');
  rt.finish('d');
  assert.deepEqual(await Promise.all(done), ['failed', 'ok', 'ok', 'ok']);
  assert.equal(gate.queued, 0);
});

void test('an exec slower than releaseAfterMs stops counting, so a hanging probe does not hold back the others', async () => {
  const { clock, rt, gate } = setup(1);
  const slow = gate.execSync('hangs', ['sleep', '30'], 30);
  const next = gate.execSync('quick', ['true'], 1);
  await flush();
  assert.deepEqual(rt.started, ['hangs']);
  clock.advance(999);
  await flush();
  assert.deepEqual(rt.started, ['hangs']);
  clock.advance(1);
  await flush();
  assert.deepEqual(rt.started, ['hangs', 'quick']);
  // The slow one ending later does not free a second place: one exec in flight at most still.
  rt.finish('hangs');
  await slow;
  const third = gate.execSync('third', ['true'], 1);
  await flush();
  assert.deepEqual(rt.started, ['hangs', 'quick']);
  rt.finish('quick');
  await next;
  await flush();
  assert.deepEqual(rt.started, ['hangs', 'quick', 'third']);
  rt.finish('third');
  await third;
});

void test('a probe aborted while it waits leaves the queue without running', async () => {
  const { rt, gate } = setup(1);
  const first = gate.execSync('a', ['true'], 1);
  const ctl = new AbortController();
  const waiting = gate.execSync('b', ['true'], 1, ctl.signal);
  const after = gate.execSync('c', ['true'], 1);
  await flush();
  ctl.abort(new DOMException('pod removed', 'AbortError'));
  await assert.rejects(waiting, { name: 'AbortError' });
  assert.equal(gate.queued, 1);
  rt.finish('a');
  await first;
  await flush();
  assert.deepEqual(rt.started, ['a', 'c']);
  rt.finish('c');
  await after;
  await assert.rejects(gate.execSync('d', ['true'], 1, AbortSignal.abort()), { name: 'AbortError' });
  assert.deepEqual(rt.started, ['a', 'c']);
});
