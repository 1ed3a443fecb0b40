import { describe, expect, it } from 'vitest';
import { kubernetesServiceCIDRObject, serviceCIDRHandler } from './servicecidr.js';
import { create, obj, update } from './testing.js';

const sc = (cidrs: unknown, name = 'kubernetes') =>
  obj('networking.k8s.io/v1', 'ServiceCIDR', { spec: { cidrs } }, { name, namespace: undefined });

describe('ServiceCIDR', () => {
  it('accepts the object the API server keeps', () => {
    const o = kubernetesServiceCIDRObject(['10.43.0.0/16'], '2026-01-02T03:04:05Z');
    expect(create(serviceCIDRHandler, o)).toEqual([]);
    expect(o).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'ServiceCIDR',
      metadata: { name: 'kubernetes' },
      spec: { cidrs: ['10.43.0.0/16'] },
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'ServiceClusterIPRange',
            message: 'The Service ClusterIP range set by the API server flag --service-cluster-ip-range',
            lastTransitionTime: '2026-01-02T03:04:05Z',
          },
        ],
      },
    });
  });

  it.each([
    ['one IPv4 range', ['10.43.0.0/16']],
    ['one IPv6 range', ['fd00:10:96::/112']],
    ['one of each family', ['10.96.0.0/12', '2001:db8::/64']],
    ['IPv6 first', ['2001:db8:0:1::/64', '192.168.0.0/24']],
  ])('accepts %s', (_what, cidrs) => {
    expect(create(serviceCIDRHandler, sc(cidrs))).toEqual([]);
  });

  it.each([
    ['no spec', obj('networking.k8s.io/v1', 'ServiceCIDR', {}, { name: 'a', namespace: undefined })],
    ['no cidrs', sc([])],
  ])('requires a CIDR: %s', (_what, o) => {
    expect(create(serviceCIDRHandler, o)).toEqual(['spec.cidrs: Required value: at least one CIDR required']);
  });

  it.each([
    [
      'three ranges',
      ['10.0.0.0/16', '10.1.0.0/16', 'fd00::/108'],
      ['spec.cidrs: Invalid value: ["10.0.0.0/16","10.1.0.0/16","fd00::/108"]: may only hold up to 2 values'],
    ],
    [
      'an address without a prefix',
      ['10.43.0.1'],
      [
        'spec.cidrs[0]: Invalid value: "10.43.0.1": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      ],
    ],
    [
      'a prefix past 32 bits',
      ['10.0.0.0/16', '10.0.0.0/33'],
      [
        'spec.cidrs[1]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
      ],
    ],
    [
      'a non-string',
      [16],
      ['spec.cidrs[0]: Invalid value: 16: must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'],
    ],
    [
      'host bits set',
      ['10.43.0.1/16'],
      ['spec.cidrs[0]: Invalid value: "10.43.0.1/16": must be in canonical form ("10.43.0.0/16")'],
    ],
    [
      'IPv6 not written the short way',
      ['10.43.0.0/16', '2001:DB8:0:0::/64'],
      ['spec.cidrs[1]: Invalid value: "2001:DB8:0:0::/64": must be in canonical form ("2001:db8::/64")'],
    ],
    [
      'a prefix with a leading zero',
      ['10.43.0.0/016'],
      ['spec.cidrs[0]: Invalid value: "10.43.0.0/016": must be in canonical form ("10.43.0.0/16")'],
    ],
    [
      'two IPv4 ranges',
      ['10.43.0.0/16', '10.44.0.0/16'],
      [
        'spec.cidrs: Invalid value: ["10.43.0.0/16","10.44.0.0/16"]: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64',
      ],
    ],
    [
      'two IPv6 ranges',
      ['fd00::/108', 'fd01::/108'],
      [
        expect.stringContaining(
          'spec.cidrs: Invalid value: ["fd00::/108","fd01::/108"]: may specify no more',
        ),
      ],
    ],
  ])('rejects %s, naming the field', (_what, cidrs, messages) => {
    expect(create(serviceCIDRHandler, sc(cidrs))).toEqual(messages);
  });

  it('is cluster-scoped and named like a DNS subdomain', () => {
    expect(
      create(
        serviceCIDRHandler,
        obj('networking.k8s.io/v1', 'ServiceCIDR', { spec: { cidrs: ['10.0.0.0/8'] } }, { name: 'a' }),
      ),
    ).toEqual(['metadata.namespace: Forbidden: not allowed on this type']);
    expect(create(serviceCIDRHandler, sc(['10.0.0.0/8'], 'Bad_Name'))).toEqual([
      expect.stringMatching(/^metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/),
    ]);
  });

  it('lets the server replace the range (clients cannot write ServiceCIDRs at all)', () => {
    const before = kubernetesServiceCIDRObject(['10.43.0.0/16'], '2026-01-02T03:04:05Z');
    expect(update(serviceCIDRHandler, before, (o) => (o.spec = { cidrs: ['10.44.0.0/16'] }))).toEqual([]);
    expect(update(serviceCIDRHandler, before, (o) => (o.spec = { cidrs: ['10.44.0.1/16'] }))).toEqual([
      'spec.cidrs[0]: Invalid value: "10.44.0.1/16": must be in canonical form ("10.44.0.0/16")',
    ]);
  });
});
