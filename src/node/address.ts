// The node's own addresses, for status.hostIP and the Node's status.addresses.
// As upstream (nodestatus.NodeAddress, utilnet.ChooseHostInterface): --node-ip when given (its
// first entry is the primary address); otherwise the host name when it is an IP address;
// otherwise the first global IPv4 address of the interface that holds the default route
// (/proc/net/route); otherwise the first non-loopback IPv4 address of an interface that is not a
// pod network bridge or veth; 127.0.0.1 as a last resort. Upstream also tries a DNS lookup of
// the node name before the default route; tskubelet does not (it would block start-up on a
// machine without DNS).
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { NodeAddress } from './types.ts';

const POD_NETWORK_INTERFACE = /^(cni|veth|flannel|cali|docker|kube-bridge)/;

/** --node-ip split into its addresses (at most one per family, validated by the config). */
export function parseNodeIPs(nodeIP: string): string[] {
  return nodeIP
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== '0.0.0.0' && s !== '::');
}

/** The interface of the IPv4 default route in a /proc/net/route text; undefined when none. */
export function defaultRouteInterface(routeTable: string): string | undefined {
  for (const line of routeTable.split('\n').slice(1)) {
    const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (iface && destination === '00000000' && mask === '00000000') return iface;
  }
  return undefined;
}

function firstIPv4(iface: string | undefined): string | undefined {
  if (!iface) return undefined;
  for (const a of networkInterfaces()[iface] ?? []) {
    if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return a.address;
  }
  return undefined;
}

function defaultRouteAddress(): string | undefined {
  try {
    return firstIPv4(defaultRouteInterface(readFileSync('/proc/net/route', 'utf8')));
  } catch {
    return undefined;
  }
}

/** The node's primary IP. `hostname` is used when it is itself an IP address. */
export function nodeAddress(nodeIP: string, hostname = ''): string {
  const given = parseNodeIPs(nodeIP)[0];
  if (given) return given;
  if (isIP(hostname)) return hostname;
  const viaRoute = defaultRouteAddress();
  if (viaRoute) return viaRoute;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (POD_NETWORK_INTERFACE.test(name)) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/**
 * status.addresses as upstream: InternalIP (both when --node-ip names two families), then
 * Hostname.
 */
export function nodeAddresses(nodeIP: string, hostname: string): NodeAddress[] {
  const given = parseNodeIPs(nodeIP);
  const internal = given.length === 2 ? given : [nodeAddress(nodeIP, hostname)];
  return [...internal.map((address): NodeAddress => ({ type: 'InternalIP', address })), { type: 'Hostname', address: hostname }];
}
