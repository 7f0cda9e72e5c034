// The node's own address, for status.hostIP: --node-ip when given, otherwise the first
// non-loopback IPv4 address of an interface that is not a pod network bridge or veth.
import { networkInterfaces } from 'node:os';

const POD_NETWORK_INTERFACE = /^(cni|veth|flannel|cali|docker|kube-bridge)/;

export function nodeAddress(nodeIP: string): string {
  if (nodeIP) return nodeIP;
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (POD_NETWORK_INTERFACE.test(name)) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
