import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { claimsFromNatTable, findHostPortProblem, probeHostPort, type HostPortClaim } from './host-ports.js';
import { parseNatTable } from './iptables.js';

const web: HostPortClaim = { hostPort: 8080, protocol: 'TCP', holder: 'pod default/web' };

describe('findHostPortProblem', () => {
  it('names the pod holding the port', () => {
    expect(findHostPortProblem([{ hostPort: 8080, containerPort: 80, protocol: 'TCP' }], [web])).toEqual({
      kind: 'conflict',
      message: 'hostPort 8080/TCP is already in use by pod default/web',
    });
  });

  it('lets another protocol or another specific hostIP share the number', () => {
    expect(
      findHostPortProblem([{ hostPort: 8080, containerPort: 80, protocol: 'UDP' }], [web]),
    ).toBeUndefined();
    const onA = { ...web, hostIP: '192.0.2.1' };
    expect(
      findHostPortProblem(
        [{ hostPort: 8080, containerPort: 80, protocol: 'TCP', hostIP: '192.0.2.2' }],
        [onA],
      ),
    ).toBeUndefined();
    // A wildcard mapping collides with any address.
    expect(findHostPortProblem([{ hostPort: 8080, containerPort: 80, protocol: 'TCP' }], [onA])?.kind).toBe(
      'conflict',
    );
  });

  it('refuses the same port twice in one pod and impossible port numbers', () => {
    expect(
      findHostPortProblem(
        [
          { hostPort: 9000, containerPort: 80, protocol: 'TCP' },
          { hostPort: 9000, containerPort: 81, protocol: 'TCP' },
        ],
        [],
      ),
    ).toEqual({ kind: 'invalid', message: 'hostPort 9000/TCP is requested twice by the pod' });
    expect(findHostPortProblem([{ hostPort: 70000, containerPort: 80, protocol: 'TCP' }], [])?.kind).toBe(
      'invalid',
    );
  });
});

describe('claimsFromNatTable', () => {
  const table = parseNatTable(String.raw`*nat
:CNI-HOSTPORT-DNAT - [0:0]
-A CNI-HOSTPORT-DNAT -p udp -m comment --comment "dnat name: \"other-net\" id: \"c1\"" -m multiport --dports 53,5353 -j CNI-DN-x
-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \"mine\" id: \"known\"" -m multiport --dports 80 -j CNI-DN-y
COMMIT
`);

  it('claims the ports of other CNI containers, skipping the ones the caller already knows', () => {
    const claims = claimsFromNatTable(table, (network, id) => network === 'mine' && id === 'known');
    expect(claims).toEqual([
      { hostPort: 53, protocol: 'UDP', holder: 'container c1 of CNI network "other-net"' },
      { hostPort: 5353, protocol: 'UDP', holder: 'container c1 of CNI network "other-net"' },
    ]);
  });
});

describe('probeHostPort', () => {
  it('finds a port a host process listens on, and frees a port it probed', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      expect(await probeHostPort({ hostPort: port, containerPort: 80, protocol: 'TCP' })).toEqual({
        kind: 'conflict',
        message: `hostPort ${port}/TCP is already in use on the host (a process listens on it)`,
      });
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await probeHostPort({ hostPort: port, containerPort: 80, protocol: 'TCP' })).toBeUndefined();
    // The probe released it again.
    expect(await probeHostPort({ hostPort: port, containerPort: 80, protocol: 'TCP' })).toBeUndefined();
  });
});
