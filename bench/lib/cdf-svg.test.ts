import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cdfPoints, escapeXml, niceTicks, renderCdfSvg } from './cdf-svg.ts';

test('cdfPoints sorts and ranks, ignoring NaN', () => {
  assert.deepEqual(cdfPoints([30, Number.NaN, 10, 20, 40]), [{ x: 10, y: 0.25 }, { x: 20, y: 0.5 }, { x: 30, y: 0.75 }, { x: 40, y: 1 }]);
  assert.deepEqual(cdfPoints([]), []);
});

test('niceTicks covers the maximum with round steps', () => {
  assert.deepEqual(niceTicks(950), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(niceTicks(10), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0), [0, 1]);
  const t = niceTicks(3456);
  assert.ok((t[t.length - 1] as number) >= 3456);
});

test('escapeXml escapes markup', () => {
  assert.equal(escapeXml('a < b & "c" > d'), 'a &lt; b &amp; &quot;c&quot; &gt; d');
});

test('renderCdfSvg draws one path per series with data, a legend and escaped titles', () => {
  const svg = renderCdfSvg('T <1>', 'sub', [
    { title: 'burst & co', unit: 'ms', series: [{ name: 'upstream', color: '#00f', values: [1, 2, 3] }, { name: 'tskubelet', color: '#f00', values: [2, 4] }] },
    { title: 'empty', unit: 'ms', series: [{ name: 'upstream', color: '#00f', values: [] }] },
  ]);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.equal(svg.match(/<path /g)?.length, 2);
  assert.ok(svg.includes('T &lt;1&gt;'));
  assert.ok(svg.includes('burst &amp; co'));
  assert.ok(svg.includes('>upstream<') && svg.includes('>tskubelet<'));
});
