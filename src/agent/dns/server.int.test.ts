// The DNS server on 127.0.0.1 with a StaticServiceView, queried with node's own resolver (c-ares) and raw
// packets. Forwarding goes only to fake upstreams this test runs on 127.0.0.1, never to the host's resolver.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { StaticServiceView } from '../services/view.js';
import {
  ClassIN,
  RCode,
  RRType,
  decodeMessage,
  emptyFlags,
  encodeMessage,
  type DnsMessage,
} from './message.js';
import { DnsServer } from './server.js';

interface FakeUpstream {
  port: number;
  queries: string[];
  close(): Promise<void>;
}

/** Answers A for *.example.test with 192.0.2.10 and NXDOMAIN for anything else; `silent` never answers. */
async function fakeUpstream(silent = false): Promise<FakeUpstream> {
  const sock: UdpSocket = createSocket('udp4');
  const queries: string[] = [];
  sock.on('message', (buf, rinfo) => {
    const q = decodeMessage(new Uint8Array(buf));
    const name = q.questions[0]?.name ?? '';
    queries.push(name);
    if (silent) return;
    const ok = name.endsWith('example.test');
    const res: DnsMessage = {
      ...q,
      flags: { ...q.flags, qr: true, ra: true, rcode: ok ? 0 : RCode.NXDOMAIN },
      answers: ok
        ? [{ name, type: RRType.A, class: ClassIN, ttl: 60, data: { kind: 'a', address: '192.0.2.10' } }]
        : [],
    };
    sock.send(encodeMessage(res), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return {
    port: sock.address().port,
    queries,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

/** A UDP port on 127.0.0.1 nobody listens on (the kernel answers "port unreachable"). */
async function closedPort(): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return port;
}

function svc(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: ns, name }, spec };
}

const headlessEndpoints = Array.from({ length: 40 }, (_, i) => ({
  addresses: [`10.42.0.${i + 10}`],
  conditions: { ready: true },
}));

function resolverFor(port: number): Resolver {
  const r = new Resolver({ timeout: 3000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  return r;
}

function rawQuery(name: string, type: number, id = 7): Uint8Array {
  return encodeMessage({
    id,
    flags: { ...emptyFlags(), rd: true },
    questions: [{ name, type, class: ClassIN }],
    answers: [],
    authorities: [],
    additionals: [],
  });
}

async function udpExchange(port: number, bytes: Uint8Array): Promise<Uint8Array> {
  const sock = createSocket('udp4');
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no UDP answer')), 3000);
      sock.on('message', (m) => {
        clearTimeout(timer);
        resolve(new Uint8Array(m));
      });
      sock.send(bytes, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

async function tcpExchange(port: number, bytes: Uint8Array): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () => {
      const len = Buffer.alloc(2);
      len.writeUInt16BE(bytes.length);
      // Length prefix and message in two writes: the server must reassemble.
      sock.write(len);
      setTimeout(() => sock.write(bytes), 20);
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        sock.destroy();
        resolve(decodeMessage(new Uint8Array(buf.subarray(2, 2 + buf.readUInt16BE(0)))));
      }
    });
  });
}

describe('cluster DNS server', () => {
  const view = new StaticServiceView();
  let upstream: FakeUpstream;
  let server: DnsServer;
  let resolver: Resolver;

  beforeAll(async () => {
    upstream = await fakeUpstream();
    view.set(
      [
        svc('default', 'web', {
          clusterIP: '10.43.0.10',
          ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
        }),
        svc('default', 'many', { clusterIP: 'None' }),
        svc('default', 'ext', { type: 'ExternalName', externalName: 'www.example.test' }),
      ],
      [
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            namespace: 'default',
            name: 'many-x',
            labels: { 'kubernetes.io/service-name': 'many' },
          },
          addressType: 'IPv4',
          endpoints: headlessEndpoints,
          ports: [],
        },
      ],
    );
    server = new DnsServer({
      address: '127.0.0.1',
      port: 0,
      view,
      domain: 'cluster.local',
      upstreams: [{ host: '127.0.0.1', port: upstream.port }],
      upstreamTimeoutMs: 500,
    });
    await server.start();
    resolver = resolverFor(server.port);
  });

  afterAll(async () => {
    await server.stop();
    await upstream.close();
  });

  it('answers A and SRV records of a Service', async () => {
    expect(await resolver.resolve4('web.default.svc.cluster.local')).toEqual(['10.43.0.10']);
    expect(await resolver.resolveSrv('_http._tcp.web.default.svc.cluster.local')).toEqual([
      { name: 'web.default.svc.cluster.local', port: 80, priority: 0, weight: 100 },
    ]);
    expect(await resolver.reverse('10.43.0.10')).toEqual(['web.default.svc.cluster.local']);
  });

  it('answers NXDOMAIN for an unknown cluster name fast, without asking upstream', async () => {
    const before = upstream.queries.length;
    const t0 = performance.now();
    await expect(resolver.resolve4('nosuch.default.svc.cluster.local')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
    expect(performance.now() - t0).toBeLessThan(100);
    await expect(resolver.resolve4('web.default.svc.cluster.local')).resolves.toBeDefined();
    expect(upstream.queries.length).toBe(before);
  });

  it('forwards other names to the upstream and relays its answer', async () => {
    expect(await resolver.resolve4('api.example.test')).toEqual(['192.0.2.10']);
    await expect(resolver.resolve4('nothing.invalid')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    expect(upstream.queries).toEqual(expect.arrayContaining(['api.example.test', 'nothing.invalid']));
  });

  it('follows an ExternalName CNAME to an outside name through the upstream', async () => {
    expect(await resolver.resolve4('ext.default.svc.cluster.local')).toEqual(['192.0.2.10']);
    expect(await resolver.resolveCname('ext.default.svc.cluster.local')).toEqual(['www.example.test']);
  });

  it('answers over TCP, and a truncated UDP answer is completed over TCP', async () => {
    const m = await tcpExchange(server.port, rawQuery('web.default.svc.cluster.local', RRType.A));
    expect(m.answers.map((a) => (a.data.kind === 'a' ? a.data.address : ''))).toEqual(['10.43.0.10']);
    // 40 A records do not fit 512 bytes: UDP says TC, c-ares retries over TCP by itself.
    const udp = decodeMessage(
      await udpExchange(server.port, rawQuery('many.default.svc.cluster.local', RRType.A)),
    );
    expect(udp.flags.tc).toBe(true);
    const all = await resolver.resolve4('many.default.svc.cluster.local');
    expect(all.sort()).toEqual(headlessEndpoints.map((e) => e.addresses[0]).sort());
  });

  it('answers FORMERR to a malformed query and stays up', async () => {
    const broken = Uint8Array.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 40, 97]);
    const res = decodeMessage(await udpExchange(server.port, broken));
    expect(res.id).toBe(0xabcd);
    expect(res.flags.rcode).toBe(RCode.FORMERR);
    expect(await resolver.resolve4('web.default.svc.cluster.local')).toEqual(['10.43.0.10']);
  });

  it('serves a new Service as soon as the view changes', async () => {
    await expect(resolver.resolve4('late.default.svc.cluster.local')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
    view.set([...view.services(), svc('default', 'late', { clusterIP: '10.43.0.99' })], view.slices());
    view.emit();
    expect(await resolver.resolve4('late.default.svc.cluster.local')).toEqual(['10.43.0.99']);
  });
});

describe('cluster DNS server with failing upstreams', () => {
  const servers: DnsServer[] = [];
  const upstreams: FakeUpstream[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
    for (const u of upstreams.splice(0)) await u.close();
  });

  async function serve(upstreamPorts: number[], timeoutMs: number): Promise<DnsServer> {
    const s = new DnsServer({
      address: '127.0.0.1',
      port: 0,
      view: new StaticServiceView(),
      domain: 'cluster.local',
      upstreams: upstreamPorts.map((port) => ({ host: '127.0.0.1', port })),
      upstreamTimeoutMs: timeoutMs,
    });
    await s.start();
    servers.push(s);
    return s;
  }

  it('answers SERVFAIL within the timeout when the upstream does not answer', async () => {
    const silent = await fakeUpstream(true);
    upstreams.push(silent);
    const s = await serve([silent.port], 300);
    const t0 = performance.now();
    const res = decodeMessage(await udpExchange(s.port, rawQuery('api.example.test', RRType.A)));
    const took = performance.now() - t0;
    expect(res.flags.rcode).toBe(RCode.SERVFAIL);
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1500);
    expect(silent.queries).toEqual(['api.example.test']);
  });

  it('answers SERVFAIL at once when the upstream port is closed', async () => {
    const s = await serve([await closedPort()], 2000);
    const t0 = performance.now();
    const res = decodeMessage(await udpExchange(s.port, rawQuery('api.example.test', RRType.A)));
    expect(res.flags.rcode).toBe(RCode.SERVFAIL);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('tries the next upstream when the first is silent', async () => {
    const silent = await fakeUpstream(true);
    const good = await fakeUpstream();
    upstreams.push(silent, good);
    const s = await serve([silent.port, good.port], 300);
    expect(await resolverFor(s.port).resolve4('api.example.test')).toEqual(['192.0.2.10']);
    expect(silent.queries).toEqual(['api.example.test']);
  });

  it('fails to start when the port is taken', async () => {
    const first = await serve([], 300);
    const second = new DnsServer({
      address: '127.0.0.1',
      port: first.port,
      view: new StaticServiceView(),
      domain: 'cluster.local',
      upstreams: [],
    });
    await expect(second.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('leaves nothing listening after stop', async () => {
    const s = await serve([], 300);
    const port = s.port;
    await s.stop();
    servers.splice(servers.indexOf(s), 1);
    await expect(tcpExchange(port, rawQuery('a.cluster.local', RRType.A))).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    // The UDP port can be bound again.
    const again = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      again.once('error', reject);
      again.bind(port, '127.0.0.1', resolve);
    });
    again.close();
  });
});
