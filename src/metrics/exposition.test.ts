import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeLabelValue, formatGoFloat, renderFamilies } from './exposition.ts';

test('numbers are written as Go strconv g -1 does', () => {
  const cases: [number, string][] = [
    [0, '0'],
    [1, '1'],
    [-1, '-1'],
    [100, '100'],
    [123456, '123456'],
    [1e6, '1e+06'],
    [1234567, '1.234567e+06'],
    [1452863488, '1.452863488e+09'],
    [1725607671.3245094, '1.7256076713245094e+09'],
    [71.700298093, '71.700298093'],
    [0.0001, '0.0001'],
    [0.00001, '1e-05'],
    [1.5e-7, '1.5e-07'],
    [1e21, '1e+21'],
    [-2.5e10, '-2.5e+10'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ];
  for (const [v, want] of cases) assert.equal(formatGoFloat(v), want, `formatGoFloat(${v})`);
});

test('label values are escaped', () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
});

test('families sorted by name, series by label values, timestamps in ms, empty families left out', () => {
  const text = renderFamilies([
    { name: 'pod_x', help: 'help of x', type: 'gauge', samples: [] },
    {
      name: 'container_b',
      help: '[STABLE] b',
      type: 'counter',
      samples: [
        { labels: { pod: 'p2', container: 'c', namespace: 'n' }, value: 2, timestampMs: 1700000000123.9 },
        { labels: { pod: 'p1', container: 'c', namespace: 'n' }, value: 1e9, timestampMs: 1700000000123 },
      ],
    },
    { name: 'a_total', help: 'line1\nline2', type: 'gauge', samples: [{ value: 0 }] },
  ]);
  assert.equal(
    text,
    '# HELP a_total line1\\nline2\n# TYPE a_total gauge\na_total 0\n' +
      '# HELP container_b [STABLE] b\n# TYPE container_b counter\n' +
      'container_b{container="c",namespace="n",pod="p1"} 1e+09 1700000000123\n' +
      'container_b{container="c",namespace="n",pod="p2"} 2 1700000000123\n',
  );
});
