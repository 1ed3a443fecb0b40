// The Service datapath as data: Services + EndpointSlices + facts about this node → the nftables ruleset of
// the one table the agent owns. Pure (no I/O, no clock): the applier (proxy.ts) renders it, compares and
// hands the text to `nft -f`. The layout follows kube-proxy's nftables mode (docs/design/proxy.md):
//
//   nat-prerouting / nat-output ─► services: `ip daddr . meta l4proto . th dport vmap @service-ips`
//                                            `fib daddr type local meta l4proto . th dport vmap @service-nodeports`
//   svc-<id>   one chain per service port: affinity lookups, then `numgen random|inc mod N vmap {…}`
//   ext-<id>   NodePort entry: masquerade mark, then the service chain (or the local endpoints only)
//   ep-<id>__<ip>/<port>   hairpin masquerade mark, affinity update, `dnat to ip:port`
//   filter-prerouting / filter-output ─► service-endpoints-check: reject (or drop) for ports with no endpoint
//   nat-postrouting ─► masquerading: masquerade what carries the mark
//
// Names are stable (namespace/name/protocol/port), so an update can rewrite only the chains that changed
// and keep the affinity sets (with their client entries) of the endpoints that stayed.
import type { KubeObject } from '../../api/types.js';
import { asArr, asBool, asNum, asObj, asStr, asStrMap } from '../../api/validation/access.js';

export type Balance = 'random' | 'round-robin';
export type L4 = 'tcp' | 'udp' | 'sctp';

export interface ProxyNodeFacts {
  nodeName: string;
  /** The node's own addresses (informational: NodePorts match every local address via `fib`). */
  nodeIPs: string[];
  /** The pod bridge (the hairpin path runs through it). */
  bridge: string;
  podCidr: string;
}

export interface RulesetOptions {
  /** Name of the `table ip <name>` the agent owns. */
  table: string;
  balance: Balance;
  /** When set, ClusterIP traffic from outside this range is masqueraded (kube-proxy's --cluster-cidr). */
  clusterCidr?: string;
  /** The packet mark bit that asks for masquerading (default 0x4000, as kube-proxy). */
  masqueradeMark?: number;
}

export interface RulesetInput {
  services: readonly KubeObject[];
  slices: readonly KubeObject[];
  node: ProxyNodeFacts;
  options: RulesetOptions;
}

export interface EndpointInfo {
  ip: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
}

export interface ServicePortInfo {
  /** `<namespace>/<name>/<protocol>/<port name or number>`: unique and stable. */
  id: string;
  protocol: L4;
  clusterIPs: string[];
  port: number;
  nodePort?: number;
  externalLocal: boolean;
  internalLocal: boolean;
  /** sessionAffinity ClientIP: the timeout in seconds. */
  affinitySeconds?: number;
  endpoints: EndpointInfo[];
}

export interface Chain {
  /** `type nat hook prerouting priority -100; policy accept;` for base chains. */
  hook?: string;
  rules: string[];
}

export interface NftMap {
  /** `ipv4_addr . inet_proto . inet_service : verdict` */
  type: string;
  /** key → value, e.g. `10.43.0.10 . tcp . 80` → `goto svc-default/web/tcp/http`. */
  elements: Map<string, string>;
}

/** A UDP flow that may still have conntrack entries: (destination VIP or NodePort) → endpoint. */
export interface UdpFlow {
  id: string;
  clusterIPs: string[];
  nodePort?: number;
  endpoints: string[];
}

export interface Ruleset {
  table: string;
  chains: Map<string, Chain>;
  /** Affinity sets: name → definition. */
  sets: Map<string, string>;
  maps: Map<string, NftMap>;
  /** Pod IPs this ruleset sends new connections to (sorted). */
  targets: string[];
  /** UDP service ports and the endpoints they send to (for conntrack cleanup). */
  udp: UdpFlow[];
}

/** One conntrack deletion: `conntrack -D -p udp [--orig-dst V] [--orig-port-dst P] [--reply-src E]`. */
export interface ConntrackFlush {
  origDst?: string;
  origPortDst?: number;
  replySrc?: string;
}

/** The chain, set and map names a table holds (parsed from `nft -t list table`). */
export interface TableNames {
  chains: string[];
  sets: string[];
  maps: string[];
}

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const cidr4 = /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/;
// Kubernetes names that can appear in chain names: DNS labels (namespaces, services, port names).
const label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const tableName = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function isIPv4(s: string): boolean {
  return ipv4.test(s);
}

/** A table name nft accepts unquoted (the agent flag is checked with it). */
export function isValidTableName(s: string): boolean {
  return tableName.test(s);
}

function ipKey(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

function byIpPort(a: EndpointInfo, b: EndpointInfo): number {
  return ipKey(a.ip) - ipKey(b.ip) || a.port - b.port;
}

function l4(v: unknown): L4 | undefined {
  const p = v === undefined || v === null || v === '' ? 'TCP' : v;
  return p === 'TCP' ? 'tcp' : p === 'UDP' ? 'udp' : p === 'SCTP' ? 'sctp' : undefined;
}

/**
 * The service ports that get rules, with their endpoints: ClusterIP, NodePort and LoadBalancer Services
 * with an IPv4 cluster IP. Headless and ExternalName Services have no datapath. Sorted by id.
 */
export function servicePorts(
  services: readonly KubeObject[],
  slices: readonly KubeObject[],
): ServicePortInfo[] {
  // Slices by <namespace>/<service name>.
  const bySvc = new Map<string, KubeObject[]>();
  for (const s of slices) {
    const svc = asStrMap(s.metadata.labels)['kubernetes.io/service-name'];
    if (svc === undefined || (s as { addressType?: unknown }).addressType !== 'IPv4') continue;
    const k = `${s.metadata.namespace ?? ''}/${svc}`;
    const list = bySvc.get(k) ?? [];
    list.push(s);
    bySvc.set(k, list);
  }
  const out: ServicePortInfo[] = [];
  for (const svc of services) {
    const ns = svc.metadata.namespace ?? '';
    const name = svc.metadata.name ?? '';
    if (!label.test(ns) || !label.test(name)) continue;
    const spec = asObj(svc.spec) ?? {};
    const type = asStr(spec['type']) ?? 'ClusterIP';
    if (type === 'ExternalName') continue;
    const ipsRaw = asArr(spec['clusterIPs']).length > 0 ? asArr(spec['clusterIPs']) : [spec['clusterIP']];
    const clusterIPs = ipsRaw.filter((x): x is string => typeof x === 'string' && isIPv4(x));
    if (clusterIPs.length === 0) continue; // headless (None) or not allocated yet
    const hasNodePorts = type === 'NodePort' || type === 'LoadBalancer';
    const affinity =
      spec['sessionAffinity'] === 'ClientIP'
        ? (asNum(asObj(asObj(spec['sessionAffinityConfig'])?.['clientIP'])?.['timeoutSeconds']) ?? 10800)
        : undefined;
    for (const p of asArr(spec['ports'])) {
      const po = asObj(p);
      if (po === undefined) continue;
      const protocol = l4(po['protocol']);
      const port = asNum(po['port']);
      const portName = asStr(po['name']) ?? '';
      if (protocol === undefined || port === undefined || port < 1 || port > 65535) continue;
      if (portName !== '' && !label.test(portName)) continue;
      const nodePort = asNum(po['nodePort']);
      const endpoints = new Map<string, EndpointInfo>();
      for (const slice of bySvc.get(`${ns}/${name}`) ?? []) {
        const sp = asArr((slice as { ports?: unknown }).ports)
          .map(asObj)
          .find((x) => (asStr(x?.['name']) ?? '') === portName && l4(x?.['protocol']) === protocol);
        const epPort = asNum(sp?.['port']);
        if (epPort === undefined || epPort < 1 || epPort > 65535) continue;
        for (const e of asArr((slice as { endpoints?: unknown }).endpoints)) {
          const eo = asObj(e);
          if (eo === undefined) continue;
          const cond = asObj(eo['conditions']) ?? {};
          // API semantics: an unknown `ready` counts as ready; unknown `serving` follows `ready`.
          const ready = asBool(cond['ready']) ?? true;
          const serving = asBool(cond['serving']) ?? ready;
          const terminating = asBool(cond['terminating']) ?? false;
          const nodeName = asStr(eo['nodeName']);
          for (const a of asArr(eo['addresses'])) {
            if (typeof a !== 'string' || !isIPv4(a)) continue;
            const info: EndpointInfo = { ip: a, port: epPort, ready, serving, terminating };
            if (nodeName !== undefined) info.nodeName = nodeName;
            const k = `${a}:${epPort}`;
            const prev = endpoints.get(k);
            // The same address in two slices (mid-move between slices): the more usable one wins.
            if (prev === undefined || (!prev.ready && ready) || (!prev.serving && serving))
              endpoints.set(k, info);
          }
        }
      }
      const info: ServicePortInfo = {
        id: `${ns}/${name}/${protocol}/${portName === '' ? String(port) : portName}`,
        protocol,
        clusterIPs: [...new Set(clusterIPs)].sort((a, b) => ipKey(a) - ipKey(b)),
        port,
        externalLocal: spec['externalTrafficPolicy'] === 'Local',
        internalLocal: spec['internalTrafficPolicy'] === 'Local',
        endpoints: [...endpoints.values()].sort(byIpPort),
      };
      if (hasNodePorts && nodePort !== undefined && nodePort >= 1 && nodePort <= 65535)
        info.nodePort = nodePort;
      if (affinity !== undefined && affinity > 0) info.affinitySeconds = Math.floor(affinity);
      out.push(info);
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * The endpoints that take new connections, as upstream: the ready ones; when none is ready, the ones
 * still serving while terminating (so a Service whose every pod is shutting down keeps answering).
 */
export function usableEndpoints(eps: readonly EndpointInfo[], onlyNode?: string): EndpointInfo[] {
  const pool = onlyNode === undefined ? eps : eps.filter((e) => e.nodeName === onlyNode);
  const ready = pool.filter((e) => e.ready);
  if (ready.length > 0) return ready;
  return pool.filter((e) => e.serving && e.terminating);
}

const T = (table: string): string => `ip ${table}`;

function spread(chains: string[], balance: Balance): string {
  if (chains.length === 1) return `goto ${chains[0] ?? ''}`;
  const gen = balance === 'round-robin' ? 'inc' : 'random';
  const arms = chains.map((c, i) => `${i} : goto ${c}`).join(', ');
  return `numgen ${gen} mod ${chains.length} vmap { ${arms} }`;
}

/** Builds the ruleset (the structure renderFull and renderUpdate print). Deterministic: sorted throughout. */
export function buildRuleset(input: RulesetInput): Ruleset {
  const { node, options } = input;
  const mark = `0x${(options.masqueradeMark ?? 0x4000).toString(16)}`;
  const chains = new Map<string, Chain>();
  const sets = new Map<string, string>();
  const serviceIps = new Map<string, string>();
  const nodePorts = new Map<string, string>();
  const noEpServices = new Map<string, string>();
  const noEpNodePorts = new Map<string, string>();
  const targets = new Set<string>();
  const udp: UdpFlow[] = [];

  chains.set('filter-prerouting', {
    hook: 'type filter hook prerouting priority -110; policy accept;',
    rules: ['ct state new jump service-endpoints-check'],
  });
  chains.set('filter-output', {
    hook: 'type filter hook output priority -110; policy accept;',
    rules: ['ct state new jump service-endpoints-check'],
  });
  // NodePorts on 127.0.0.1 need route_localnet; this keeps other hosts from reaching 127/8 through it
  // (kube-proxy's guard for CVE-2020-8558): only connections we DNAT'ed may arrive from outside.
  chains.set('filter-input', {
    hook: 'type filter hook input priority -10; policy accept;',
    rules: [
      'iifname != "lo" ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state new ct status & dnat == 0 drop',
    ],
  });
  chains.set('nat-prerouting', {
    hook: 'type nat hook prerouting priority -100; policy accept;',
    rules: ['jump services'],
  });
  chains.set('nat-output', {
    hook: 'type nat hook output priority -100; policy accept;',
    rules: ['jump services'],
  });
  chains.set('nat-postrouting', {
    hook: 'type nat hook postrouting priority 100; policy accept;',
    rules: ['jump masquerading'],
  });
  chains.set('services', {
    rules: [
      'ip daddr . meta l4proto . th dport vmap @service-ips',
      'fib daddr type local meta l4proto . th dport vmap @service-nodeports',
    ],
  });
  chains.set('service-endpoints-check', {
    rules: [
      'ip daddr . meta l4proto . th dport vmap @no-endpoint-services',
      'fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports',
    ],
  });
  // Fail fast: a TCP client gets a reset, others "host unreachable", instead of waiting for a timeout.
  chains.set('reject-chain', {
    rules: ['meta l4proto tcp reject with tcp reset', 'reject with icmp type host-unreachable'],
  });
  chains.set('mark-for-masquerade', { rules: [`meta mark set meta mark | ${mark}`] });
  chains.set('masquerading', {
    rules: [
      `meta mark & ${mark} == 0 return`,
      `meta mark set meta mark ^ ${mark}`,
      'masquerade fully-random',
    ],
  });

  const clusterCidr =
    options.clusterCidr !== undefined && cidr4.test(options.clusterCidr) ? options.clusterCidr : undefined;

  for (const sp of servicePorts(input.services, input.slices)) {
    const svcChain = `svc-${sp.id}`;
    const extChain = `ext-${sp.id}`;
    const epChain = (e: EndpointInfo): string => `ep-${sp.id}__${e.ip}/${e.port}`;
    const affSet = (e: EndpointInfo): string => `aff${sp.affinitySeconds ?? 0}-${sp.id}__${e.ip}/${e.port}`;
    const keyFor = (ip: string): string => `${ip} . ${sp.protocol} . ${sp.port}`;
    const npKey = sp.nodePort === undefined ? undefined : `${sp.protocol} . ${sp.nodePort}`;

    const cluster = usableEndpoints(sp.endpoints);
    const internal = sp.internalLocal ? usableEndpoints(sp.endpoints, node.nodeName) : cluster;
    const external = sp.externalLocal ? usableEndpoints(sp.endpoints, node.nodeName) : cluster;
    const used = new Map<string, EndpointInfo>();
    for (const e of [...internal, ...(npKey === undefined ? [] : external)]) used.set(`${e.ip}:${e.port}`, e);
    const usedSorted = [...used.values()].sort(byIpPort);

    for (const e of usedSorted) {
      const rules = [`ip saddr ${e.ip} jump mark-for-masquerade`];
      if (sp.affinitySeconds !== undefined) {
        sets.set(affSet(e), `type ipv4_addr; flags dynamic,timeout; timeout ${sp.affinitySeconds}s;`);
        rules.push(`update @${affSet(e)} { ip saddr }`);
      }
      rules.push(`meta l4proto ${sp.protocol} dnat to ${e.ip}:${e.port}`);
      chains.set(epChain(e), { rules });
      targets.add(e.ip);
    }
    // A spread over endpoints, preceded by the affinity lookups (a known client goes back to its endpoint).
    const spreadRules = (eps: EndpointInfo[]): string[] => [
      ...(sp.affinitySeconds === undefined
        ? []
        : eps.map((e) => `ip saddr @${affSet(e)} goto ${epChain(e)}`)),
      spread(eps.map(epChain), options.balance),
    ];

    if (internal.length > 0) {
      chains.set(svcChain, {
        rules: [
          ...(clusterCidr === undefined ? [] : [`ip saddr != ${clusterCidr} jump mark-for-masquerade`]),
          ...spreadRules(internal),
        ],
      });
      for (const ip of sp.clusterIPs) serviceIps.set(keyFor(ip), `goto ${svcChain}`);
    } else {
      // No endpoint at all: reject. Endpoints only elsewhere with internalTrafficPolicy Local: drop, as upstream.
      const verdict = cluster.length === 0 ? 'goto reject-chain' : 'drop';
      for (const ip of sp.clusterIPs) noEpServices.set(keyFor(ip), verdict);
    }

    if (npKey !== undefined) {
      if (external.length > 0) {
        if (sp.externalLocal) {
          // Local: the client address is kept (no masquerade), except for connections from this host,
          // which cannot come back otherwise (127.0.0.1 especially).
          chains.set(extChain, {
            rules: ['fib saddr type local jump mark-for-masquerade', ...spreadRules(external)],
          });
        } else if (internal === cluster && internal.length > 0) {
          chains.set(extChain, { rules: ['jump mark-for-masquerade', `goto ${svcChain}`] });
        } else {
          chains.set(extChain, { rules: ['jump mark-for-masquerade', ...spreadRules(external)] });
        }
        nodePorts.set(npKey, `goto ${extChain}`);
      } else {
        noEpNodePorts.set(npKey, cluster.length === 0 ? 'goto reject-chain' : 'drop');
      }
    }

    if (sp.protocol === 'udp') {
      const flow: UdpFlow = {
        id: sp.id,
        clusterIPs: sp.clusterIPs,
        endpoints: [...new Set(usedSorted.map((e) => e.ip))],
      };
      if (sp.nodePort !== undefined) flow.nodePort = sp.nodePort;
      udp.push(flow);
    }
  }

  const maps = new Map<string, NftMap>([
    ['no-endpoint-nodeports', { type: 'inet_proto . inet_service : verdict', elements: noEpNodePorts }],
    [
      'no-endpoint-services',
      { type: 'ipv4_addr . inet_proto . inet_service : verdict', elements: noEpServices },
    ],
    ['service-ips', { type: 'ipv4_addr . inet_proto . inet_service : verdict', elements: serviceIps }],
    ['service-nodeports', { type: 'inet_proto . inet_service : verdict', elements: nodePorts }],
  ]);
  return {
    table: options.table,
    chains,
    sets,
    maps,
    targets: [...targets].sort((a, b) => ipKey(a) - ipKey(b)),
    udp,
  };
}

function sortedKeys<V>(m: Map<string, V>): string[] {
  return [...m.keys()].sort();
}

function elementLines(m: NftMap, keys: string[]): string {
  return keys.map((k) => `${k} : ${m.elements.get(k) ?? ''}`).join(', ');
}

/**
 * The whole table in one script: `table ip T {}` + `delete table ip T` + the full definition, so
 * `nft -f` replaces whatever the table held in one transaction (or creates it).
 */
export function renderFull(rs: Ruleset): string {
  const out: string[] = [`table ${T(rs.table)} {}`, `delete table ${T(rs.table)}`, `table ${T(rs.table)} {`];
  for (const name of sortedKeys(rs.maps)) {
    const m = rs.maps.get(name);
    if (m === undefined) continue;
    out.push(`\tmap ${name} {`, `\t\ttype ${m.type}`);
    const keys = sortedKeys(m.elements);
    if (keys.length > 0) out.push(`\t\telements = { ${elementLines(m, keys)} }`);
    out.push('\t}');
  }
  for (const name of sortedKeys(rs.sets))
    out.push(`\tset ${name} {`, `\t\t${rs.sets.get(name) ?? ''}`, '\t}');
  for (const name of sortedKeys(rs.chains)) {
    const c = rs.chains.get(name);
    if (c === undefined) continue;
    out.push(`\tchain ${name} {`);
    if (c.hook !== undefined) out.push(`\t\t${c.hook}`);
    for (const r of c.rules) out.push(`\t\t${r}`);
    out.push('\t}');
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** renderFull(buildRuleset(input)): the complete script for one table. */
export function renderRuleset(input: RulesetInput): string {
  return renderFull(buildRuleset(input));
}

/** Removes the table (and everything in it); no error when it is absent. */
export function removeTableScript(table: string): string {
  return `table ${T(table)} {}\ndelete table ${T(table)}\n`;
}

function sameChain(a: Chain | undefined, b: Chain): boolean {
  return (
    a !== undefined &&
    a.hook === b.hook &&
    a.rules.length === b.rules.length &&
    a.rules.every((r, i) => r === b.rules[i])
  );
}

function addChainCmd(t: string, name: string, c: Chain): string {
  return c.hook === undefined ? `add chain ${t} ${name}` : `add chain ${t} ${name} { ${c.hook} }`;
}

/**
 * The commands that turn the table from `prev` (what was applied) into `next`, as one `nft -f`
 * transaction: only chains whose rules changed are rewritten, map elements are added and deleted one by
 * one, and affinity sets of endpoints that stayed are kept (their client entries survive). Without `prev`
 * (agent start, periodic resync) every chain and map is rewritten, sets are kept, and what `existing`
 * lists but `next` lacks is deleted. Returns '' when there is nothing to do.
 */
export function renderUpdate(prev: Ruleset | undefined, next: Ruleset, existing?: TableNames): string {
  const t = T(next.table);
  const head: string[] = [];
  const flushes: string[] = [];
  const rules: string[] = [];
  const adds: string[] = [];
  const tail: string[] = [];

  if (prev === undefined) {
    head.push(`add table ${t}`);
    for (const name of sortedKeys(next.maps)) {
      const m = next.maps.get(name);
      if (m === undefined) continue;
      head.push(`add map ${t} ${name} { type ${m.type}; }`, `flush map ${t} ${name}`);
      const keys = sortedKeys(m.elements);
      if (keys.length > 0) adds.push(`add element ${t} ${name} { ${elementLines(m, keys)} }`);
    }
    for (const name of sortedKeys(next.sets))
      head.push(`add set ${t} ${name} { ${next.sets.get(name) ?? ''} }`);
    for (const name of sortedKeys(next.chains)) {
      const c = next.chains.get(name);
      if (c === undefined) continue;
      head.push(addChainCmd(t, name, c));
      flushes.push(`flush chain ${t} ${name}`);
      for (const r of c.rules) rules.push(`add rule ${t} ${name} ${r}`);
    }
    const ex = existing ?? { chains: [], sets: [], maps: [] };
    const staleChains = ex.chains.filter((c) => !next.chains.has(c)).sort();
    for (const c of staleChains) flushes.push(`flush chain ${t} ${c}`);
    for (const m of ex.maps.filter((x) => !next.maps.has(x)).sort()) flushes.push(`flush map ${t} ${m}`);
    for (const c of staleChains) tail.push(`delete chain ${t} ${c}`);
    for (const s of ex.sets.filter((x) => !next.sets.has(x)).sort()) tail.push(`delete set ${t} ${s}`);
    for (const m of ex.maps.filter((x) => !next.maps.has(x)).sort()) tail.push(`delete map ${t} ${m}`);
    return `${[...head, ...flushes, ...rules, ...adds, ...tail].join('\n')}\n`;
  }

  // Map elements: deletions first (they may point at chains deleted below), additions last.
  for (const name of sortedKeys(next.maps)) {
    const m = next.maps.get(name);
    if (m === undefined) continue;
    const old = prev.maps.get(name);
    if (old === undefined) head.push(`add map ${t} ${name} { type ${m.type}; }`);
    const gone =
      old === undefined
        ? []
        : sortedKeys(old.elements).filter((k) => m.elements.get(k) !== old.elements.get(k));
    if (gone.length > 0) head.push(`delete element ${t} ${name} { ${gone.join(', ')} }`);
    const added = sortedKeys(m.elements).filter((k) => old?.elements.get(k) !== m.elements.get(k));
    if (added.length > 0) adds.push(`add element ${t} ${name} { ${elementLines(m, added)} }`);
  }
  for (const name of sortedKeys(next.sets))
    if (!prev.sets.has(name)) head.push(`add set ${t} ${name} { ${next.sets.get(name) ?? ''} }`);
  for (const name of sortedKeys(next.chains)) {
    const c = next.chains.get(name);
    if (c === undefined) continue;
    const old = prev.chains.get(name);
    if (sameChain(old, c)) continue;
    if (old === undefined) head.push(addChainCmd(t, name, c));
    else flushes.push(`flush chain ${t} ${name}`);
    for (const r of c.rules) rules.push(`add rule ${t} ${name} ${r}`);
  }
  const staleChains = sortedKeys(prev.chains).filter((c) => !next.chains.has(c));
  for (const c of staleChains) flushes.push(`flush chain ${t} ${c}`);
  for (const c of staleChains) tail.push(`delete chain ${t} ${c}`);
  for (const s of sortedKeys(prev.sets)) if (!next.sets.has(s)) tail.push(`delete set ${t} ${s}`);
  for (const m of sortedKeys(prev.maps)) if (!next.maps.has(m)) tail.push(`delete map ${t} ${m}`);
  const all = [...head, ...flushes, ...rules, ...adds, ...tail];
  return all.length === 0 ? '' : `${all.join('\n')}\n`;
}

/** True when a base chain's hook differs (an update cannot change it; the table must be replaced). */
export function hooksChanged(prev: Ruleset, next: Ruleset): boolean {
  for (const [name, c] of next.chains) {
    const old = prev.chains.get(name);
    if (old !== undefined && old.hook !== c.hook) return true;
  }
  return false;
}

/** Chain, set and map names in `nft -t list table ip T` output. */
export function parseTableNames(text: string): TableNames {
  const names: TableNames = { chains: [], sets: [], maps: [] };
  for (const line of text.split('\n')) {
    const m = /^\s*(chain|set|map) (\S+) \{/.exec(line);
    if (m === null || m[2] === undefined) continue;
    if (m[1] === 'chain') names.chains.push(m[2]);
    else if (m[1] === 'set') names.sets.push(m[2]);
    else names.maps.push(m[2]);
  }
  return names;
}

/**
 * Conntrack entries to delete after going from `prev` to `next`, as upstream: UDP has no connection end,
 * so entries DNAT'ed to an endpoint that is gone would keep sending a client's datagrams into the void;
 * and entries to a UDP service port that had no endpoint (made before its rules existed) never got DNAT.
 */
export function staleConntrack(prev: Ruleset | undefined, next: Ruleset): ConntrackFlush[] {
  // At agent start nothing is known about what went before: flows that work are left alone.
  if (prev === undefined) return [];
  const before = new Map(prev.udp.map((f) => [f.id, f]));
  const after = new Map(next.udp.map((f) => [f.id, f]));
  const out: ConntrackFlush[] = [];
  for (const f of next.udp) {
    const old = before.get(f.id);
    if (f.endpoints.length > 0 && (old === undefined || old.endpoints.length === 0)) {
      for (const ip of f.clusterIPs) out.push({ origDst: ip });
      if (f.nodePort !== undefined) out.push({ origPortDst: f.nodePort });
    }
  }
  for (const old of prev.udp) {
    const now = after.get(old.id);
    const keep = new Set(now?.endpoints ?? []);
    for (const ip of old.endpoints) {
      if (keep.has(ip)) continue;
      for (const vip of old.clusterIPs) out.push({ origDst: vip, replySrc: ip });
      if (old.nodePort !== undefined) out.push({ origPortDst: old.nodePort, replySrc: ip });
    }
  }
  return out;
}
