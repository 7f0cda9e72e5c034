import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isInvalidInput } from '../common/errors.ts';
import { bitString, context0, directoryString, integer, oid, readChildren, readElement, sequence, set, tlv } from './der.ts';

const hex = (b: Buffer): string => b.toString('hex');

test('lengths: short form below 128, long form above', () => {
  assert.equal(hex(tlv(0x04, Buffer.alloc(127))).slice(0, 4), '047f');
  assert.equal(hex(tlv(0x04, Buffer.alloc(128))).slice(0, 6), '048180');
  assert.equal(hex(tlv(0x04, Buffer.alloc(300))).slice(0, 8), '0482012c');
  assert.equal(tlv(0x04, Buffer.alloc(70_000)).length, 70_000 + 5);
});

test('integers: minimal, with a leading zero when the top bit is set', () => {
  assert.equal(hex(integer(0)), '020100');
  assert.equal(hex(integer(127)), '02017f');
  assert.equal(hex(integer(128)), '02020080');
  assert.equal(hex(integer(256)), '02020100');
  assert.equal(hex(integer(2n ** 64n)), '0209010000000000000000');
  assert.throws(() => integer(-1), isInvalidInput);
});

test('object identifiers as X.690 encodes them', () => {
  assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302'); // ecdsa-with-SHA256
  assert.equal(hex(oid('1.2.840.113549.1.9.14')), '06092a864886f70d01090e'); // extensionRequest
  assert.equal(hex(oid('2.5.29.17')), '0603551d11'); // subjectAltName
  assert.equal(hex(oid('2.5.4.3')), '0603550403'); // commonName
  for (const bad of ['', '1', '3.1', '1.40', '1.2.x', '1..2']) assert.throws(() => oid(bad), isInvalidInput, bad);
});

test('strings: PrintableString when possible, UTF8String otherwise', () => {
  assert.equal(hex(directoryString('system:node:a-1.b')), `1311${Buffer.from('system:node:a-1.b').toString('hex')}`);
  assert.equal(directoryString('a_b')[0], 0x0c); // '_' is not printable
  assert.equal(directoryString('ü')[0], 0x0c);
});

test('SET OF sorts its elements; BIT STRING has no unused bits; [0] may be empty', () => {
  assert.equal(hex(set(Buffer.from('0402bbbb', 'hex'), Buffer.from('0401aa', 'hex'))), '31070401aa0402bbbb');
  assert.equal(hex(bitString(Buffer.from('ff', 'hex'))), '030200ff');
  assert.equal(hex(context0()), 'a000');
});

test('reader takes apart what the writer built', () => {
  const inner = [integer(5), oid('2.5.4.10'), bitString(Buffer.alloc(200, 1))];
  const der = sequence(...inner);
  const outer = readElement(der);
  assert.equal(outer.tag, 0x30);
  assert.deepEqual(
    readChildren(outer.contents).map((e) => hex(e.encoded)),
    inner.map(hex),
  );
  assert.throws(() => readElement(der.subarray(0, der.length - 1)), isInvalidInput);
  assert.throws(() => readElement(Buffer.from('1f0100', 'hex')), isInvalidInput);
  assert.throws(() => readElement(Buffer.from('30', 'hex')), isInvalidInput);
});
