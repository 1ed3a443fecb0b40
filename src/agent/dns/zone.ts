// The cluster zone: every record the cluster DNS serves, built from Services and EndpointSlices
// (buildZone), and the answer to one query (answer). Pure: the server feeds it the ServiceView's snapshot
// and sends what it returns. Record shapes follow the Kubernetes DNS specification:
//   <svc>.<ns>.svc.<domain>                 A/AAAA → ClusterIP; headless: one per ready endpoint
//   _<port>._<proto>.<svc>.<ns>.svc.<domain> SRV for named ports (headless: one per endpoint)
//   <host>.<svc>.<ns>.svc.<domain>           A/AAAA of a headless endpoint (hostname or dashed IP)
//   <a-b-c-d>.<ns>.pod.<domain>              A (computed from the name, as CoreDNS "pods insecure")
//   d.c.b.a.in-addr.arpa                     PTR → the Service (or headless endpoint) name
//   ExternalName Services                    CNAME → spec.externalName
import type { KubeObject } from '../../api/types.js';
import {
  ClassIN,
  RCode,
  RRType,
  emptyFlags,
  ipv6Bytes,
  type DnsMessage,
  type RData,
  type ResourceRecord,
} from './message.js';

export const defaultTtlSeconds = 5;

export interface ZoneOptions {
  /** The cluster domain, e.g. `cluster.local`. */
  domain: string;
  /** TTL of every record and of negative answers (default 5 s). */
  ttl?: number;
  /** SOA serial (the server passes the ServiceView revision). */
  serial?: number;
}

export interface Zone {
  /** Lower case, no trailing dot. */
  domain: string;
  ttl: number;
  soa: ResourceRecord;
  /** Lower-cased owner name → its records. */
  records: Map<string, ResourceRecord[]>;
  /** Every name that exists inside the domain, empty non-terminals included (NODATA, not NXDOMAIN). */
  names: Set<string>;
}

// ---- small readers for loosely typed objects ----

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function normalizeName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

function isIpv4(s: string): boolean {
  const p = s.split('.');
  return p.length === 4 && p.every((x) => /^\d{1,3}$/.test(x) && Number(x) <= 255);
}

function addressData(ip: string): RData | undefined {
  if (isIpv4(ip)) return { kind: 'a', address: ip };
  if (ip.includes(':') && ipv6Bytes(ip) !== undefined) return { kind: 'aaaa', address: ip };
  return undefined;
}

/** `d.c.b.a.in-addr.arpa` or the nibble form under `ip6.arpa`; undefined for something that is no IP. */
export function reverseName(ip: string): string | undefined {
  if (isIpv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const b = ipv6Bytes(ip);
  if (b === undefined) return undefined;
  const nibbles: string[] = [];
  for (const byte of b) nibbles.push((byte >> 4).toString(16), (byte & 15).toString(16));
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

function dashed(ip: string): string {
  return ip.replace(/[.:]/g, '-');
}

interface PortInfo {
  name: string;
  port: number;
  protocol: string;
}

function ports(v: unknown): PortInfo[] {
  const out: PortInfo[] = [];
  for (const raw of arr(v)) {
    const p = rec(raw);
    const port = p['port'];
    if (typeof port !== 'number') continue;
    out.push({ name: str(p['name']) ?? '', port, protocol: (str(p['protocol']) ?? 'TCP').toLowerCase() });
  }
  return out;
}

class ZoneBuilder {
  readonly records = new Map<string, ResourceRecord[]>();
  readonly names = new Set<string>();
  private readonly seen = new Set<string>();
  constructor(
    private readonly domain: string,
    private readonly ttl: number,
  ) {}

  add(name: string, type: number, data: RData): void {
    const key = normalizeName(name);
    const id = `${key}|${type}|${JSON.stringify(data)}`;
    if (this.seen.has(id)) return;
    this.seen.add(id);
    const list = this.records.get(key) ?? [];
    list.push({ name: key, type, class: ClassIN, ttl: this.ttl, data });
    this.records.set(key, list);
    // The name and its ancestors inside the domain exist.
    if (key === this.domain || key.endsWith(`.${this.domain}`)) {
      let n = key;
      while (n.length > this.domain.length && !this.names.has(n)) {
        this.names.add(n);
        n = n.slice(n.indexOf('.') + 1);
      }
    }
  }

  address(name: string, ip: string): void {
    const d = addressData(ip);
    if (d !== undefined) this.add(name, d.kind === 'a' ? RRType.A : RRType.AAAA, d);
  }

  ptr(ip: string, target: string): void {
    const r = reverseName(ip);
    if (r !== undefined) this.add(r, RRType.PTR, { kind: 'name', name: target });
  }

  srv(name: string, port: number, target: string): void {
    this.add(name, RRType.SRV, { kind: 'srv', priority: 0, weight: 100, port, target });
  }
}

function endpointReady(ep: Record<string, unknown>): boolean {
  // Upstream: a nil ready condition means ready.
  return rec(ep['conditions'])['ready'] !== false;
}

/** Builds the zone from every Service and EndpointSlice in the cluster. */
export function buildZone(services: KubeObject[], slices: KubeObject[], options: ZoneOptions): Zone {
  const domain = normalizeName(options.domain);
  const ttl = options.ttl ?? defaultTtlSeconds;
  const b = new ZoneBuilder(domain, ttl);
  const slicesOf = new Map<string, KubeObject[]>();
  for (const s of slices) {
    const svc = s.metadata.labels?.['kubernetes.io/service-name'];
    if (svc === undefined) continue;
    const key = `${s.metadata.namespace ?? ''}/${svc}`;
    const list = slicesOf.get(key) ?? [];
    list.push(s);
    slicesOf.set(key, list);
  }

  for (const svc of services) {
    const name = svc.metadata.name;
    const ns = svc.metadata.namespace;
    if (name === undefined || ns === undefined) continue;
    const spec = rec(svc.spec);
    const fqdn = `${name}.${ns}.svc.${domain}`.toLowerCase();
    if (str(spec['type']) === 'ExternalName') {
      const target = str(spec['externalName']);
      if (target !== undefined && target !== '')
        b.add(fqdn, RRType.CNAME, { kind: 'name', name: target.replace(/\.$/, '') });
      continue;
    }
    const clusterIP = str(spec['clusterIP']) ?? '';
    if (clusterIP === '') continue; // not allocated yet
    if (clusterIP !== 'None') {
      const ips = arr(spec['clusterIPs']).filter((x): x is string => typeof x === 'string');
      for (const ip of ips.length > 0 ? ips : [clusterIP]) {
        b.address(fqdn, ip);
        b.ptr(ip, fqdn);
      }
      for (const p of ports(spec['ports']))
        if (p.name !== '') b.srv(`_${p.name}._${p.protocol}.${fqdn}`, p.port, fqdn);
      continue;
    }
    // Headless: the endpoints themselves.
    b.names.add(fqdn);
    for (let n = `${ns}.svc.${domain}`; n.length > domain.length; n = n.slice(n.indexOf('.') + 1))
      b.names.add(n);
    const all = spec['publishNotReadyAddresses'] === true;
    for (const slice of slicesOf.get(`${ns}/${name}`) ?? []) {
      const slicePorts = ports(slice['ports']).filter((p) => p.name !== '');
      for (const raw of arr(slice['endpoints'])) {
        const ep = rec(raw);
        if (!all && !endpointReady(ep)) continue;
        const addrs = arr(ep['addresses']).filter((x): x is string => typeof x === 'string');
        const hostname = str(ep['hostname']);
        for (const ip of addrs) {
          const host =
            `${hostname !== undefined && hostname !== '' ? hostname : dashed(ip)}.${fqdn}`.toLowerCase();
          b.address(fqdn, ip);
          b.address(host, ip);
          b.ptr(ip, host);
          for (const p of slicePorts) b.srv(`_${p.name}._${p.protocol}.${fqdn}`, p.port, host);
        }
      }
    }
  }

  const soa: ResourceRecord = {
    name: domain,
    type: RRType.SOA,
    class: ClassIN,
    ttl,
    data: {
      kind: 'soa',
      mname: `ns.dns.${domain}`,
      rname: `hostmaster.${domain}`,
      serial: (options.serial ?? 1) >>> 0,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    },
  };
  return { domain, ttl, soa, records: b.records, names: b.names };
}

// ---- answering ----

export type Answer =
  /** Send this message. `chase`: a CNAME target outside the zone whose records the server may append. */
  | { kind: 'reply'; message: DnsMessage; chase?: string }
  /** Not ours: forward to the upstream resolvers. */
  | { kind: 'forward' };

/** True for names the cluster DNS answers itself and never forwards. */
export function inDomain(name: string, domain: string): boolean {
  const n = normalizeName(name);
  const d = normalizeName(domain);
  return n === d || n.endsWith(`.${d}`);
}

/** A reply skeleton: the question echoed, RD copied, RA set, an OPT when the query had one. */
export function reply(query: DnsMessage, rcode: number, authoritative = false): DnsMessage {
  const opt = query.additionals.find((r) => r.type === RRType.OPT);
  return {
    id: query.id,
    flags: {
      ...emptyFlags(),
      qr: true,
      opcode: query.flags.opcode,
      aa: authoritative,
      rd: query.flags.rd,
      ra: true,
      cd: query.flags.cd,
      rcode,
    },
    questions: query.questions.slice(0, 1),
    answers: [],
    authorities: [],
    additionals:
      opt === undefined
        ? []
        : [
            {
              name: '',
              type: RRType.OPT,
              class: 1232,
              ttl: 0,
              data: { kind: 'raw', bytes: new Uint8Array(0) },
            },
          ],
  };
}

const podName = /^(\d{1,3}-\d{1,3}-\d{1,3}-\d{1,3})\.[a-z0-9]([-a-z0-9]*[a-z0-9])?\.pod$/;

function matching(list: ResourceRecord[], qtype: number): ResourceRecord[] {
  return qtype === RRType.ANY ? list : list.filter((r) => r.type === qtype);
}

/**
 * The answer to one query. `zone` undefined means the Service caches have not synced yet: names inside
 * the domain get SERVFAIL (the client retries) instead of a wrong NXDOMAIN.
 */
export function answer(query: DnsMessage, zone: Zone | undefined, domain: string): Answer {
  if (query.flags.opcode !== 0) return { kind: 'reply', message: reply(query, RCode.NOTIMP) };
  const q = query.questions[0];
  if (query.questions.length !== 1 || q === undefined)
    return { kind: 'reply', message: reply(query, RCode.FORMERR) };
  const name = normalizeName(q.name);
  const ours = inDomain(name, domain);
  if (!ours) {
    const local = zone?.records.get(name);
    if (zone !== undefined && local !== undefined && /\.(in-addr|ip6)\.arpa$/.test(name)) {
      const msg = reply(query, RCode.NOERROR, true);
      msg.answers = matching(local, q.type).map((r) => ({ ...r, name: q.name }));
      if (msg.answers.length === 0) msg.authorities = [zone.soa];
      return { kind: 'reply', message: msg };
    }
    return { kind: 'forward' };
  }
  if (zone === undefined) return { kind: 'reply', message: reply(query, RCode.SERVFAIL) };
  if (q.type === RRType.AXFR || q.type === RRType.IXFR)
    return { kind: 'reply', message: reply(query, RCode.REFUSED) };

  const msg = reply(query, RCode.NOERROR, true);
  const nodata = (): Answer => {
    msg.authorities = [zone.soa];
    return { kind: 'reply', message: msg };
  };
  if (name === zone.domain) {
    if (q.type === RRType.SOA || q.type === RRType.ANY) msg.answers = [{ ...zone.soa, name: q.name }];
    return msg.answers.length > 0 ? { kind: 'reply', message: msg } : nodata();
  }

  const relative = name.slice(0, -(zone.domain.length + 1));
  const pod = podName.exec(relative);
  if (pod?.[1] !== undefined) {
    const ip = pod[1].replace(/-/g, '.');
    if (isIpv4(ip)) {
      if (q.type === RRType.A || q.type === RRType.ANY)
        msg.answers = [
          { name: q.name, type: RRType.A, class: ClassIN, ttl: zone.ttl, data: { kind: 'a', address: ip } },
        ];
      return msg.answers.length > 0 ? { kind: 'reply', message: msg } : nodata();
    }
  }

  const records = zone.records.get(name);
  if (records === undefined) {
    if (zone.names.has(name)) return nodata();
    msg.flags.rcode = RCode.NXDOMAIN;
    msg.authorities = [zone.soa];
    return { kind: 'reply', message: msg };
  }
  const cname = records.find((r) => r.type === RRType.CNAME);
  if (cname !== undefined && q.type !== RRType.CNAME && q.type !== RRType.ANY) {
    msg.answers = [{ ...cname, name: q.name }];
    const target = cname.data.kind === 'name' ? normalizeName(cname.data.name) : '';
    if (inDomain(target, zone.domain)) {
      // An ExternalName pointing into the cluster: the target's records come along.
      msg.answers.push(...matching(zone.records.get(target) ?? [], q.type));
      return { kind: 'reply', message: msg };
    }
    return { kind: 'reply', message: msg, chase: target };
  }
  msg.answers = matching(records, q.type).map((r) => ({ ...r, name: q.name }));
  if (msg.answers.length === 0) return nodata();
  // SRV targets' addresses, so the client needs no second query.
  const targets = new Set<string>();
  const extra: ResourceRecord[] = [];
  for (const r of msg.answers) {
    if (r.data.kind !== 'srv') continue;
    const t = normalizeName(r.data.target);
    if (targets.has(t)) continue;
    targets.add(t);
    for (const a of zone.records.get(t) ?? [])
      if (a.type === RRType.A || a.type === RRType.AAAA) extra.push(a);
  }
  // The OPT record, if any, stays last.
  msg.additionals = [...extra, ...msg.additionals];
  return { kind: 'reply', message: msg };
}
