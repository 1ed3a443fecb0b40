// Service datapath and cluster DNS on a real node: HTTP throughput and latency through a Service's virtual
// IP versus straight to the pod IPs, in the same run, and DNS queries answered per second.
//
//   node dist/bench/services.js [--requests 3000] [--clients 8] [--rounds 3] [--dns-seconds 3] [--json FILE]
//
// Flotilla: `flotilla server` + `flotilla agent` (runc + conmon, CNI bridge, the agent's nftables table and
// DNS server), a Deployment of 2 busybox httpd pods serving 1 KiB, and a ClusterIP Service in front. The
// load generator runs on the host (closed loop, `--clients` workers, one new TCP connection per request,
// as busybox httpd closes after each answer); "direct" spreads requests over the pod IPs itself, "vip"
// sends every request to the Service IP and lets the kernel pick. Rounds alternate direct/vip so drift in
// the machine's load hits both. DNS: one UDP socket keeps 64 queries for the Service's name in flight to
// the agent's DNS on the bridge address for `--dns-seconds`.
//
// Peer: Docker Swarm's service VIPs and routing mesh are IPVS, which this kernel does not have (see
// reference/environment.md), so there is no peer figure for this bench; the output says so.
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ClassIN, RRType, decodeHeader, emptyFlags, encodeMessage } from '../src/agent/dns/message.js';
import type { KubeObject } from '../src/api/types.js';
import { eventually } from '../src/testkit/eventually.js';
import { buildBusyboxLayout, pushImage } from '../src/testkit/images.js';
import { startNodeCluster, type NodeCluster } from '../src/testkit/node.js';
import { startRegistry, type TestRegistry } from '../src/testkit/registry.js';
import { closedLoop, type LoadResult } from './lib/load.js';
import { fmt, summarize } from './lib/stats.js';
import { runAsScript } from './lib/main.js';

interface Options {
  requests: number;
  clients: number;
  rounds: number;
  dnsSeconds: number;
  json: string | undefined;
}

const usage =
  'usage: services.js [--requests 3000] [--clients 8] [--rounds 3] [--dns-seconds 3] [--json FILE]';

function parseArgs(args: string[]): Options {
  const o: Options = { requests: 3000, clients: 8, rounds: 3, dnsSeconds: 3, json: undefined };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (): number => {
      const v = Number(args[++i]);
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${a} needs a positive whole number; ${usage}`);
      return v;
    };
    if (a === '--requests') o.requests = Math.min(value(), 20_000);
    else if (a === '--clients') o.clients = Math.min(value(), 64);
    else if (a === '--rounds') o.rounds = Math.min(value(), 10);
    else if (a === '--dns-seconds') o.dnsSeconds = Math.min(value(), 30);
    else if (a === '--json') {
      const v = args[++i];
      if (v === undefined) throw new Error(`--json needs a file; ${usage}`);
      o.json = v;
    } else throw new Error(`unknown argument ${a}; ${usage}`);
  }
  return o;
}

const podRef = { apiVersion: 'v1', kind: 'Pod' };
const svcRef = { apiVersion: 'v1', kind: 'Service' };
const deployRef = { apiVersion: 'apps/v1', kind: 'Deployment' };
const sliceRef = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' };

/** One GET on a new connection; undefined on a 200, else what went wrong. */
function get(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', agent: false, timeout: 5_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? undefined : `HTTP ${res.statusCode}`));
      res.on('error', (e) => resolve(e.message));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
}

async function readyPodIPs(cluster: NodeCluster): Promise<string[]> {
  const pods = await cluster.client.list(podRef, 'default', { labelSelector: 'app=bench-web' });
  return pods.items
    .filter((p) =>
      (
        ((p.status as Record<string, unknown>)['conditions'] ?? []) as { type: string; status: string }[]
      ).some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    .map((p) => String((p.status as Record<string, unknown>)['podIP']));
}

async function readyEndpointCount(cluster: NodeCluster): Promise<number> {
  const slices = await cluster.client.list(sliceRef, 'default', {
    labelSelector: 'kubernetes.io/service-name=bench-web',
  });
  let n = 0;
  for (const s of slices.items)
    for (const e of ((s as Record<string, unknown>)['endpoints'] ?? []) as {
      conditions?: { ready?: boolean };
    }[])
      if (e.conditions?.ready === true) n++;
  return n;
}

/** Answers per second from the DNS server at `ip:53`, `window` queries in flight, for `seconds`. */
async function dnsRate(
  ip: string,
  name: string,
  seconds: number,
  window = 64,
): Promise<{ qps: number; lost: number }> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '0.0.0.0', resolve));
  const query = (id: number): Uint8Array =>
    encodeMessage({
      id,
      flags: { ...emptyFlags(), rd: true },
      questions: [{ name, type: RRType.A, class: ClassIN }],
      answers: [],
      authorities: [],
      additionals: [],
    });
  const inFlight = new Map<number, number>();
  let answered = 0;
  let lost = 0;
  let nextId = 1;
  let running = true;
  const send = (): void => {
    if (!running) return;
    const id = nextId;
    nextId = (nextId % 65535) + 1;
    inFlight.set(id, performance.now());
    sock.send(query(id), 53, ip);
  };
  sock.on('message', (buf) => {
    const h = decodeHeader(new Uint8Array(buf));
    if (h === undefined || !inFlight.delete(h.id)) return;
    answered++;
    send();
  });
  const start = performance.now();
  for (let i = 0; i < window; i++) send();
  // Queries unanswered for a second are counted lost and replaced, so the window never drains.
  const sweeper = setInterval(() => {
    const now = performance.now();
    for (const [id, at] of inFlight)
      if (now - at > 1_000) {
        inFlight.delete(id);
        lost++;
        send();
      }
  }, 200);
  await new Promise((r) => setTimeout(r, seconds * 1_000));
  running = false;
  clearInterval(sweeper);
  const elapsed = (performance.now() - start) / 1_000;
  sock.close();
  return { qps: answered / elapsed, lost };
}

interface ModeFigures {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
}

function figures(runs: LoadResult[]): ModeFigures {
  const all = new Float64Array(runs.reduce((n, r) => n + r.latencies.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r.latencies, at);
    at += r.latencies.length;
  }
  const s = summarize(all);
  const rates = runs.map((r) => r.perSecond).sort((a, b) => a - b);
  return {
    rps: rates[Math.floor(rates.length / 2)] ?? Number.NaN,
    p50: s.p50,
    p99: s.p99,
    failed: runs.reduce((n, r) => n + r.failed, 0),
  };
}

export async function main(args: string[]): Promise<number> {
  const o = parseArgs(args);
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  let registry: TestRegistry | undefined;
  let cluster: NodeCluster | undefined;
  const layoutDir = mkdtempSync(join(tmpdir(), 'flotilla-bench-bb-'));
  try {
    log('setting up: local registry, busybox image, flotilla server + agent …');
    registry = await startRegistry();
    await buildBusyboxLayout(layoutDir, '1');
    await pushImage(layoutDir, '1', registry, 'bench/busybox:1');
    const image = `${registry.host}/bench/busybox:1`;
    cluster = await startNodeCluster();
    const c = cluster;
    const labels = { app: 'bench-web' };
    const deployment: KubeObject = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'bench-web', namespace: 'default' },
      spec: {
        replicas: 2,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [
              {
                name: 'web',
                image,
                command: [
                  'sh',
                  '-c',
                  'mkdir -p /www; head -c 1024 /dev/zero | tr "\\0" x > /www/index.html; exec httpd -f -p 8080 -h /www',
                ],
                ports: [{ name: 'http', containerPort: 8080 }],
                readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    };
    await c.client.create(deployRef, 'default', deployment);
    const svc = await c.client.create(svcRef, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'bench-web', namespace: 'default' },
      spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    const vip = String((svc.spec as Record<string, unknown>)['clusterIP']);
    const podIPs = await eventually(async () => {
      const ips = await readyPodIPs(c);
      if (ips.length !== 2 || (await readyEndpointCount(c)) !== 2) throw new Error('backends not ready');
      return ips;
    }, 120_000);
    await eventually(async () => {
      const problem = await get(vip, 80);
      if (problem !== undefined) throw new Error(problem);
    }, 30_000);
    log(`service ${vip}:80 → ${podIPs.map((ip) => `${ip}:8080`).join(', ')}`);
    await closedLoop(200, o.clients, () => get(vip, 80));

    const direct: LoadResult[] = [];
    const viaVip: LoadResult[] = [];
    for (let r = 0; r < o.rounds; r++) {
      direct.push(await closedLoop(o.requests, o.clients, (i) => get(podIPs[i % podIPs.length] ?? '', 8080)));
      viaVip.push(await closedLoop(o.requests, o.clients, () => get(vip, 80)));
      log(
        `round ${r + 1}/${o.rounds}: direct ${fmt(direct[r]?.perSecond)} req/s, vip ${fmt(viaVip[r]?.perSecond)} req/s`,
      );
    }
    const d = figures(direct);
    const v = figures(viaVip);
    const dns = await dnsRate(
      c.podCidr.replace(/\.0\/24$/, '.1'),
      'bench-web.default.svc.cluster.local',
      o.dnsSeconds,
    );
    const load = loadavg()
      .map((x) => x.toFixed(1))
      .join(' ');

    log('');
    log(
      `conditions: ${o.rounds} rounds × ${o.requests} requests per mode, ${o.clients} clients, 2 backends, load ${load}`,
    );
    log('mode     req/s    p50 ms   p99 ms   failed');
    log(`direct   ${fmt(d.rps).padEnd(8)} ${fmt(d.p50).padEnd(8)} ${fmt(d.p99).padEnd(8)} ${d.failed}`);
    log(`vip      ${fmt(v.rps).padEnd(8)} ${fmt(v.p50).padEnd(8)} ${fmt(v.p99).padEnd(8)} ${v.failed}`);
    log(`vip/direct throughput ratio: ${(v.rps / d.rps).toFixed(2)} (aim ≥ 0.9)`);
    log(`vip/direct p99 ratio: ${(v.p99 / d.p99).toFixed(2)}`);
    log(
      `cluster DNS: ${fmt(dns.qps)} queries/s answered (64 in flight, ${o.dnsSeconds} s, ${dns.lost} lost)`,
    );
    log('peer: Docker Swarm service VIPs need IPVS, which this kernel lacks — no peer figure');
    if (o.json !== undefined)
      writeFileSync(o.json, JSON.stringify({ direct: d, vip: v, dns, load, options: o }, null, 2));
    return d.failed + v.failed === 0 ? 0 : 1;
  } finally {
    await cluster?.close();
    await registry?.stop();
    rmSync(layoutDir, { recursive: true, force: true });
  }
}

runAsScript(import.meta.url, main, usage);
