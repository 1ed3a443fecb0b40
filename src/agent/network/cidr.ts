// IPv4 CIDR arithmetic for the node's pod range: the subnet, its gateway (.1) and membership.

import { PodNetworkError } from './errors.js';

export interface Ipv4Cidr {
  /** Network address, dotted quad (host bits cleared). */
  network: string;
  prefixLength: number;
  /** First usable address: the bridge's address and the pods' default gateway. */
  gateway: string;
  /** `network/prefixLength`. */
  subnet: string;
}

export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

/** Parses `a.b.c.d/n` (n from 8 to 30: a pod range needs a gateway and at least one pod address). */
export function parseIpv4Cidr(text: string): Ipv4Cidr {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  const address = match?.[1] === undefined ? undefined : parseIpv4(match[1]);
  const prefixLength = match?.[2] === undefined ? NaN : Number(match[2]);
  if (address === undefined || !(prefixLength >= 8 && prefixLength <= 30)) {
    throw new PodNetworkError(
      'InvalidConfig',
      `podCidr "${text}" is not an IPv4 CIDR with a prefix from /8 to /30`,
    );
  }
  const mask = prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
  const network = (address & mask) >>> 0;
  return {
    network: formatIpv4(network),
    prefixLength,
    gateway: formatIpv4(network + 1),
    subnet: `${formatIpv4(network)}/${prefixLength}`,
  };
}

export function cidrContains(cidr: Ipv4Cidr, ip: string): boolean {
  const value = parseIpv4(ip);
  const network = parseIpv4(cidr.network);
  if (value === undefined || network === undefined) return false;
  const mask = (0xffffffff << (32 - cidr.prefixLength)) >>> 0;
  return (value & mask) >>> 0 === network;
}

/**
 * A fixed, locally administered MAC for a bridge whose address is `ip`: 0a:58 followed by the address's
 * four bytes (the form Kubernetes networking uses). A Linux bridge without a set MAC takes the lowest
 * MAC of its ports and changes it as pods come and go; the pods' cached gateway MAC then goes stale and
 * their replies to the node are lost until ARP notices.
 */
export function bridgeMacFor(ip: string): string {
  const value = parseIpv4(ip);
  if (value === undefined) throw new PodNetworkError('InvalidConfig', `"${ip}" is not an IPv4 address`);
  const bytes = [0x0a, 0x58, value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
