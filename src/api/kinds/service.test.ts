import { describe, expect, it } from 'vitest';
import { serviceHandler as h } from './service.js';
import { clone, create, obj, update } from './testing.js';

const svc = (spec: Record<string, unknown>, name = 'web') => obj('v1', 'Service', { spec }, { name });

describe('Service defaults', () => {
  it('fills in type, affinity, protocol, targetPort, traffic policies', () => {
    const s = svc({
      selector: { app: 'web' },
      ports: [{ port: 80 }, { port: 53, protocol: 'UDP', targetPort: 'dns', name: 'dns' }],
    });
    h.defaults(s);
    expect(s.spec).toEqual({
      selector: { app: 'web' },
      ports: [
        { port: 80, protocol: 'TCP', targetPort: 80 },
        { port: 53, protocol: 'UDP', targetPort: 'dns', name: 'dns' },
      ],
      type: 'ClusterIP',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
    });
  });

  it.each([
    ['NodePort', { externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster' }],
    [
      'LoadBalancer',
      {
        externalTrafficPolicy: 'Cluster',
        internalTrafficPolicy: 'Cluster',
        allocateLoadBalancerNodePorts: true,
      },
    ],
    ['ExternalName', {}],
  ])('type %s', (type, extra) => {
    const s = svc({ type, ports: [{ port: 80 }] });
    h.defaults(s);
    expect(s.spec).toEqual({
      type,
      ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }],
      sessionAffinity: 'None',
      ...extra,
    });
  });

  it('ClientIP affinity gets the 3h timeout', () => {
    const s = svc({ sessionAffinity: 'ClientIP', ports: [{ port: 80 }] });
    h.defaults(s);
    expect((s.spec as { sessionAffinityConfig: unknown }).sessionAffinityConfig).toEqual({
      clientIP: { timeoutSeconds: 10800 },
    });
  });
});

describe('Service validation', () => {
  it('accepts a usual service', () => {
    expect(
      create(
        h,
        svc({
          selector: { app: 'web' },
          ports: [
            { name: 'http', port: 80, targetPort: 'http' },
            { name: 'https', port: 443 },
          ],
        }),
      ),
    ).toEqual([]);
    expect(create(h, svc({ clusterIP: 'None', selector: { app: 'db' } }))).toEqual([]);
    expect(create(h, svc({ type: 'ExternalName', externalName: 'db.example.com.' }))).toEqual([]);
    expect(create(h, svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] }))).toEqual([]);
  });

  it('uses DNS-1035 names', () => {
    expect(create(h, svc({ ports: [{ port: 80 }] }, '1web'))[0]).toMatch(
      /^metadata\.name: Invalid value: "1web": a DNS-1035 label must consist of/,
    );
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    ['no ports', {}, ['spec.ports: Required value']],
    [
      'unnamed ports when several',
      { ports: [{ port: 80 }, { port: 81, name: 'b' }] },
      ['spec.ports[0].name: Required value'],
    ],
    [
      'duplicate names and port/protocol pairs',
      {
        ports: [
          { port: 80, name: 'a' },
          { port: 80, name: 'a' },
        ],
      },
      [
        'spec.ports[1].name: Duplicate value: "a"',
        'spec.ports[1]: Duplicate value: {"port":80,"protocol":"TCP"}',
      ],
    ],
    [
      'bad port, protocol, type, targetPort',
      { type: 'Magic', ports: [{ port: 70000, protocol: 'HTTP', targetPort: 'Bad_Name' }] },
      [
        'spec.ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"',
        'spec.type: Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
        'spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive',
        'spec.ports[0].targetPort: Invalid value: "Bad_Name": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
      ],
    ],
    [
      'a nodePort on ClusterIP',
      { ports: [{ port: 80, nodePort: 30001 }] },
      ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
    ],
    ['ExternalName without a name', { type: 'ExternalName' }, ['spec.externalName: Required value']],
    [
      'a bad clusterIP',
      { clusterIP: '10.0.0.300', ports: [{ port: 80 }] },
      ['spec.clusterIPs[0]: Invalid value: "10.0.0.300": must be empty, \'None\', or a valid IP address'],
    ],
    [
      'externalTrafficPolicy on ClusterIP',
      { externalTrafficPolicy: 'Local', ports: [{ port: 80 }] },
      [
        'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services',
      ],
    ],
    [
      'a bad selector',
      { selector: { app: 'a b' }, ports: [{ port: 80 }] },
      [expect.stringMatching(/^spec\.selector: Invalid value: "a b": a valid label must be an empty string/)],
    ],
  ])('rejects %s', (_name, spec, expected) => {
    expect(create(h, svc(spec))).toEqual(expected);
  });
});

describe('Service update', () => {
  const allocated = () =>
    svc({
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      type: 'NodePort',
      ports: [{ port: 80, nodePort: 30080 }],
      selector: { app: 'web' },
    });

  it('keeps the cluster IP fixed', () => {
    expect(
      update(h, allocated(), (s) => ((s.spec as Record<string, unknown>)['clusterIP'] = '10.96.0.11')),
    ).toEqual([
      'spec.clusterIPs: Invalid value: ["10.96.0.10"]: first value must match `clusterIP`',
      'spec.clusterIP: Invalid value: "10.96.0.11": field is immutable',
    ]);
  });

  it('carries allocated values over when a manifest omits them (kubectl replace)', () => {
    const before = allocated();
    const after = svc({ type: 'NodePort', ports: [{ port: 80 }], selector: { app: 'web', v: '2' } });
    h.defaults(before);
    h.defaults(after);
    h.prepareUpdate?.(after, before);
    expect(after.spec).toMatchObject({
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      ports: [{ port: 80, nodePort: 30080 }],
    });
    expect(h.validateUpdate(after, before)).toEqual([]);
  });

  it('lets a service become ExternalName, dropping its IP', () => {
    expect(
      update(h, allocated(), (s) => {
        s.spec = { type: 'ExternalName', externalName: 'example.com' };
      }),
    ).toEqual([]);
  });

  // Upstream's dropTypeDependentFields: a patch of `type` alone leaves the old values in the merged object.
  it.each([
    [
      'NodePort → ClusterIP drops unchanged node ports and externalTrafficPolicy',
      { type: 'ClusterIP' },
      { type: 'ClusterIP', clusterIP: '10.96.0.10', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] },
      ['externalTrafficPolicy'],
    ],
    [
      'NodePort → ExternalName drops the unchanged address and families',
      { type: 'ExternalName', externalName: 'example.com', selector: undefined },
      { type: 'ExternalName', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] },
      ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy', 'internalTrafficPolicy'],
    ],
  ])('%s', (_name, patch, want, gone) => {
    const before = allocated();
    (before.spec as Record<string, unknown>)['ipFamilies'] = ['IPv4'];
    (before.spec as Record<string, unknown>)['ipFamilyPolicy'] = 'SingleStack';
    h.defaults(before);
    const after = clone(before);
    Object.assign(after.spec as Record<string, unknown>, patch);
    h.defaults(after);
    h.prepareUpdate?.(after, before);
    expect(after.spec).toMatchObject(want);
    for (const f of gone) expect(after.spec).not.toHaveProperty(f);
    expect(h.validateUpdate(after, before)).toEqual([]);
  });

  it('keeps a node port the update changes itself (validation then speaks)', () => {
    expect(
      update(h, allocated(), (s) => {
        const spec = s.spec as Record<string, unknown>;
        spec['type'] = 'ClusterIP';
        spec['ports'] = [{ port: 80, nodePort: 30081 }];
      }),
    ).toEqual(["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]);
  });
});

describe('Service clusterIP and clusterIPs', () => {
  it.each([
    [{ clusterIP: '10.96.0.7' }, { clusterIP: '10.96.0.7', clusterIPs: ['10.96.0.7'] }],
    [{ clusterIPs: ['10.96.0.7'] }, { clusterIP: '10.96.0.7', clusterIPs: ['10.96.0.7'] }],
    [{ clusterIP: 'None' }, { clusterIP: 'None', clusterIPs: ['None'] }],
  ])('defaults fill the other of the pair: %j', (given, want) => {
    const s = svc({ ports: [{ port: 80 }], ...given });
    h.defaults(s);
    expect(s.spec).toMatchObject(want);
  });
});
