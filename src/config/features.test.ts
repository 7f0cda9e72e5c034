import { test } from 'node:test';
import assert from 'node:assert/strict';
import { featureEnabled, featureGateProblems, parseFeatureGatePairs } from './features.ts';

void test('featureEnabled: the configured value, else the gate default', () => {
  assert.equal(featureEnabled({}, 'QOSReserved'), false);
  assert.equal(featureEnabled({ QOSReserved: true }, 'QOSReserved'), true);
  assert.equal(featureEnabled({}, 'SidecarContainers'), true);
  assert.equal(featureEnabled({}, 'toString'), false);
});

void test('featureGateProblems: upstream SetFromMap refusals', () => {
  assert.deepEqual(featureGateProblems({ QOSReserved: true, SidecarContainers: true }), []);
  assert.deepEqual(featureGateProblems({ Foo: true, constructor: false }), ['unrecognized feature gate: Foo', 'unrecognized feature gate: constructor']);
  assert.deepEqual(featureGateProblems({ SidecarContainers: false }), ['cannot set feature gate SidecarContainers to false, feature is locked to true']);
});

void test('parseFeatureGatePairs: A=true,B=false with Go booleans', () => {
  assert.deepEqual(parseFeatureGatePairs('QOSReserved=true, SidecarContainers = T'), { QOSReserved: true, SidecarContainers: true });
  assert.deepEqual(parseFeatureGatePairs(''), {});
  assert.equal(parseFeatureGatePairs('A'), undefined);
  assert.equal(parseFeatureGatePairs('A=yes'), undefined);
});
