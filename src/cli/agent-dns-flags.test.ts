import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addAgentFlags, agentFlagsFrom, type AgentCliFlags } from './agent-command.js';

const conn = { server: 'https://127.0.0.1:6443', token: 't', caPem: undefined };

function parse(argv: string[]): ReturnType<typeof agentFlagsFrom> {
  const p = new Command();
  p.exitOverride();
  addAgentFlags(p, { dataDir: true });
  p.parse(argv, { from: 'user' });
  return agentFlagsFrom(p.opts<AgentCliFlags>(), conn);
}

describe('agent cluster DNS flags', () => {
  it.each([
    [[], true],
    [['--no-cluster-dns'], false],
    [['--cluster-dns=false'], false],
    [['--cluster-dns', 'false'], false],
    [['--cluster-dns'], true],
    [['--cluster-dns=true'], true],
  ])('%j → cluster DNS %s', (argv, on) => {
    expect(parse(argv).clusterDns).toBe(on);
  });

  it('defaults the domain to cluster.local and leaves the upstreams to the host resolv.conf', () => {
    const f = parse([]);
    expect(f.clusterDomain).toBe('cluster.local');
    expect(f.dnsUpstreams).toBeUndefined();
  });

  it('takes a domain and a list of upstreams', () => {
    const f = parse(['--cluster-domain', 'Corp.Internal.', '--dns-upstream', '127.0.0.1:5353,10.0.0.2']);
    expect(f.clusterDomain).toBe('corp.internal');
    expect(f.dnsUpstreams).toEqual([
      { host: '127.0.0.1', port: 5353 },
      { host: '10.0.0.2', port: 53 },
    ]);
  });

  it.each([
    [['--cluster-dns=maybe'], '--cluster-dns must be true or false'],
    [['--cluster-domain', 'bad_domain'], '--cluster-domain must be a DNS domain'],
    [['--dns-upstream', 'dns.example'], '--dns-upstream: DNS upstream must be an IP address'],
  ])('rejects %j naming the flag', (argv, message) => {
    expect(() => parse(argv)).toThrow(message);
  });
});
