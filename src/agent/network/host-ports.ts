// hostPort conflicts. CNI portmap 1.1.1 does not detect them: a second mapping of the same port just adds
// a second DNAT rule that never matches, and a port a host process listens on is silently stolen from it.
// So, like kubelet's hostport manager did, Flotilla checks before ADD: against the mappings of the pods of
// this network (saved state), against portmap rules of any other CNI container on the host (iptables), and
// against the host's own sockets by binding the port once.

import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { NatTable } from './iptables.js';
import { ruleOwner } from './iptables.js';
import type { HostPortMapping } from './types.js';

export interface HostPortClaim {
  hostPort: number;
  protocol: HostPortMapping['protocol'];
  /** undefined (or 0.0.0.0) = every address. */
  hostIP?: string;
  /** Who holds it, for the message: `pod default/web-1`. */
  holder: string;
}

export interface HostPortProblem {
  kind: 'conflict' | 'invalid';
  message: string;
}

export function describePort(m: { hostPort: number; protocol: string; hostIP?: string }): string {
  const ip = isWildcard(m.hostIP) ? '' : ` on ${m.hostIP}`;
  return `hostPort ${m.hostPort}/${m.protocol}${ip}`;
}

function isWildcard(ip: string | undefined): boolean {
  return ip === undefined || ip === '' || ip === '0.0.0.0';
}

function overlaps(a: { hostIP?: string }, b: { hostIP?: string }): boolean {
  return isWildcard(a.hostIP) || isWildcard(b.hostIP) || a.hostIP === b.hostIP;
}

/** The first problem with the requested mappings given what others hold; undefined when they are free. */
export function findHostPortProblem(
  requested: HostPortMapping[],
  claims: HostPortClaim[],
): HostPortProblem | undefined {
  for (const [i, m] of requested.entries()) {
    if (!Number.isInteger(m.hostPort) || m.hostPort < 1 || m.hostPort > 65535) {
      return { kind: 'invalid', message: `${describePort(m)} is not a port number from 1 to 65535` };
    }
    if (!Number.isInteger(m.containerPort) || m.containerPort < 1 || m.containerPort > 65535) {
      return {
        kind: 'invalid',
        message: `containerPort ${m.containerPort} of ${describePort(m)} is not a port number from 1 to 65535`,
      };
    }
    for (const other of requested.slice(0, i)) {
      if (other.hostPort === m.hostPort && other.protocol === m.protocol && overlaps(other, m)) {
        return { kind: 'invalid', message: `${describePort(m)} is requested twice by the pod` };
      }
    }
    for (const claim of claims) {
      if (claim.hostPort === m.hostPort && claim.protocol === m.protocol && overlaps(claim, m)) {
        return { kind: 'conflict', message: `${describePort(m)} is already in use by ${claim.holder}` };
      }
    }
  }
  return undefined;
}

/**
 * Claims from portmap rules in the shared CNI-HOSTPORT-DNAT chain, except those of `ignore(network, id)`
 * (the pods this network already knows from its state, which carry exact claims).
 */
export function claimsFromNatTable(
  table: NatTable,
  ignore: (network: string, containerId: string) => boolean,
): HostPortClaim[] {
  const claims: HostPortClaim[] = [];
  for (const rule of table.rules) {
    if (rule.chain !== 'CNI-HOSTPORT-DNAT') continue;
    const owner = ruleOwner(rule);
    if (owner !== undefined && ignore(owner.network, owner.containerId)) continue;
    const protocol = rule.protocol?.toUpperCase();
    if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP') continue;
    const holder =
      owner === undefined
        ? 'another portmap rule'
        : `container ${owner.containerId} of CNI network "${owner.network}"`;
    for (const hostPort of rule.ports) claims.push({ hostPort, protocol, holder });
  }
  return claims;
}

/**
 * Binds the port on the host once (TCP listen / UDP bind) and releases it. A process already bound there
 * (or a wildcard listener covering the address) makes the bind fail with EADDRINUSE. SCTP is not checked.
 */
export async function probeHostPort(m: HostPortMapping): Promise<HostPortProblem | undefined> {
  const host = isWildcard(m.hostIP) ? '0.0.0.0' : (m.hostIP as string);
  const error = await (m.protocol === 'TCP'
    ? bindTcp(host, m.hostPort)
    : m.protocol === 'UDP'
      ? bindUdp(host, m.hostPort)
      : undefined);
  if (error === undefined) return undefined;
  if (error === 'EADDRINUSE') {
    return {
      kind: 'conflict',
      message: `${describePort(m)} is already in use on the host (a process listens on it)`,
    };
  }
  if (error === 'EADDRNOTAVAIL') {
    return {
      kind: 'invalid',
      message: `hostIP ${m.hostIP ?? ''} of ${describePort(m)} is not an address of this node`,
    };
  }
  return undefined;
}

function bindTcp(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'EUNKNOWN'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

function bindUdp(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket({ type: 'udp4', reuseAddr: false });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      try {
        socket.close();
      } catch {
        // Already closed by the failed bind.
      }
      resolve(err.code ?? 'EUNKNOWN');
    });
    socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve(undefined)));
  });
}
