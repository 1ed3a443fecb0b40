// The datapath for real, as root, without the API: a bridge and three network namespaces ("pods") each
// running a tiny HTTP server that answers with its name, a ServiceProxy over a StaticServiceView, and real
// traffic from the host and from a pod to Service IPs and a NodePort on 127.0.0.1. Names, the /24, the
// Service IPs and the nft table are unique to this run; afterAll removes the table, the namespaces
// (their veths go with them) and the bridge. Sysctls the proxy turns on (ip_forward, route_localnet,
// bridge-nf-call-iptables) stay on, as they would on a node.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '../../api/types.js';
import { StaticServiceView } from '../services/view.js';
import { run } from './host.js';
import { ServiceProxy } from './proxy.js';
import {
  buildRuleset,
  parseTableNames,
  renderFull,
  renderRuleset,
  renderUpdate,
  trafficSets,
} from './ruleset.js';
import { readKernelCounters } from './traffic.js';
import { slice, svc, type Ep } from './testing.js';

const nftOk =
  process.getuid?.() === 0 && (await run('nft', ['--version']).catch(() => undefined))?.code === 0;
if (!nftOk) console.warn('skipping datapath integration tests: needs root and nft');

const id = randomBytes(3).toString('hex');
const table = `flt${id}`;
const bridge = `flp-${id}`;
const nsName = (i: number): string => `flp${id}-${i}`;
const svcNet = `10.96.${100 + Math.floor(Math.random() * 150)}`;
const nodePort = 30000 + Math.floor(Math.random() * 2700);
let subnet = '';
const podIP = (i: number): string => `${subnet}.${i + 2}`;
const servers: ChildProcess[] = [];

async function sh(file: string, args: string[], input?: string): Promise<string> {
  const r = await run(file, args, input);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** One HTTP GET on a fresh connection (from the host); the answering pod's name, or the error code. */
function get(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve(`error:${err.code ?? err.message}`));
    req.end();
  });
}

async function counts(host: string, port: number, n: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const who = await get(host, port);
    out[who] = (out[who] ?? 0) + 1;
  }
  return out;
}

/** n GETs from inside pod i (a node one-liner in its netns); answers by pod name. */
async function countsFromPod(
  i: number,
  host: string,
  port: number,
  n: number,
): Promise<Record<string, number>> {
  const script = `const http=require('http');const out={};let k=0;const one=()=>{if(k++>=${n}){console.log(JSON.stringify(out));return;}
const r=http.get({host:'${host}',port:${port},agent:false,timeout:3000},(res)=>{let b='';res.on('data',(d)=>b+=d);res.on('end',()=>{out[b]=(out[b]||0)+1;one();});});
r.on('timeout',()=>r.destroy(new Error('timeout')));r.on('error',(e)=>{const c='error:'+(e.code||e.message);out[c]=(out[c]||0)+1;one();});};one();`;
  return JSON.parse(await sh('ip', ['netns', 'exec', nsName(i), process.execPath, '-e', script])) as Record<
    string,
    number
  >;
}

const view = new StaticServiceView();
const node = { nodeName: 'node-a', nodeIPs: ['127.0.0.1'], bridge, podCidr: '' };
let proxy: ServiceProxy;

const eps = (...is: number[]): Ep[] => is.map((i) => ({ ip: podIP(i) }));
function objects(webEps: Ep[]): { services: KubeObject[]; slices: KubeObject[] } {
  return {
    services: [
      svc('web', {
        clusterIP: `${svcNet}.10`,
        type: 'NodePort',
        ports: [{ name: 'http', port: 80, nodePort }],
      }),
      svc('self', { clusterIP: `${svcNet}.11` }),
      svc('sticky', { clusterIP: `${svcNet}.12`, affinitySeconds: 30 }),
      svc('empty', { clusterIP: `${svcNet}.13` }),
      svc('headless', { clusterIP: 'None' }),
    ],
    slices: [
      slice('web', webEps),
      slice('self', eps(0)),
      slice('sticky', eps(0, 1)),
      slice('headless', eps(0, 1)),
    ],
  };
}
function setObjects(webEps: Ep[]): void {
  const o = objects(webEps);
  view.set(o.services, o.slices, [`${svcNet}.0/24`]);
  view.emit();
}

describe.skipIf(!nftOk)('nftables datapath (real netns)', () => {
  beforeAll(async () => {
    const routes = await sh('ip', ['-4', 'route', 'show']);
    do subnet = `10.${200 + Math.floor(Math.random() * 51)}.${Math.floor(Math.random() * 256)}`;
    while (routes.includes(`${subnet}.`));
    node.podCidr = `${subnet}.0/24`;
    await sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await sh('ip', ['addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
    await sh('ip', ['link', 'set', bridge, 'up']);
    for (let i = 0; i < 3; i++) {
      const ns = nsName(i);
      const host = `vp${id}${i}`;
      await sh('ip', ['netns', 'add', ns]);
      await sh('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      await sh('ip', ['link', 'set', host, 'master', bridge, 'up']);
      // As the CNI bridge plugin's hairpinMode: a pod reaching itself through a Service IP.
      await sh('ip', ['link', 'set', host, 'type', 'bridge_slave', 'hairpin', 'on']);
      await sh('ip', ['-n', ns, 'addr', 'add', `${podIP(i)}/24`, 'dev', 'eth0']);
      await sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      await sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      await sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', `${subnet}.1`]);
      const srv = spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          process.execPath,
          '-e',
          `require('http').createServer((q,s)=>s.end('pod-${i}')).listen(8080,()=>console.log('up'))`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      servers.push(srv);
      await new Promise<void>((resolve) => srv.stdout?.once('data', () => resolve()));
    }
    setObjects(eps(0, 1, 2));
    proxy = new ServiceProxy({
      view,
      node,
      table,
      minSyncIntervalMs: 10,
      resyncIntervalMs: 0,
      log: () => undefined,
    });
    await proxy.start();
    await proxy.syncNow();
  });

  afterAll(async () => {
    proxy?.stop();
    await proxy?.removeTable().catch(() => undefined);
    for (const s of servers) s.kill('SIGKILL');
    for (let i = 0; i < 3; i++) await run('ip', ['netns', 'del', nsName(i)]);
    await run('ip', ['link', 'del', bridge]);
    const left = await sh('nft', ['list', 'tables']);
    expect(left).not.toContain(table);
    expect(await sh('ip', ['-br', 'link'])).not.toContain(bridge);
  });

  it('nft accepts the full script, an update and a resync of a realistic ruleset (nft -c)', async () => {
    const o = objects(eps(0, 1, 2));
    const inp = { ...o, node, options: { table: `${table}c`, balance: 'round-robin' as const } };
    await sh('nft', ['-c', '-f', '-'], renderRuleset(inp));
    const a = buildRuleset(inp);
    const b = buildRuleset({ ...inp, ...objects(eps(1)) });
    // An update and a resync need the table to exist: check them against ours (same layout, other name).
    const ours = (s: string): string => s.replaceAll(`ip ${table}c `, `ip ${table} `);
    await sh('nft', ['-c', '-f', '-'], ours(renderUpdate(a, b)));
    await sh(
      'nft',
      ['-c', '-f', '-'],
      ours(
        renderUpdate(undefined, b, parseTableNames(await sh('nft', ['-t', 'list', 'table', 'ip', table]))),
      ),
    );
    expect(renderFull(a)).toContain(`table ip ${table}c {`);
  });

  it('spreads connections from the host to a Service IP over every endpoint', async () => {
    const c = await counts(`${svcNet}.10`, 80, 45);
    expect(Object.keys(c).sort()).toEqual(['pod-0', 'pod-1', 'pod-2']);
  });

  it('spreads connections from a pod, and a pod reaches itself through its Service (hairpin)', async () => {
    const c = await countsFromPod(1, `${svcNet}.10`, 80, 30);
    expect(Object.keys(c).sort()).toEqual(['pod-0', 'pod-1', 'pod-2']);
    expect(await countsFromPod(0, `${svcNet}.11`, 80, 3)).toEqual({ 'pod-0': 3 });
  });

  it('counts new connections and HTTP requests per Service VIP and per endpoint (traffic counters)', async () => {
    const vip = `${svcNet}.10:80`;
    const endpoints = [0, 1, 2].map((i) => `${podIP(i)}:8080`);
    const sum = (m: Map<string, number> | undefined, keys: string[]): number =>
      keys.reduce((n, k) => n + (m?.get(k) ?? 0), 0);
    const before = await readKernelCounters(table);
    await counts(`${svcNet}.10`, 80, 10);
    await countsFromPod(1, `${svcNet}.10`, 80, 6);
    // One kept-alive connection carrying three requests: one connection, three requests.
    const keep = new Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 3; i++)
      await new Promise<void>((resolve, reject) =>
        request({ host: `${svcNet}.10`, port: 80, path: '/', agent: keep }, (res) => {
          res.resume().on('end', () => resolve());
        })
          .on('error', reject)
          .end(),
      );
    keep.destroy();
    const after = await readKernelCounters(table);
    const delta = (set: string, keys: string[]): number =>
      sum(after.get(set), keys) - sum(before.get(set), keys);
    expect(delta(trafficSets.serviceConnections, [vip])).toBe(17);
    expect(delta(trafficSets.serviceRequests, [vip])).toBe(19);
    expect(delta(trafficSets.endpointConnections, endpoints)).toBe(17);
    expect(delta(trafficSets.endpointRequests, endpoints)).toBe(19);
    // A periodic resync rewrites the table but keeps the counters (rates do not dip to zero).
    await proxy.resyncNow();
    const resynced = await readKernelCounters(table);
    expect(sum(resynced.get(trafficSets.serviceRequests), [vip])).toBe(
      sum(after.get(trafficSets.serviceRequests), [vip]),
    );
  });

  it('answers on the NodePort at 127.0.0.1', async () => {
    const c = await counts('127.0.0.1', nodePort, 15);
    expect(Object.keys(c).every((k) => k.startsWith('pod-'))).toBe(true);
  });

  it('ClientIP affinity keeps one client on one endpoint', async () => {
    const c = await counts(`${svcNet}.12`, 80, 12);
    expect(Object.values(c)).toEqual([12]);
  });

  it('refuses at once when a Service has no endpoint', async () => {
    const t0 = Date.now();
    expect(await get(`${svcNet}.13`, 80)).toBe('error:ECONNREFUSED');
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('refuses an address or port of the Service range that no Service holds, from the host and from a pod', async () => {
    // The guard is in place before anything is sent: without it the packets would take the default route.
    const listed = await sh('nft', ['list', 'chain', 'ip', table, 'unallocated-output']);
    expect(listed).toContain(`ip daddr ${svcNet}.0/24 jump reject-chain`);
    expect(await sh('nft', ['list', 'chain', 'ip', table, 'unallocated-forward'])).toContain(
      `ip daddr ${svcNet}.0/24 jump reject-chain`,
    );
    const t0 = Date.now();
    expect(await get(`${svcNet}.99`, 80)).toBe('error:ECONNREFUSED');
    expect(await get(`${svcNet}.10`, 81)).toBe('error:ECONNREFUSED');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await countsFromPod(0, `${svcNet}.99`, 80, 2)).toEqual({ 'error:ECONNREFUSED': 2 });
    // Services of the range still answer.
    expect(Object.keys(await counts(`${svcNet}.10`, 80, 3)).every((k) => k.startsWith('pod-'))).toBe(true);
  });

  it('stops sending new connections to a removed endpoint, and drained() says so', async () => {
    const draining = proxy.drained([podIP(2)], 5000);
    setObjects([...eps(0, 1), { ip: podIP(2), ready: false, serving: true, terminating: true }]);
    const r = await draining;
    expect(r.drained).toBe(true);
    expect(r.waitedMs).toBeLessThan(1000);
    const c = await counts(`${svcNet}.10`, 80, 30);
    expect(Object.keys(c).sort()).toEqual(['pod-0', 'pod-1']);
    // Nothing ready: the terminating-but-serving endpoint takes connections again (upstream fallback).
    setObjects([{ ip: podIP(2), ready: false, serving: true, terminating: true }]);
    await proxy.syncNow();
    expect(await counts(`${svcNet}.10`, 80, 5)).toEqual({ 'pod-2': 5 });
  });

  it('removes the old rules an endpoint change left under the new one once changes are quiet', async () => {
    const dnats = async (): Promise<number> =>
      (await sh('nft', ['list', 'chain', 'ip', table, 'svc-default/web/tcp/http'])).split('dnat').length - 1;
    setObjects(eps(0, 1));
    await proxy.syncNow();
    expect(await dnats()).toBeGreaterThan(1); // the new rule was inserted above the old ones
    expect(Object.keys(await counts(`${svcNet}.10`, 80, 20)).sort()).toEqual(['pod-0', 'pod-1']);
    const until = Date.now() + 5000;
    while ((await dnats()) > 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await dnats()).toBe(1);
    expect(Object.keys(await counts(`${svcNet}.10`, 80, 20)).sort()).toEqual(['pod-0', 'pod-1']);
  });
});
