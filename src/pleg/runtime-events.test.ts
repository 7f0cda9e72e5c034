import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSubscribeRequest, isContainerEvent, lengthDelimitedFields } from './runtime-events.ts';

/** One length-delimited field (short values only). */
const ld = (field: number, value: Buffer | string): Buffer => {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value);
  return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
};

const envelope = (topic: string, event: Buffer): Buffer =>
  Buffer.concat([ld(1, Buffer.from([0x08, 0x96, 0x01])), ld(2, 'k8s.io'), ld(3, topic), ld(4, Buffer.concat([ld(1, 'containerd.events.TaskExit'), ld(2, event)]))]);

test('encodeSubscribeRequest: one length-delimited field 1 per filter', () => {
  assert.deepEqual(encodeSubscribeRequest(['ab', 'c']), Buffer.from([0x0a, 2, 0x61, 0x62, 0x0a, 1, 0x63]));
  assert.equal(encodeSubscribeRequest([]).length, 0);
  assert.deepEqual(encodeSubscribeRequest(['x'.repeat(200)]).subarray(0, 3), Buffer.from([0x0a, 0xc8, 0x01]));
});

test('lengthDelimitedFields: strings and messages by number; varint and fixed fields skipped; malformed input throws', () => {
  const fixed64 = Buffer.from([0x29, 1, 2, 3, 4, 5, 6, 7, 8]);
  const varintField = Buffer.from([0x18, 0x96, 0x01]);
  const f = lengthDelimitedFields(Buffer.concat([ld(2, 'k8s.io'), fixed64, varintField, ld(7, '/tasks/exit')]));
  assert.equal(f.get(2)?.toString(), 'k8s.io');
  assert.equal(f.get(7)?.toString(), '/tasks/exit');
  assert.equal(f.size, 2);
  assert.throws(() => lengthDelimitedFields(Buffer.from([0x1a, 20, 0x2f])), /truncated/);
  assert.throws(() => lengthDelimitedFields(Buffer.from([0x1b])), /wire type 3/);
  assert.throws(() => lengthDelimitedFields(Buffer.from([0x08, 0x80])), /truncated varint/);
});

test('isContainerEvent: a container\'s own exit and an OOM count; an exec\'d process\'s exit does not', () => {
  const exit = (containerId: string, id: string): Buffer => Buffer.concat([ld(1, containerId), ld(2, id), Buffer.from([0x18, 0x2a])]);
  assert.equal(isContainerEvent(envelope('/tasks/exit', exit('abc', 'abc'))), true);
  assert.equal(isContainerEvent(envelope('/tasks/exit', exit('abc', 'exec-123'))), false);
  assert.equal(isContainerEvent(envelope('/tasks/oom', ld(1, 'abc'))), true);
  assert.equal(isContainerEvent(envelope('/tasks/start', exit('abc', 'abc'))), false);
  assert.equal(isContainerEvent(envelope('/tasks/exit', Buffer.alloc(0))), false);
});
