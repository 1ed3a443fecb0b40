// Service datapath programming on this machine's kernel: how long the ServiceProxy takes to program N
// Services × M endpoints into a fresh nftables table, to apply one endpoint change with them present, and
// to add one Service. Needs root and nft. No traffic is sent.
//
//   npm run build && node dist/bench/proxy-program.js [--services 1000] [--endpoints 10] [--changes 20]
//
// The table is `table ip flbench<random>` and is removed at the end, also on failure or interruption.
// Service IPs are in 198.18.0.0/15 (the benchmarking range, so no other test's traffic matches them),
// endpoints are fictional 10.2xx.x.x pod IPs; Services are ClusterIP only (a NodePort would catch the
// node's own traffic to that port). The proxy's kernel sysctls are left alone. Times are whole ms,
// measured from the view change to `nft -f` having returned (render + nft); "nft" is the part spent in
// the nft process(es).
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { KubeObject } from '../src/api/types.js';
import { KernelProxyHost, removeNftTable, run, type ProxyHost } from '../src/agent/proxy/host.js';
import { ServiceProxy } from '../src/agent/proxy/proxy.js';
import type { ConntrackFlush } from '../src/agent/proxy/ruleset.js';
import { StaticServiceView } from '../src/agent/services/view.js';
import { onInterrupt } from './lib/cleanup.js';

interface Options {
  services: number;
  endpoints: number;
  changes: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { services: 1000, endpoints: 10, changes: 20 };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const v = Number(args[++i]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive whole number`);
    if (a === '--services') o.services = v;
    else if (a === '--endpoints') o.endpoints = v;
    else if (a === '--changes') o.changes = v;
    else throw new Error(`unknown option ${a} (--services N, --endpoints M, --changes K)`);
  }
  if (o.services > 60_000) throw new Error('--services: at most 60000');
  return o;
}

/** Counts time spent in nft and never touches sysctls (a benchmark must not change the machine). */
class TimedHost implements ProxyHost {
  private readonly kernel = new KernelProxyHost();
  nftMs = 0;
  nftRuns = 0;
  async nft(script: string): Promise<void> {
    const t0 = performance.now();
    try {
      await this.kernel.nft(script);
    } finally {
      this.nftMs += performance.now() - t0;
      this.nftRuns++;
    }
  }
  async listTable(table: string): Promise<string | undefined> {
    const t0 = performance.now();
    try {
      return await this.kernel.listTable(table);
    } finally {
      this.nftMs += performance.now() - t0;
      this.nftRuns++;
    }
  }
  conntrackDelete(f: ConntrackFlush): Promise<boolean> {
    return this.kernel.conntrackDelete(f);
  }
  async prepareKernel(): Promise<string[]> {
    return [];
  }
}

const vip = (i: number): string => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const podNet = 200 + Math.floor(Math.random() * 50);
let podSeq = 0;
/** A fresh fictional pod IP (10.2xx.x.x). */
const podIP = (): string => {
  const n = podSeq++;
  return `10.${podNet + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
};

function service(i: number): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `svc-${i}`, namespace: 'bench', resourceVersion: String(i + 1) },
    spec: {
      type: 'ClusterIP',
      clusterIP: vip(i),
      clusterIPs: [vip(i)],
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
    },
  };
}

function slice(i: number, ips: string[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `svc-${i}-abcde`,
      namespace: 'bench',
      labels: { 'kubernetes.io/service-name': `svc-${i}` },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({
      addresses: [ip],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: 'node-a',
    })),
  };
}

const ms = (n: number): string => `${Math.round(n)} ms`;
const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

const cleanupDelayMs = 1000;

export async function main(argv: string[]): Promise<number> {
  const o = parseArgs(argv);
  if (process.getuid?.() !== 0) {
    process.stderr.write('proxy-program: needs root (nft)\n');
    return 1;
  }
  if ((await run('nft', ['--version']).catch(() => undefined))?.code !== 0) {
    process.stderr.write('proxy-program: nft not found\n');
    return 1;
  }
  const table = `flbench${randomBytes(3).toString('hex')}`;
  const forget = onInterrupt(() => removeNftTable(table));
  const host = new TimedHost();
  const view = new StaticServiceView();
  const proxy = new ServiceProxy({
    view,
    node: { nodeName: 'node-a', nodeIPs: ['127.0.0.1'], bridge: 'flbench0', podCidr: `10.${podNet}.0.0/16` },
    table,
    host,
    resyncIntervalMs: 0,
    cleanupDelayMs,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  try {
    console.log(
      `proxy-program: ${o.services} Services × ${o.endpoints} endpoints into table ip ${table}; loadavg at start ${load()}`,
    );
    const services: KubeObject[] = [];
    const endpoints: string[][] = [];
    const slices: KubeObject[] = [];
    for (let i = 0; i < o.services; i++) {
      services.push(service(i));
      endpoints.push(Array.from({ length: o.endpoints }, podIP));
      slices.push(slice(i, endpoints[i] ?? []));
    }

    // 1. The first full program: the whole table in one transaction.
    view.set(services, slices);
    let nft0 = host.nftMs;
    let t0 = performance.now();
    await proxy.start();
    await proxy.syncNow();
    const first = performance.now() - t0;
    if (proxy.appliedRevision() !== 1) throw new Error('the first sync did not program the view');
    console.log(
      `first full program: ${ms(first)} (nft ${ms(host.nftMs - nft0)}, ${proxy.appliedTargets().size} pod IPs programmed)`,
    );

    // 2. One endpoint change: one endpoint of one Service replaced by a new pod IP (one slice updated).
    const changes: number[] = [];
    const changeNft: number[] = [];
    for (let k = 0; k < o.changes; k++) {
      const i = (k * 7919) % o.services;
      const eps = endpoints[i] ?? [];
      const gone = eps[k % eps.length] ?? '';
      const fresh = podIP();
      eps[k % eps.length] = fresh;
      slices[i] = slice(i, eps);
      nft0 = host.nftMs;
      t0 = performance.now();
      view.set(services, [...slices]);
      view.emit();
      await proxy.syncNow();
      changes.push(performance.now() - t0);
      changeNft.push(host.nftMs - nft0);
      const targets = proxy.appliedTargets();
      if (!targets.has(fresh) || targets.has(gone)) throw new Error(`endpoint change ${k} not programmed`);
    }
    console.log(
      `one endpoint change: median ${ms(median(changes))}, max ${ms(Math.max(...changes))} ` +
        `(nft median ${ms(median(changeNft))}) over ${o.changes} changes`,
    );

    // The old rules the changes left under the new ones go in a transaction of their own once quiet.
    nft0 = host.nftMs;
    await new Promise((r) => setTimeout(r, cleanupDelayMs + 500));
    console.log(
      `  (old rules removed ${cleanupDelayMs} ms after the last change, off the change path: nft ${ms(host.nftMs - nft0)})`,
    );

    // 3. One Service added (with its endpoints).
    const adds: number[] = [];
    const addNft: number[] = [];
    for (let k = 0; k < Math.min(o.changes, 5); k++) {
      const i = services.length;
      services.push(service(i));
      const eps = Array.from({ length: o.endpoints }, podIP);
      endpoints.push(eps);
      slices.push(slice(i, eps));
      nft0 = host.nftMs;
      t0 = performance.now();
      view.set([...services], [...slices]);
      view.emit();
      await proxy.syncNow();
      adds.push(performance.now() - t0);
      addNft.push(host.nftMs - nft0);
      if (!proxy.appliedTargets().has(eps[0] ?? '')) throw new Error('added Service not programmed');
    }
    console.log(
      `one Service added: median ${ms(median(adds))}, max ${ms(Math.max(...adds))} (nft median ${ms(median(addNft))})`,
    );
    // 4. The periodic full resync (names listed, every chain and map rewritten in one transaction).
    nft0 = host.nftMs;
    t0 = performance.now();
    await proxy.resyncNow();
    console.log(`full resync: ${ms(performance.now() - t0)} (nft ${ms(host.nftMs - nft0)})`);
    console.log(`loadavg at end ${load()}; ${host.nftRuns} nft runs`);
    return 0;
  } finally {
    proxy.stop();
    await removeNftTable(table).catch((err: unknown) =>
      process.stderr.write(`removing table ip ${table}: ${(err as Error).message}\n`),
    );
    forget();
  }
}

if (process.argv[1]?.endsWith('proxy-program.js') === true) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(
        `proxy-program failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
