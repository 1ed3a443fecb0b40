// The two ranges Service allocation draws from: the service CIDR (ClusterIPs) and the NodePort range.
// Pure: parsing, membership and offset arithmetic only. Both are seen as a run of `size` slots numbered
// from 0, which the store-backed allocator hands out.

import { isIPv4 } from '../../api/validation/names.js';

export const defaultServiceClusterIPRange = '10.43.0.0/16';
export const defaultServiceNodePortRange = '30000-32767';

/** A contiguous run of allocatable slots (IPs or ports) with their printable names. */
export interface SlotRange {
  /** Number of allocatable slots. */
  readonly size: number;
  /** The printable slot (an IP or a port number) at `offset` (0 ≤ offset < size). */
  nameAt(offset: number): string;
  /** The offset of a printable slot, or undefined when it is not in the range. */
  offsetOf(name: string): number | undefined;
  /** How the range reads in messages: `10.43.0.0/16`, `30000-32767`. */
  readonly label: string;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function intToIPv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** The service CIDR: usable addresses exclude the network and broadcast addresses, as upstream. */
export interface ServiceCIDR extends SlotRange {
  /** `10.43.0.0/16` (normalised: host bits cleared). */
  readonly cidr: string;
  /** The first usable address (`10.43.0.1`): the built-in `kubernetes` Service's ClusterIP. */
  readonly first: string;
}

/**
 * Parse `--service-cluster-ip-range`. IPv4 only, prefix /12 to /30 (upstream refuses ranges larger than
 * /12; /31 and /32 leave no usable address). Throws an Error naming the flag.
 */
export function parseServiceCIDR(text: string): ServiceCIDR {
  const flag = '--service-cluster-ip-range';
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text.trim());
  if (m === null || !isIPv4(m[1] ?? '')) {
    if (text.includes(':'))
      throw new Error(`${flag}: only IPv4 service ranges are supported; got ${JSON.stringify(text)}`);
    throw new Error(`${flag} must be an IPv4 CIDR such as 10.43.0.0/16; got ${JSON.stringify(text)}`);
  }
  const bits = Number(m[2]);
  if (bits < 12 || bits > 30)
    throw new Error(`${flag}: the prefix length must be between /12 and /30; got ${JSON.stringify(text)}`);
  const hostSize = 2 ** (32 - bits);
  const network = Math.floor(ipv4ToInt(m[1] ?? '') / hostSize) * hostSize;
  const cidr = `${intToIPv4(network)}/${bits}`;
  const size = hostSize - 2;
  return {
    cidr,
    label: cidr,
    size,
    first: intToIPv4(network + 1),
    nameAt: (offset) => intToIPv4(network + 1 + offset),
    offsetOf: (name) => {
      if (!isIPv4(name)) return undefined;
      const off = ipv4ToInt(name) - network - 1;
      return off >= 0 && off < size ? off : undefined;
    },
  };
}

export interface PortRange extends SlotRange {
  readonly min: number;
  readonly max: number;
}

/** Parse `--service-node-port-range` (`30000-32767`, or a single port). Throws an Error naming the flag. */
export function parsePortRange(text: string): PortRange {
  const flag = '--service-node-port-range';
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5})\s*)?$/.exec(text);
  const min = Number(m?.[1]);
  const max = m?.[2] === undefined ? min : Number(m[2]);
  if (m === null || min < 1 || max > 65535 || max < min)
    throw new Error(`${flag} must be a port range such as 30000-32767; got ${JSON.stringify(text)}`);
  const size = max - min + 1;
  return {
    min,
    max,
    size,
    label: `${min}-${max}`,
    nameAt: (offset) => String(min + offset),
    offsetOf: (name) => {
      if (!/^\d+$/.test(name)) return undefined;
      const n = Number(name);
      return n >= min && n <= max ? n - min : undefined;
    },
  };
}

/**
 * Upstream's split of a range into a low band (static, for addresses users pick) and a high band that
 * automatic allocation tries first: min(max(16, size/16), 256) slots at the bottom.
 */
export function dynamicBandStart(size: number): number {
  const offset = Math.min(Math.max(16, Math.floor(size / 16)), 256);
  return offset >= size ? 0 : offset;
}
