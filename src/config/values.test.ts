import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatGoDuration,
  isAllowedNodeLabelKey,
  isCleanAbsolutePath,
  isDns1123Subdomain,
  isLabelValue,
  isNodeIPList,
  isNonNegativeQuantity,
  isQualifiedName,
  parseGoBool,
  parseDecimalInt,
  parseGoDuration,
  parseKeyValuePairs,
  parseTaintList,
} from './values.ts';

void test('parseGoDuration accepts Go duration strings', () => {
  const cases: [string, number][] = [
    ['20s', 20_000], ['1m', 60_000], ['1m30s', 90_000], ['500ms', 500], ['2h', 7_200_000],
    ['1.5h', 5_400_000], ['.5s', 500], ['1.s', 1000], ['0', 0], ['-1s', -1000], ['+2s', 2000],
    ['1h2m3s4ms', 3_723_004], ['1500us', 1.5], ['1µs', 0.001], ['1μs', 0.001], ['1000000ns', 1], ['0s', 0],
    ['1.1s', 1100],
  ];
  for (const [text, ms] of cases) assert.equal(parseGoDuration(text), ms, text);
});

void test('parseGoDuration rejects malformed strings', () => {
  for (const text of ['', '20', 's', '.s', '1 s', '1S', '1d', '1mss', '-', '+', '1h 2m', ' 1s', '1s ', 'abc', '10e3s', '1,5s', '3000000h']) {
    assert.equal(parseGoDuration(text), undefined, JSON.stringify(text));
  }
});

void test('formatGoDuration prints as Go does', () => {
  assert.equal(formatGoDuration(20_000), '20s');
  assert.equal(formatGoDuration(60_000), '1m0s');
  assert.equal(formatGoDuration(120_000), '2m0s');
  assert.equal(formatGoDuration(90_500), '1m30.5s');
  assert.equal(formatGoDuration(7_200_000), '2h0m0s');
  assert.equal(formatGoDuration(500), '500ms');
  assert.equal(formatGoDuration(0), '0s');
  for (const ms of [20_000, 90_500, 7_200_000, 500, 3_723_004]) assert.equal(parseGoDuration(formatGoDuration(ms)), ms);
});

void test('bool and int parsing follow strconv', () => {
  assert.equal(parseGoBool('true'), true);
  assert.equal(parseGoBool('T'), true);
  assert.equal(parseGoBool('0'), false);
  assert.equal(parseGoBool('False'), false);
  assert.equal(parseGoBool('yes'), undefined);
  assert.equal(parseGoBool(''), undefined);
  assert.equal(parseDecimalInt('42'), 42);
  assert.equal(parseDecimalInt('-1'), -1);
  assert.equal(parseDecimalInt('1.5'), undefined);
  assert.equal(parseDecimalInt('0x10'), undefined);
  assert.equal(parseDecimalInt(''), undefined);
  assert.equal(parseDecimalInt('99999999999999999999'), undefined);
});

void test('key=value pairs and taints', () => {
  assert.deepEqual(parseKeyValuePairs('a=1, b = 2,c='), { a: '1', b: '2', c: '' });
  assert.deepEqual(parseKeyValuePairs(''), {});
  assert.equal(parseKeyValuePairs('a=1,b'), undefined);
  assert.deepEqual(parseTaintList('k=v:NoSchedule,dedicated:NoExecute'), [
    { key: 'k', value: 'v', effect: 'NoSchedule' },
    { key: 'dedicated', value: '', effect: 'NoExecute' },
  ]);
  assert.equal(parseTaintList('k=v'), undefined);
  assert.equal(parseTaintList('k=v:Sometimes'), undefined);
});

void test('quantities, names, labels, IPs, paths', () => {
  for (const q of ['10Mi', '1G', '500k', '1.5Gi', '0', '1e3', '100']) assert.ok(isNonNegativeQuantity(q), q);
  for (const q of ['', '-1Mi', '10MB', 'Mi', '10 Mi', '1.2.3']) assert.ok(!isNonNegativeQuantity(q), q);
  assert.ok(isDns1123Subdomain('node-1.example.com'));
  assert.ok(!isDns1123Subdomain('Node1'));
  assert.ok(!isDns1123Subdomain('node_1'));
  assert.ok(!isDns1123Subdomain('-node'));
  assert.ok(!isDns1123Subdomain(''));
  assert.ok(!isDns1123Subdomain('a'.repeat(254)));
  assert.ok(isQualifiedName('example.com/role'));
  assert.ok(isQualifiedName('role'));
  assert.ok(!isQualifiedName('a/b/c'));
  assert.ok(!isQualifiedName('Example.com/role'));
  assert.ok(!isQualifiedName('-role'));
  assert.ok(isLabelValue(''));
  assert.ok(!isLabelValue('a b'));
  assert.ok(isAllowedNodeLabelKey('node-role.kubernetes.io/worker') === false);
  assert.ok(isAllowedNodeLabelKey('node.kubernetes.io/role'));
  assert.ok(isAllowedNodeLabelKey('topology.kubernetes.io/zone'));
  assert.ok(isAllowedNodeLabelKey('example.com/x'));
  assert.ok(!isAllowedNodeLabelKey('k8s.io/x'));
  assert.ok(isNodeIPList('10.0.0.1'));
  assert.ok(isNodeIPList('10.0.0.1,fd00::1'));
  assert.ok(!isNodeIPList('10.0.0.1,10.0.0.2'));
  assert.ok(!isNodeIPList('host'));
  assert.ok(isCleanAbsolutePath('/var/log/pods'));
  assert.ok(isCleanAbsolutePath('/'));
  assert.ok(!isCleanAbsolutePath('var/log'));
  assert.ok(!isCleanAbsolutePath('/var/log/'));
  assert.ok(!isCleanAbsolutePath('/var/../log'));
});
