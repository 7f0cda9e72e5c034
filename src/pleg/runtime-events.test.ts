import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEnvelope, encodeSubscribeRequest } from './runtime-events.ts';

test('encodeSubscribeRequest: one length-delimited field 1 per filter', () => {
  assert.deepEqual(encodeSubscribeRequest(['ab', 'c']), Buffer.from([0x0a, 2, 0x61, 0x62, 0x0a, 1, 0x63]));
  assert.equal(encodeSubscribeRequest([]).length, 0);
  const long = 'x'.repeat(200);
  assert.deepEqual(encodeSubscribeRequest([long]).subarray(0, 3), Buffer.from([0x0a, 0xc8, 0x01]));
});

test('decodeEnvelope: namespace and topic; other fields skipped; malformed input throws', () => {
  const ts = Buffer.from([0x0a, 4, 0x08, 0x96, 0x01, 0x10]); // timestamp { seconds: 150, ... } (4 bytes, content not read)
  const ns = Buffer.concat([Buffer.from([0x12, 6]), Buffer.from('k8s.io')]);
  const topic = Buffer.concat([Buffer.from([0x1a, 11]), Buffer.from('/tasks/exit')]);
  const any = Buffer.from([0x22, 2, 0x0a, 0x00]);
  const fixed = Buffer.from([0x29, 1, 2, 3, 4, 5, 6, 7, 8]); // field 5, wire type 1 (8 bytes)
  assert.deepEqual(decodeEnvelope(Buffer.concat([ts, ns, topic, any, fixed])), { namespace: 'k8s.io', topic: '/tasks/exit' });
  assert.throws(() => decodeEnvelope(Buffer.from([0x1a, 20, 0x2f])), /truncated/);
  assert.throws(() => decodeEnvelope(Buffer.from([0x1b])), /wire type 3/);
  assert.throws(() => decodeEnvelope(Buffer.from([0x08, 0x80])), /truncated varint/);
});
