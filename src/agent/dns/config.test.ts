import { describe, expect, it } from 'vitest';
import {
  formatUpstream,
  parseUpstream,
  parseUpstreamList,
  podClusterDns,
  upstreamsFromResolvConf,
} from './config.js';

describe('DNS upstream addresses', () => {
  it.each([
    ['10.0.0.2', { host: '10.0.0.2', port: 53 }],
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353 }],
    ['::1', { host: '::1', port: 53 }],
    ['[fd00::1]:5353', { host: 'fd00::1', port: 5353 }],
  ])('parses %s', (text, want) => {
    expect(parseUpstream(text)).toEqual(want);
  });

  it.each(['dns.example', '10.0.0.300', '10.0.0.1:0', '10.0.0.1:70000', '[fd00::1]:x', ''])(
    'rejects %s naming it',
    (text) => {
      expect(() => parseUpstream(text)).toThrow(`got "${text}"`);
    },
  );

  it('parses a comma list and formats back', () => {
    const list = parseUpstreamList('127.0.0.1:5353, [::1]:53,');
    expect(list.map(formatUpstream)).toEqual(['127.0.0.1:5353', '[::1]:53']);
  });

  it("takes the host's nameservers, without our own address and zone-indexed ones", () => {
    const text =
      '# generated\nsearch corp.example\nnameserver 10.42.0.1\nnameserver 192.168.1.1 ; router\n' +
      'nameserver fe80::1%eth0\nnameserver 2001:db8::53\noptions edns0\n';
    expect(upstreamsFromResolvConf(text, ['10.42.0.1']).map(formatUpstream)).toEqual([
      '192.168.1.1:53',
      '[2001:db8::53]:53',
    ]);
  });

  it('gives pods the bridge address, the search path and ndots:5', () => {
    expect(podClusterDns('10.42.0.1', 'cluster.local')).toEqual({
      nameservers: ['10.42.0.1'],
      searches: ['svc.cluster.local', 'cluster.local'],
      options: ['ndots:5'],
      clusterDomain: 'cluster.local',
    });
  });
});
