import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { ClassIN, RCode, RRType, emptyFlags, type DnsMessage } from './message.js';
import { answer, buildZone, reverseName, type Zone } from './zone.js';

const domain = 'cluster.local';

function svc(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec };
}

function slice(
  ns: string,
  service: string,
  endpoints: Record<string, unknown>[],
  ports: Record<string, unknown>[] = [],
): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: ns, name: `${service}-abc`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints,
    ports,
  };
}

const services = [
  svc('default', 'web', {
    clusterIP: '10.43.0.10',
    clusterIPs: ['10.43.0.10'],
    ports: [
      { name: 'http', port: 80, protocol: 'TCP' },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ],
  }),
  svc('default', 'db', {
    clusterIP: 'None',
    ports: [{ name: 'pg', port: 5432 }],
  }),
  svc('default', 'all', { clusterIP: 'None', publishNotReadyAddresses: true }),
  svc('shop', 'ext', { type: 'ExternalName', externalName: 'example.com' }),
  svc('shop', 'alias', { type: 'ExternalName', externalName: 'web.default.svc.cluster.local' }),
  svc('default', 'pending', { clusterIP: '' }),
];
const slices = [
  slice(
    'default',
    'db',
    [
      { addresses: ['10.42.0.5'], conditions: { ready: true }, hostname: 'db-0' },
      { addresses: ['10.42.0.6'], conditions: { ready: true } },
      { addresses: ['10.42.0.7'], conditions: { ready: false } },
    ],
    [{ name: 'pg', port: 5432, protocol: 'TCP' }],
  ),
  slice('default', 'all', [
    { addresses: ['10.42.0.8'], conditions: { ready: true } },
    { addresses: ['10.42.0.9'], conditions: { ready: false, terminating: true } },
  ]),
];
const zone: Zone = buildZone(services, slices, { domain, serial: 7 });

function query(name: string, type: number): DnsMessage {
  return {
    id: 42,
    flags: { ...emptyFlags(), rd: true },
    questions: [{ name, type, class: ClassIN }],
    answers: [],
    authorities: [],
    additionals: [],
  };
}

function ask(name: string, type: number, z: Zone | undefined = zone): DnsMessage {
  const a = answer(query(name, type), z, domain);
  if (a.kind !== 'reply') throw new Error(`${name} was forwarded`);
  return a.message;
}

function data(m: DnsMessage): unknown[] {
  return m.answers.map((r) => {
    const d = r.data;
    switch (d.kind) {
      case 'a':
      case 'aaaa':
        return d.address;
      case 'name':
        return d.name;
      case 'srv':
        return `${d.priority} ${d.weight} ${d.port} ${d.target}`;
      case 'soa':
      case 'raw':
        return d.kind;
    }
  });
}

describe('cluster zone answers', () => {
  it.each([
    ['ClusterIP Service', 'web.default.svc.cluster.local', RRType.A, ['10.43.0.10']],
    ['any letter case, trailing dot', 'WEB.Default.SVC.cluster.LOCAL.', RRType.A, ['10.43.0.10']],
    ['headless: ready endpoints only', 'db.default.svc.cluster.local', RRType.A, ['10.42.0.5', '10.42.0.6']],
    ['headless endpoint by hostname', 'db-0.db.default.svc.cluster.local', RRType.A, ['10.42.0.5']],
    ['headless endpoint by dashed IP', '10-42-0-6.db.default.svc.cluster.local', RRType.A, ['10.42.0.6']],
    [
      'publishNotReadyAddresses: every endpoint',
      'all.default.svc.cluster.local',
      RRType.A,
      ['10.42.0.8', '10.42.0.9'],
    ],
    [
      'SRV of a named port',
      '_http._tcp.web.default.svc.cluster.local',
      RRType.SRV,
      ['0 100 80 web.default.svc.cluster.local'],
    ],
    [
      'SRV of a UDP port',
      '_dns._udp.web.default.svc.cluster.local',
      RRType.SRV,
      ['0 100 53 web.default.svc.cluster.local'],
    ],
    [
      'headless SRV: one per endpoint',
      '_pg._tcp.db.default.svc.cluster.local',
      RRType.SRV,
      ['0 100 5432 db-0.db.default.svc.cluster.local', '0 100 5432 10-42-0-6.db.default.svc.cluster.local'],
    ],
    ['PTR of a ClusterIP', '10.0.43.10.in-addr.arpa', RRType.PTR, ['web.default.svc.cluster.local']],
    [
      'PTR of a headless endpoint',
      '5.0.42.10.in-addr.arpa',
      RRType.PTR,
      ['db-0.db.default.svc.cluster.local'],
    ],
    ['ExternalName: CNAME', 'ext.shop.svc.cluster.local', RRType.CNAME, ['example.com']],
    [
      'ExternalName into the cluster: CNAME and the target',
      'alias.shop.svc.cluster.local',
      RRType.A,
      ['web.default.svc.cluster.local', '10.43.0.10'],
    ],
    ['pod A record from the name', '10-42-0-77.default.pod.cluster.local', RRType.A, ['10.42.0.77']],
  ])('%s', (_what, name, type, expected) => {
    const m = ask(name, type);
    expect(m.flags.rcode).toBe(RCode.NOERROR);
    expect(m.flags.aa).toBe(true);
    expect(m.flags.qr).toBe(true);
    expect(m.id).toBe(42);
    expect(data(m)).toEqual(expected);
  });

  it('sends the SRV targets addresses along', () => {
    const m = ask('_pg._tcp.db.default.svc.cluster.local', RRType.SRV);
    expect(m.additionals.map((r) => [r.name, r.data.kind === 'a' ? r.data.address : ''])).toEqual([
      ['db-0.db.default.svc.cluster.local', '10.42.0.5'],
      ['10-42-0-6.db.default.svc.cluster.local', '10.42.0.6'],
    ]);
  });

  it.each([
    ['unknown Service', 'nosuch.default.svc.cluster.local'],
    ['unknown namespace', 'web.nosuch.svc.cluster.local'],
    ['search-path miss', 'web.svc.cluster.local'],
    ['Service without a ClusterIP yet', 'pending.default.svc.cluster.local'],
    ['not-ready headless endpoint', '10-42-0-7.db.default.svc.cluster.local'],
    ['unknown port name', '_nope._tcp.web.default.svc.cluster.local'],
  ])('NXDOMAIN with the SOA for an unknown name (%s)', (_what, name) => {
    const m = ask(name, RRType.A);
    expect(m.flags.rcode).toBe(RCode.NXDOMAIN);
    expect(m.answers).toEqual([]);
    expect(m.authorities).toHaveLength(1);
    expect(m.authorities[0]).toMatchObject({ name: 'cluster.local', type: RRType.SOA, ttl: 5 });
    expect(m.authorities[0]?.data).toMatchObject({ serial: 7, minimum: 5 });
  });

  it.each([
    ['AAAA of an IPv4-only Service', 'web.default.svc.cluster.local', RRType.AAAA],
    ['TXT of a Service', 'web.default.svc.cluster.local', RRType.TXT],
    ['a namespace (empty non-terminal)', 'default.svc.cluster.local', RRType.A],
    ['svc.<domain>', 'svc.cluster.local', RRType.A],
    ['the apex', 'cluster.local', RRType.A],
  ])('NOERROR without answers (NODATA) for a known name: %s', (_what, name, type) => {
    const m = ask(name, type);
    expect(m.flags.rcode).toBe(RCode.NOERROR);
    expect(m.answers).toEqual([]);
    expect(m.authorities[0]?.type).toBe(RRType.SOA);
  });

  it('answers SOA at the apex and ANY with every record of the name', () => {
    expect(ask('cluster.local', RRType.SOA).answers[0]?.type).toBe(RRType.SOA);
    expect(data(ask('web.default.svc.cluster.local', RRType.ANY))).toEqual(['10.43.0.10']);
  });

  it('serves AAAA for IPv6 ClusterIPs and their ip6.arpa PTR', () => {
    const z = buildZone(
      [svc('default', 'six', { clusterIP: 'fd00:43::a', clusterIPs: ['fd00:43::a', '10.43.0.11'] })],
      [],
      { domain },
    );
    expect(data(ask('six.default.svc.cluster.local', RRType.AAAA, z))).toEqual(['fd00:43::a']);
    expect(data(ask('six.default.svc.cluster.local', RRType.A, z))).toEqual(['10.43.0.11']);
    const rev = reverseName('fd00:43::a') ?? '';
    expect(rev).toMatch(/^a\.0\.0\.0\.(0\.){20}3\.4\.0\.0\.0\.0\.d\.f\.ip6\.arpa$/);
    expect(data(ask(rev, RRType.PTR, z))).toEqual(['six.default.svc.cluster.local']);
  });

  it('forwards names outside the domain and reverse names it does not know, never names inside', () => {
    expect(answer(query('example.com', RRType.A), zone, domain).kind).toBe('forward');
    expect(answer(query('1.1.1.1.in-addr.arpa', RRType.PTR), zone, domain).kind).toBe('forward');
    expect(answer(query('local', RRType.A), zone, domain).kind).toBe('forward');
    expect(answer(query('nosuch.cluster.local', RRType.A), zone, domain).kind).toBe('reply');
  });

  it('marks a CNAME to an outside name for the server to chase', () => {
    const a = answer(query('ext.shop.svc.cluster.local', RRType.A), zone, domain);
    expect(a).toMatchObject({ kind: 'reply', chase: 'example.com' });
  });

  it('answers SERVFAIL for cluster names until the Service caches synced', () => {
    const a = answer(query('web.default.svc.cluster.local', RRType.A), undefined, domain);
    expect(a).toMatchObject({ kind: 'reply', message: { flags: { rcode: RCode.SERVFAIL } } });
    expect(answer(query('example.com', RRType.A), undefined, domain).kind).toBe('forward');
  });

  it('refuses zone transfers, rejects unsupported opcodes and several questions', () => {
    expect(ask('cluster.local', RRType.AXFR).flags.rcode).toBe(RCode.REFUSED);
    const notify = query('cluster.local', RRType.SOA);
    notify.flags.opcode = 4;
    expect(answer(notify, zone, domain)).toMatchObject({ message: { flags: { rcode: RCode.NOTIMP } } });
    const two = query('a.cluster.local', RRType.A);
    two.questions.push({ name: 'b.cluster.local', type: RRType.A, class: ClassIN });
    expect(answer(two, zone, domain)).toMatchObject({ message: { flags: { rcode: RCode.FORMERR } } });
  });

  it('uses another cluster domain and TTL when told', () => {
    const z = buildZone(services, slices, { domain: 'corp.internal', ttl: 30 });
    const a = answer(query('web.default.svc.corp.internal', RRType.A), z, 'corp.internal');
    expect(a).toMatchObject({ message: { answers: [{ ttl: 30, data: { address: '10.43.0.10' } }] } });
    expect(answer(query('web.default.svc.cluster.local', RRType.A), z, 'corp.internal').kind).toBe('forward');
  });
});
