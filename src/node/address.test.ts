import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultRouteInterface, nodeAddress, nodeAddresses, parseNodeIPs } from './address.ts';

const ROUTES = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
cni0	0000580A	00000000	0001	0	0	0	0000FFFF	0	0	0
eth0	00000000	010200C0	0003	0	0	0	00000000	0	0	0
eth0	000200C0	00000000	0001	0	0	0	00FFFFFF	0	0	0
`;

test('defaultRouteInterface: the interface of 0.0.0.0/0', () => {
  assert.equal(defaultRouteInterface(ROUTES), 'eth0');
  assert.equal(defaultRouteInterface(ROUTES.split('\n').filter((l) => !l.includes('010200C0')).join('\n')), undefined);
});

test('parseNodeIPs: comma-separated, unspecified addresses dropped', () => {
  assert.deepEqual(parseNodeIPs(''), []);
  assert.deepEqual(parseNodeIPs('10.0.0.1, fd00::1'), ['10.0.0.1', 'fd00::1']);
  assert.deepEqual(parseNodeIPs('0.0.0.0'), []);
});

test('nodeAddress: --node-ip first, then a host name that is an IP, then detection', () => {
  assert.equal(nodeAddress('10.0.0.1,fd00::1'), '10.0.0.1');
  assert.equal(nodeAddress('', '10.1.2.3'), '10.1.2.3');
  const detected = nodeAddress('', 'node-a');
  assert.match(detected, /^\d+\.\d+\.\d+\.\d+$/);
});

test('nodeAddresses: InternalIP(s) then Hostname', () => {
  assert.deepEqual(nodeAddresses('10.0.0.1', 'n'), [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'n' }]);
  assert.deepEqual(nodeAddresses('10.0.0.1,fd00::1', 'n'), [
    { type: 'InternalIP', address: '10.0.0.1' },
    { type: 'InternalIP', address: 'fd00::1' },
    { type: 'Hostname', address: 'n' },
  ]);
});
