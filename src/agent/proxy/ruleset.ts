// The Service datapath as data: Services + EndpointSlices + facts about this node → the nftables ruleset of
// the one table the agent owns. Pure (no I/O, no clock): the applier (proxy.ts) renders it, compares and
// hands the text to `nft -f`. The layout follows kube-proxy's nftables mode (docs/design/proxy.md):
//
//   nat-prerouting / nat-output ─► services: `ip daddr . meta l4proto . th dport vmap @service-ips`
//                                            `fib daddr type local meta l4proto . th dport vmap @service-nodeports`
//   svc-<id>   one chain per service port: `dnat ip to numgen random|inc mod N map { i : ip . port }`
//              (with ClientIP affinity: lookups in the endpoints' sets, then `numgen … vmap` to ep- chains)
//   ext-<id>   NodePort entry: masquerade mark, then the service chain (or the local endpoints only)
//   ep-<id>__<ip>/<port>   only with affinity: `update @aff… { ip saddr }`, `dnat to ip:port`
//   filter-prerouting / filter-output ─► service-endpoints-check: reject (or drop) for ports with no endpoint
//   nat-postrouting ─► masquerading: hairpin (`ip saddr . ip daddr @hairpin-endpoints`) and what carries
//                      the mark is masqueraded
//   traffic (filter postrouting) ─► counters per service VIP:port and per endpoint ip:port of new connections
//                      and of HTTP requests (client packets whose payload starts with a method), read by
//                      traffic.ts for the request-rate metrics
//
// Names are stable (namespace/name/protocol/port), so an update can rewrite only the chains that changed
// and keep the affinity sets (with their client entries) of the endpoints that stayed. Each Service's
// part is built on its own and cached (RulesetCache), so a change costs the Services it touched.
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
  /**
   * Scale from zero: service port id → `ip:port` of this node's activator listener. A TCP port without
   * any endpoint sends its new connections there instead of refusing them.
   */
  activators?: ReadonlyMap<string, string>;
  /**
   * The ranges ClusterIPs come from (ServiceCIDR objects). A packet still addressed into them after
   * DNAT went to no Service: it is refused here instead of following the default route off the node.
   */
  serviceCidrs?: readonly string[];
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
  /** A plain set (`set name { type …; }`): the keys are the elements, the values are ''. */
  set?: boolean;
  /** Each element keeps a packet counter (`counter;` in the declaration): the traffic sets. */
  counter?: boolean;
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
  /** Pod IPs this ruleset sends new connections to. */
  targets: ReadonlySet<string>;
  /** UDP service ports and the endpoints they send to (for conntrack cleanup). */
  udp: UdpFlow[];
  /**
   * The Services' parts it was assembled from, by `<namespace>/<name>`: renderUpdate compares only the
   * parts that are not the same object in both rulesets (and the base chains).
   */
  fragments?: ReadonlyMap<string, ServiceFragment>;
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

/** An IPv4 address (already checked) as a number, for sorting; by hand, as this runs 100,000s of times. */
function ipKey(ip: string): number {
  let n = 0;
  let part = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 46) {
      n = n * 256 + part;
      part = 0;
    } else part = part * 10 + c - 48;
  }
  return n * 256 + part;
}

function byIpPort(a: EndpointInfo, b: EndpointInfo): number {
  return ipKey(a.ip) - ipKey(b.ip) || a.port - b.port;
}

function l4(v: unknown): L4 | undefined {
  const p = v === undefined || v === null || v === '' ? 'TCP' : v;
  return p === 'TCP' ? 'tcp' : p === 'UDP' ? 'udp' : p === 'SCTP' ? 'sctp' : undefined;
}

/** Slices of IPv4 by `<namespace>/<service name>`. */
export function slicesByService(slices: readonly KubeObject[]): Map<string, KubeObject[]> {
  const bySvc = new Map<string, KubeObject[]>();
  for (const s of slices) {
    const svc = asStrMap(s.metadata.labels)['kubernetes.io/service-name'];
    if (svc === undefined || (s as { addressType?: unknown }).addressType !== 'IPv4') continue;
    const k = `${s.metadata.namespace ?? ''}/${svc}`;
    const list = bySvc.get(k);
    if (list === undefined) bySvc.set(k, [s]);
    else list.push(s);
  }
  return bySvc;
}

const byId = (a: ServicePortInfo, b: ServicePortInfo): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The ports of one Service that get rules, with their endpoints from `slices` (the Service's own):
 * ClusterIP, NodePort and LoadBalancer Services with an IPv4 cluster IP. Headless and ExternalName
 * Services have no datapath. Sorted by id.
 */
export function servicePortsOf(svc: KubeObject, slices: readonly KubeObject[]): ServicePortInfo[] {
  const ns = svc.metadata.namespace ?? '';
  const name = svc.metadata.name ?? '';
  if (!label.test(ns) || !label.test(name)) return [];
  const spec = asObj(svc.spec) ?? {};
  const type = asStr(spec['type']) ?? 'ClusterIP';
  if (type === 'ExternalName') return [];
  const ipsRaw = asArr(spec['clusterIPs']).length > 0 ? asArr(spec['clusterIPs']) : [spec['clusterIP']];
  const clusterIPs = ipsRaw.filter((x): x is string => typeof x === 'string' && isIPv4(x));
  if (clusterIPs.length === 0) return []; // headless (None) or not allocated yet
  const hasNodePorts = type === 'NodePort' || type === 'LoadBalancer';
  const affinity =
    spec['sessionAffinity'] === 'ClientIP'
      ? (asNum(asObj(asObj(spec['sessionAffinityConfig'])?.['clientIP'])?.['timeoutSeconds']) ?? 10800)
      : undefined;
  const out: ServicePortInfo[] = [];
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
    for (const slice of slices) {
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
  return out.sort(byId);
}

/** The service ports of every Service (see servicePortsOf), sorted by id. */
export function servicePorts(
  services: readonly KubeObject[],
  slices: readonly KubeObject[],
): ServicePortInfo[] {
  const bySvc = slicesByService(slices);
  return services
    .flatMap((svc) =>
      servicePortsOf(svc, bySvc.get(`${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? ''}`) ?? []),
    )
    .sort(byId);
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

/** The set of `ip . ip` pairs, one per endpoint address, that postrouting masquerades (hairpin). */
export const hairpinSet = 'hairpin-endpoints';

/** The counter sets of the `traffic` chain (elements `ip . port`, each with a packet counter). */
export const trafficSets = {
  serviceConnections: 'traffic-service-connections',
  serviceRequests: 'traffic-service-requests',
  endpointConnections: 'traffic-endpoint-connections',
  endpointRequests: 'traffic-endpoint-requests',
} as const;

/** Sets whose stale elements an update leaves in place (see renderDiff). */
const keptElements: ReadonlySet<string> = new Set([hairpinSet, ...Object.values(trafficSets)]);

/**
 * The first four payload bytes of an HTTP/1.x request, per method (`GET `, `POST`, `PUT `, `HEAD`, `DELE`,
 * `PATC`, `OPTI`, `CONN`, `TRAC`), as big-endian numbers: what a client packet opening a request carries.
 */
const httpMethodPrefixes = ['GET ', 'POST', 'PUT ', 'HEAD', 'DELE', 'PATC', 'OPTI', 'CONN', 'TRAC'].map(
  (m) => `0x${[...m].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('')}`,
);

/**
 * The part of the ruleset one Service contributes. Fragments are cached by the Service and slice objects
 * they came from (RulesetCache), so a change rebuilds only the Services it touched.
 */
export interface ServiceFragment {
  chains: ReadonlyArray<readonly [string, Chain]>;
  /** Affinity sets: name → definition. */
  sets: ReadonlyArray<readonly [string, string]>;
  /** Elements of the shared maps: [map, key, value]. */
  elements: ReadonlyArray<readonly [string, string, string]>;
  targets: readonly string[];
  udp: readonly UdpFlow[];
  /** Its elements of the hairpin set (`ip . ip` per target). */
  hairpin: readonly string[];
}

interface CacheEntry {
  svc: KubeObject;
  slices: readonly KubeObject[];
  fragment: ServiceFragment;
}

/**
 * Fragments of the last build, by `<namespace>/<name>`. A Service's fragment is reused while the Service
 * and its slices are the same objects (a ServiceView hands out cached objects and replaces, never
 * mutates, what changed) and node facts and options are unchanged.
 */
export interface RulesetCache {
  context: string;
  entries: Map<string, CacheEntry>;
  /** Fragments rebuilt by the last buildRuleset (for logs and tests). */
  rebuilt: number;
}

export function newRulesetCache(): RulesetCache {
  return { context: '', entries: new Map(), rebuilt: 0 };
}

function sameMembers(a: readonly KubeObject[], b: readonly KubeObject[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i] || b.includes(x));
}

interface FragmentContext {
  node: ProxyNodeFacts;
  balance: Balance;
  clusterCidr: string | undefined;
  activators: ReadonlyMap<string, string> | undefined;
}

/**
 * A spread of new connections over endpoints, DNAT'ed directly: `dnat to ip:port` for one endpoint,
 * `dnat ip to numgen random|inc mod N map { 0 : ip . port, … }` for more (no chain per endpoint).
 */
function dnatSpread(eps: readonly EndpointInfo[], protocol: L4, balance: Balance): string {
  const only = eps[0];
  if (eps.length === 1 && only !== undefined)
    return `meta l4proto ${protocol} dnat to ${only.ip}:${only.port}`;
  const gen = balance === 'round-robin' ? 'inc' : 'random';
  const arms = eps.map((e, i) => `${i} : ${e.ip} . ${e.port}`).join(', ');
  return `meta l4proto ${protocol} dnat ip to numgen ${gen} mod ${eps.length} map { ${arms} }`;
}

function gotoSpread(chains: string[], balance: Balance): string {
  if (chains.length === 1) return `goto ${chains[0] ?? ''}`;
  const gen = balance === 'round-robin' ? 'inc' : 'random';
  const arms = chains.map((c, i) => `${i} : goto ${c}`).join(', ');
  return `numgen ${gen} mod ${chains.length} vmap { ${arms} }`;
}

/** The chains, sets and map elements of one Service's ports. */
export function serviceFragment(
  svc: KubeObject,
  slices: readonly KubeObject[],
  ctx: FragmentContext,
): ServiceFragment {
  const chains: Array<[string, Chain]> = [];
  const sets: Array<[string, string]> = [];
  const elements: Array<[string, string, string]> = [];
  const targets = new Set<string>();
  const udp: UdpFlow[] = [];
  for (const sp of servicePortsOf(svc, slices)) {
    const svcChain = `svc-${sp.id}`;
    const extChain = `ext-${sp.id}`;
    const epChain = (e: EndpointInfo): string => `ep-${sp.id}__${e.ip}/${e.port}`;
    const affSet = (e: EndpointInfo): string => `aff${sp.affinitySeconds ?? 0}-${sp.id}__${e.ip}/${e.port}`;
    const keyFor = (ip: string): string => `${ip} . ${sp.protocol} . ${sp.port}`;
    const npKey = sp.nodePort === undefined ? undefined : `${sp.protocol} . ${sp.nodePort}`;

    const cluster = usableEndpoints(sp.endpoints);
    const internal = sp.internalLocal ? usableEndpoints(sp.endpoints, ctx.node.nodeName) : cluster;
    const external = sp.externalLocal ? usableEndpoints(sp.endpoints, ctx.node.nodeName) : cluster;
    const activator = sp.protocol === 'tcp' && cluster.length === 0 ? ctx.activators?.get(sp.id) : undefined;
    const used = new Map<string, EndpointInfo>();
    for (const e of [...internal, ...(npKey === undefined ? [] : external)]) used.set(`${e.ip}:${e.port}`, e);
    const usedSorted = [...used.values()].sort(byIpPort);
    for (const e of usedSorted) targets.add(e.ip);

    // Without affinity the Service chain DNATs itself; with it each endpoint needs a chain that records
    // the client in the endpoint's timed set (kube-proxy's layout).
    const affinity = sp.affinitySeconds;
    if (affinity !== undefined) {
      for (const e of usedSorted) {
        sets.push([affSet(e), `type ipv4_addr; flags dynamic,timeout; timeout ${affinity}s;`]);
        chains.push([
          epChain(e),
          {
            rules: [
              `update @${affSet(e)} { ip saddr }`,
              `meta l4proto ${sp.protocol} dnat to ${e.ip}:${e.port}`,
            ],
          },
        ]);
      }
    }
    // A spread over endpoints; with affinity preceded by the lookups (a known client goes back to its endpoint).
    const spreadRules = (eps: EndpointInfo[]): string[] =>
      affinity === undefined
        ? [dnatSpread(eps, sp.protocol, ctx.balance)]
        : [
            ...eps.map((e) => `ip saddr @${affSet(e)} goto ${epChain(e)}`),
            gotoSpread(eps.map(epChain), ctx.balance),
          ];

    if (internal.length > 0) {
      chains.push([
        svcChain,
        {
          rules: [
            ...(ctx.clusterCidr === undefined
              ? []
              : [`ip saddr != ${ctx.clusterCidr} jump mark-for-masquerade`]),
            ...spreadRules(internal),
          ],
        },
      ]);
      for (const ip of sp.clusterIPs) elements.push(['service-ips', keyFor(ip), `goto ${svcChain}`]);
    } else if (activator !== undefined) {
      // Scaled to zero: the activator holds the connection and wakes the target up.
      chains.push([svcChain, { rules: [`meta l4proto tcp dnat to ${activator}`] }]);
      for (const ip of sp.clusterIPs) elements.push(['service-ips', keyFor(ip), `goto ${svcChain}`]);
    } else {
      // No endpoint at all: reject. Endpoints only elsewhere with internalTrafficPolicy Local: drop, as upstream.
      const verdict = cluster.length === 0 ? 'goto reject-chain' : 'drop';
      for (const ip of sp.clusterIPs) elements.push(['no-endpoint-services', keyFor(ip), verdict]);
    }

    if (npKey !== undefined) {
      if (external.length > 0) {
        if (sp.externalLocal) {
          // Local: the client address is kept (no masquerade), except for connections from this host,
          // which cannot come back otherwise (127.0.0.1 especially).
          chains.push([
            extChain,
            { rules: ['fib saddr type local jump mark-for-masquerade', ...spreadRules(external)] },
          ]);
        } else if (internal === cluster && internal.length > 0) {
          chains.push([extChain, { rules: ['jump mark-for-masquerade', `goto ${svcChain}`] }]);
        } else {
          chains.push([extChain, { rules: ['jump mark-for-masquerade', ...spreadRules(external)] }]);
        }
        elements.push(['service-nodeports', npKey, `goto ${extChain}`]);
      } else if (activator !== undefined) {
        elements.push(['service-nodeports', npKey, `goto ${svcChain}`]);
      } else {
        elements.push(['no-endpoint-nodeports', npKey, cluster.length === 0 ? 'goto reject-chain' : 'drop']);
      }
    }

    // Traffic counters: new connections (and, for TCP, HTTP requests) per VIP:port and per endpoint.
    for (const ip of sp.clusterIPs) {
      elements.push([trafficSets.serviceConnections, `${ip} . ${sp.port}`, '']);
      if (sp.protocol === 'tcp') elements.push([trafficSets.serviceRequests, `${ip} . ${sp.port}`, '']);
    }
    for (const e of usedSorted) {
      elements.push([trafficSets.endpointConnections, `${e.ip} . ${e.port}`, '']);
      if (sp.protocol === 'tcp') elements.push([trafficSets.endpointRequests, `${e.ip} . ${e.port}`, '']);
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
  const list = [...targets];
  return { chains, sets, elements, targets: list, udp, hairpin: list.map((ip) => `${ip} . ${ip}`) };
}

/** The chains every table has, whatever the Services. */
function baseChains(mark: string, serviceCidrs: readonly string[]): Array<[string, Chain]> {
  // After NAT (priority 0): an address of the Service ranges that no rule translated is no Service's.
  const unallocated =
    serviceCidrs.length === 0 ? [] : [`ip daddr { ${serviceCidrs.join(', ')} } jump reject-chain`];
  return [
    [
      'unallocated-output',
      { hook: 'type filter hook output priority 0; policy accept;', rules: unallocated },
    ],
    [
      'unallocated-forward',
      { hook: 'type filter hook forward priority 0; policy accept;', rules: unallocated },
    ],
    [
      'filter-prerouting',
      {
        hook: 'type filter hook prerouting priority -110; policy accept;',
        rules: ['ct state new jump service-endpoints-check'],
      },
    ],
    [
      'filter-output',
      {
        hook: 'type filter hook output priority -110; policy accept;',
        rules: ['ct state new jump service-endpoints-check'],
      },
    ],
    // NodePorts on 127.0.0.1 need route_localnet; this keeps other hosts from reaching 127/8 through it
    // (kube-proxy's guard for CVE-2020-8558): only connections we DNAT'ed may arrive from outside.
    [
      'filter-input',
      {
        hook: 'type filter hook input priority -10; policy accept;',
        rules: [
          'iifname != "lo" ip daddr 127.0.0.0/8 ip saddr != 127.0.0.0/8 ct state new ct status & dnat == 0 drop',
        ],
      },
    ],
    [
      'nat-prerouting',
      { hook: 'type nat hook prerouting priority -100; policy accept;', rules: ['jump services'] },
    ],
    ['nat-output', { hook: 'type nat hook output priority -100; policy accept;', rules: ['jump services'] }],
    [
      'nat-postrouting',
      { hook: 'type nat hook postrouting priority 100; policy accept;', rules: ['jump masquerading'] },
    ],
    [
      'services',
      {
        rules: [
          'ip daddr . meta l4proto . th dport vmap @service-ips',
          'fib daddr type local meta l4proto . th dport vmap @service-nodeports',
        ],
      },
    ],
    [
      'service-endpoints-check',
      {
        rules: [
          'ip daddr . meta l4proto . th dport vmap @no-endpoint-services',
          'fib daddr type local meta l4proto . th dport vmap @no-endpoint-nodeports',
        ],
      },
    ],
    // Fail fast: a TCP client gets a reset, others "host unreachable", instead of waiting for a timeout.
    [
      'reject-chain',
      { rules: ['meta l4proto tcp reject with tcp reset', 'reject with icmp type host-unreachable'] },
    ],
    ['mark-for-masquerade', { rules: [`meta mark set meta mark | ${mark}`] }],
    // Counting only: after DNAT (postrouting), so the endpoint is known; `ct original` names the VIP. A
    // connection counts once (its first packet); a request counts per client packet that opens one
    // (HTTP/1.x, a request at the start of a segment: pipelined or HTTP/2 requests are not seen).
    [
      'traffic',
      {
        hook: 'type filter hook postrouting priority 0; policy accept;',
        rules: [
          'ct status & dnat == 0 return',
          `ct state new ip daddr . th dport @${trafficSets.endpointConnections}`,
          // `ct original proto-dst` has a size only once the protocol is known: one rule per protocol.
          `ct state new meta l4proto tcp ct original ip daddr . ct original proto-dst @${trafficSets.serviceConnections}`,
          `ct state new meta l4proto udp ct original ip daddr . ct original proto-dst @${trafficSets.serviceConnections}`,
          `ct direction reply return`,
          `meta l4proto tcp @ih,0,32 { ${httpMethodPrefixes.join(', ')} } jump traffic-requests`,
        ],
      },
    ],
    [
      'traffic-requests',
      {
        rules: [
          `ip daddr . th dport @${trafficSets.endpointRequests}`,
          `meta l4proto tcp ct original ip daddr . ct original proto-dst @${trafficSets.serviceRequests}`,
        ],
      },
    ],
    [
      'masquerading',
      {
        rules: [
          // Hairpin: a pod that reached itself through a Service (source = DNAT'ed destination) must see
          // the reply come from elsewhere, or it would answer itself directly and drop it.
          `ct status dnat ip saddr . ip daddr @${hairpinSet} jump mark-for-masquerade`,
          `meta mark & ${mark} == 0 return`,
          `meta mark set meta mark ^ ${mark}`,
          'masquerade fully-random',
        ],
      },
    ],
  ];
}

/**
 * Builds the ruleset (the structure renderFull and renderUpdate print). Deterministic: sorted throughout.
 * With `cache`, Services whose objects did not change keep their fragment from the previous build.
 */
export function buildRuleset(input: RulesetInput, cache?: RulesetCache): Ruleset {
  const { node, options } = input;
  const mark = `0x${(options.masqueradeMark ?? 0x4000).toString(16)}`;
  const ctx: FragmentContext = {
    node,
    balance: options.balance,
    clusterCidr:
      options.clusterCidr !== undefined && cidr4.test(options.clusterCidr) ? options.clusterCidr : undefined,
    activators: options.activators,
  };
  // Activators change rarely (a Service opted into scale to zero): a change rebuilds every fragment.
  const context = JSON.stringify([node, ctx.balance, ctx.clusterCidr, [...(options.activators ?? [])]]);
  const old = cache !== undefined && cache.context === context ? cache.entries : undefined;
  const entries = new Map<string, CacheEntry>();
  const bySvc = slicesByService(input.slices);
  let rebuilt = 0;
  for (const svc of input.services) {
    const key = `${svc.metadata.namespace ?? ''}/${svc.metadata.name ?? ''}`;
    const slices = bySvc.get(key) ?? [];
    const hit = old?.get(key);
    if (hit !== undefined && hit.svc === svc && sameMembers(hit.slices, slices)) {
      entries.set(key, hit);
      continue;
    }
    rebuilt++;
    entries.set(key, { svc, slices, fragment: serviceFragment(svc, slices, ctx) });
  }
  if (cache !== undefined) {
    cache.context = context;
    cache.entries = entries;
    cache.rebuilt = rebuilt;
  }

  const serviceCidrs = (options.serviceCidrs ?? []).filter((c) => cidr4.test(c));
  const chains = new Map<string, Chain>(baseChains(mark, serviceCidrs));
  const sets = new Map<string, string>();
  const maps = new Map<string, NftMap>([
    [hairpinSet, { type: 'ipv4_addr . ipv4_addr', elements: new Map(), set: true }],
    ['no-endpoint-nodeports', { type: 'inet_proto . inet_service : verdict', elements: new Map() }],
    [
      'no-endpoint-services',
      { type: 'ipv4_addr . inet_proto . inet_service : verdict', elements: new Map() },
    ],
    ['service-ips', { type: 'ipv4_addr . inet_proto . inet_service : verdict', elements: new Map() }],
    ['service-nodeports', { type: 'inet_proto . inet_service : verdict', elements: new Map() }],
    ...Object.values(trafficSets).map((name): [string, NftMap] => [
      name,
      { type: 'ipv4_addr . inet_service', elements: new Map(), set: true, counter: true },
    ]),
  ]);
  const targets = new Set<string>();
  const udp: UdpFlow[] = [];
  const fragments = new Map<string, ServiceFragment>();
  const hairpin = maps.get(hairpinSet)?.elements ?? new Map<string, string>();
  // In name order, so that when two Services claim one key (an invalid state the API prevents) the
  // same one wins every time.
  for (const key of [...entries.keys()].sort()) {
    const f = (entries.get(key) as CacheEntry).fragment;
    fragments.set(key, f);
    for (const [name, c] of f.chains) chains.set(name, c);
    for (const [name, def] of f.sets) sets.set(name, def);
    for (const [m, k, v] of f.elements) maps.get(m)?.elements.set(k, v);
    for (const t of f.targets) targets.add(t);
    for (const h of f.hairpin) hairpin.set(h, '');
    for (const u of f.udp) udp.push(u);
  }
  return { table: options.table, chains, sets, maps, targets, udp, fragments };
}

function sortedKeys<V>(m: Map<string, V>): string[] {
  return [...m.keys()].sort();
}

function elementLines(m: NftMap, keys: string[]): string {
  return m.set === true ? keys.join(', ') : keys.map((k) => `${k} : ${m.elements.get(k) ?? ''}`).join(', ');
}

const kindOf = (m: NftMap): string => (m.set === true ? 'set' : 'map');

/** `type …;` plus `counter;` for counter sets: the declaration's body. */
const declOf = (m: NftMap): string => `type ${m.type};${m.counter === true ? ' counter;' : ''}`;

/**
 * The whole table in one script: `table ip T {}` + `delete table ip T` + the full definition, so
 * `nft -f` replaces whatever the table held in one transaction (or creates it).
 */
export function renderFull(rs: Ruleset): string {
  const out: string[] = [`table ${T(rs.table)} {}`, `delete table ${T(rs.table)}`, `table ${T(rs.table)} {`];
  for (const name of sortedKeys(rs.maps)) {
    const m = rs.maps.get(name);
    if (m === undefined) continue;
    out.push(`\t${kindOf(m)} ${name} {`, `\t\ttype ${m.type}`);
    if (m.counter === true) out.push('\t\tcounter');
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
    a === b ||
    (a !== undefined &&
      a.hook === b.hook &&
      a.rules.length === b.rules.length &&
      a.rules.every((r, i) => r === b.rules[i]))
  );
}

function addChainCmd(t: string, name: string, c: Chain): string {
  return c.hook === undefined ? `add chain ${t} ${name}` : `add chain ${t} ${name} { ${c.hook} }`;
}

/**
 * The commands that turn the table from `prev` (what was applied) into `next`, as one `nft -f`
 * transaction: only chains whose rules changed are rewritten, map and set elements are added and deleted
 * one by one, and affinity sets of endpoints that stayed are kept (their client entries survive). Without
 * `prev` (agent start, periodic resync) every chain and map is rewritten, affinity sets are kept, and what
 * `existing` lists but `next` lacks is deleted. Returns '' when there is nothing to do. Only what changed
 * is sorted, so a small change to a large table costs little.
 */
export function renderUpdate(prev: Ruleset | undefined, next: Ruleset, existing?: TableNames): string {
  return renderDiff(prev, next, existing, undefined);
}

/** At most this many unreachable rules pile up in a chain before it is flushed anyway. */
const maxShadowed = 8;

export interface UpdatePlan {
  script: string;
  /** Chains that now hold unreachable old rules below the current one → how many. */
  shadowed: Map<string, number>;
}

/**
 * renderUpdate(prev, next) made cheaper for the kernel: a chain that becomes one terminal rule (a Service
 * chain without affinity: its `dnat`) gets the new rule inserted at its head instead of flush + add.
 * The old rules below it are never reached again; a transaction without deletions skips the kernel's
 * wait for readers of what it deleted (about 12 ms here). `shadowed` lists the chains holding such
 * rules; with `cleanup` they are rewritten (flush + add) and the returned list is empty.
 */
export function planUpdate(
  prev: Ruleset,
  next: Ruleset,
  shadowed: ReadonlyMap<string, number>,
  cleanup: boolean,
): UpdatePlan {
  const out = new Map(shadowed);
  const script = renderDiff(prev, next, undefined, { shadowed: out, cleanup });
  return { script, shadowed: out };
}

/**
 * The chain's one rule when it is a lone `dnat`: it ends every evaluation of the chain (the chain is only
 * reached for its protocol), so whatever lies below it is never reached, and it refers to no other
 * chain or set (so a chain or set deleted later is not held by it).
 */
function loneDnat(c: Chain | undefined): string | undefined {
  const r = c !== undefined && c.rules.length === 1 ? c.rules[0] : undefined;
  return r !== undefined && c?.hook === undefined && /^meta l4proto \w+ dnat /.test(r) ? r : undefined;
}

function renderDiff(
  prev: Ruleset | undefined,
  next: Ruleset,
  existing: TableNames | undefined,
  shadow: { shadowed: Map<string, number>; cleanup: boolean } | undefined,
): string {
  const t = T(next.table);
  const head: string[] = [];
  const flushes: string[] = [];
  const rules: string[] = [];
  const adds: string[] = [];
  const tail: string[] = [];
  const wantedSet = (name: string): boolean => next.sets.has(name) || next.maps.get(name)?.set === true;
  const wantedMap = (name: string): boolean => next.maps.has(name) && next.maps.get(name)?.set !== true;

  if (prev === undefined) {
    head.push(`add table ${t}`);
    for (const name of sortedKeys(next.maps)) {
      const m = next.maps.get(name);
      if (m === undefined) continue;
      head.push(`add ${kindOf(m)} ${t} ${name} { ${declOf(m)} }`);
      // Counter sets are not flushed: `add element` keeps an existing element's counter, so a resync or an
      // agent restart does not reset the traffic figures (stale elements stay, as in updates).
      if (m.counter !== true) head.push(`flush ${kindOf(m)} ${t} ${name}`);
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
    const staleMaps = ex.maps.filter((x) => !wantedMap(x)).sort();
    for (const c of staleChains) flushes.push(`flush chain ${t} ${c}`);
    for (const m of staleMaps) flushes.push(`flush map ${t} ${m}`);
    for (const c of staleChains) tail.push(`delete chain ${t} ${c}`);
    for (const s of ex.sets.filter((x) => !wantedSet(x)).sort()) tail.push(`delete set ${t} ${s}`);
    for (const m of staleMaps) tail.push(`delete map ${t} ${m}`);
    return `${[...head, ...flushes, ...rules, ...adds, ...tail].join('\n')}\n`;
  }

  // Only names and keys a changed Service (or the base) can have touched are compared.
  const cand = candidates(prev, next);
  const union = (a: Iterable<string>, b: Iterable<string>): Set<string> => {
    const u = new Set(a);
    for (const x of b) u.add(x);
    return u;
  };
  // Map and set elements: deletions first (they may point at chains deleted below), additions last.
  for (const name of sortedKeys(next.maps)) {
    const m = next.maps.get(name);
    if (m === undefined) continue;
    const old = prev.maps.get(name);
    if (old === undefined) head.push(`add ${kindOf(m)} ${t} ${name} { ${declOf(m)} }`);
    const keys =
      cand === undefined
        ? union(old?.elements.keys() ?? [], m.elements.keys())
        : (cand.elements.get(name) ?? []);
    const gone: string[] = [];
    const added: string[] = [];
    for (const k of keys) {
      const was = old?.elements.get(k);
      const now = m.elements.get(k);
      // A hairpin pair or traffic counter of an address that is no longer a target matches nothing new
      // (nothing DNATs to it), and a deletion costs the transaction the kernel's wait for readers: stale
      // elements stay until the next full rewrite (resync), and adding one that is still there is no error.
      if (was !== undefined && was !== now && !keptElements.has(name)) gone.push(k);
      if (now !== undefined && now !== was) added.push(k);
    }
    if (gone.length > 0) head.push(`delete element ${t} ${name} { ${gone.sort().join(', ')} }`);
    if (added.length > 0) adds.push(`add element ${t} ${name} { ${elementLines(m, added.sort())} }`);
  }
  const setNames = [...(cand?.sets ?? union(prev.sets.keys(), next.sets.keys()))].sort();
  for (const name of setNames)
    if (next.sets.has(name) && !prev.sets.has(name))
      head.push(`add set ${t} ${name} { ${next.sets.get(name) ?? ''} }`);
  const chainNames = [...(cand?.chains ?? union(prev.chains.keys(), next.chains.keys()))];
  if (shadow !== undefined) for (const name of shadow.shadowed.keys()) chainNames.push(name);
  chainNames.sort();
  const staleChains: string[] = [];
  let last = '';
  for (const name of chainNames) {
    if (name === last) continue;
    last = name;
    const c = next.chains.get(name);
    const old = prev.chains.get(name);
    const dead = shadow?.shadowed.get(name) ?? 0;
    if (c === undefined) {
      if (old !== undefined) staleChains.push(name);
      shadow?.shadowed.delete(name);
      continue;
    }
    const same = sameChain(old, c);
    if (same && (dead === 0 || shadow?.cleanup !== true)) continue;
    const single = loneDnat(c);
    if (
      !same &&
      loneDnat(old) !== undefined &&
      shadow !== undefined &&
      !shadow.cleanup &&
      single !== undefined &&
      dead < maxShadowed
    ) {
      rules.push(`insert rule ${t} ${name} ${single}`);
      shadow.shadowed.set(name, dead + 1);
      continue;
    }
    if (old !== undefined) flushes.push(`flush chain ${t} ${name}`);
    else head.push(addChainCmd(t, name, c));
    for (const r of c.rules) rules.push(`add rule ${t} ${name} ${r}`);
    shadow?.shadowed.delete(name);
  }
  for (const c of staleChains) flushes.push(`flush chain ${t} ${c}`);
  for (const c of staleChains) tail.push(`delete chain ${t} ${c}`);
  for (const s of setNames) if (prev.sets.has(s) && !next.sets.has(s)) tail.push(`delete set ${t} ${s}`);
  for (const m of sortedKeys(prev.maps))
    if (!next.maps.has(m)) tail.push(`delete ${kindOf(prev.maps.get(m) as NftMap)} ${t} ${m}`);
  const all = [...head, ...flushes, ...rules, ...adds, ...tail];
  return all.length === 0 ? '' : `${all.join('\n')}\n`;
}

interface Candidates {
  chains: Set<string>;
  sets: Set<string>;
  elements: Map<string, Set<string>>;
}

const baseChainNames = baseChains('0x0', []).map(([name]) => name);

/**
 * The chain, set and element names that can differ between two rulesets assembled from fragments: those
 * of the Services whose fragment is not the same object in both, plus the base chains. Undefined when
 * either ruleset has no fragments (compare everything).
 */
function candidates(prev: Ruleset, next: Ruleset): Candidates | undefined {
  const pf = prev.fragments;
  const nf = next.fragments;
  if (pf === undefined || nf === undefined) return undefined;
  const c: Candidates = { chains: new Set(baseChainNames), sets: new Set(), elements: new Map() };
  const element = (map: string, key: string): void => {
    const keys = c.elements.get(map);
    if (keys === undefined) c.elements.set(map, new Set([key]));
    else keys.add(key);
  };
  const take = (f: ServiceFragment | undefined): void => {
    if (f === undefined) return;
    for (const [name] of f.chains) c.chains.add(name);
    for (const [name] of f.sets) c.sets.add(name);
    for (const [m, k] of f.elements) element(m, k);
    for (const h of f.hairpin) element(hairpinSet, h);
  };
  for (const [key, f] of nf) {
    const old = pf.get(key);
    if (old === f) continue;
    take(old);
    take(f);
  }
  for (const [key, f] of pf) if (!nf.has(key)) take(f);
  return c;
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
